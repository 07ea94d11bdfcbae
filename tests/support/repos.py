"""Build real git repositories from the material in ``fixtures/`` (dulwich only).

Tests need repositories whose commit ids are the same on every run and every
machine, and the git CLI may be absent, so everything here writes objects with
dulwich and fixed identities and timestamps. The format of ``fixtures/`` is
described in ``fixtures/README.md``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dulwich.index import commit_tree
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python < 3.11
    import tomli as tomllib

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"

IDENTITY = b"Fixture <fixture@example.com>"
BASE_TIME = 1_700_000_000
"""Commit time of the first commit; each later commit is one step later."""
TIME_STEP = 60

MODE_FILE = 0o100644
MODE_EXEC = 0o100755
MODE_LINK = 0o120000

# path -> (mode, blob content); a symlink's content is its target.
Entries = dict[str, tuple[int, bytes]]


@dataclass
class FixtureRepo:
    """What a test needs to know about a built repository."""

    path: Path
    commits: list[str]
    """Commit ids (hex) in repo.toml order."""
    tags: dict[str, str]
    """Every tag name -> the commit id it peels to."""
    tag_objects: dict[str, str]
    """Annotated tag name -> tag object id."""
    branches: dict[str, str]
    """Branch name -> tip commit id."""
    by_tree: dict[str, str] = field(default_factory=dict)
    """repo.toml ``tree`` name -> commit id, e.g. ``by_tree["dev"]``."""
    name: str = ""

    def relocated(self, path: Path) -> FixtureRepo:
        """The same repository description for a copy at ``path``."""
        return replace(self, path=path)


@dataclass
class FixtureSet:
    """All fixture repositories built side by side under one root folder."""

    root: Path
    repos: dict[str, FixtureRepo]

    def __getitem__(self, name: str) -> FixtureRepo:
        return self.repos[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.repos)

    def copy_to(self, dest: Path) -> FixtureSet:
        """Copy every repository to ``dest`` so a test may change them."""
        shutil.copytree(self.root, dest, symlinks=True)
        repos = {name: repo.relocated(dest / repo.path.relative_to(self.root)) for name, repo in self.repos.items()}
        return FixtureSet(root=dest, repos=repos)


def fixture_names(fixtures_dir: Path = FIXTURES_DIR) -> list[str]:
    """Names of all fixture repositories (folders holding a repo.toml)."""
    return sorted(p.parent.name for p in fixtures_dir.glob("*/repo.toml"))


def build_all_fixture_repos(root: Path, fixtures_dir: Path = FIXTURES_DIR) -> FixtureSet:
    """Build every fixture repository as a bare repo ``root/<name>``."""
    root.mkdir(parents=True, exist_ok=True)
    repos = {name: build_fixture_repo(name, root / name, fixtures_dir=fixtures_dir) for name in fixture_names(fixtures_dir)}
    return FixtureSet(root=root, repos=repos)


def build_fixture_repo(
    name: str,
    dest: Path,
    *,
    bare: bool = True,
    fixtures_dir: Path = FIXTURES_DIR,
) -> FixtureRepo:
    """Create the repository described by ``fixtures_dir/<name>/repo.toml`` at ``dest``.

    With ``bare=False`` the result has a working tree checked out at main.
    """
    source = fixtures_dir / name
    spec = _load_spec(source / "repo.toml")
    repo = _init_repo(dest, bare)
    try:
        result = FixtureRepo(path=dest, commits=[], tags={}, tag_objects={}, branches={}, name=name)
        resolved: dict[str, Entries] = {}
        for index, commit_spec in enumerate(spec["commit"]):
            _build_commit(repo, source, spec, commit_spec, index, resolved, result)
        if not bare:
            repo.get_worktree().reset_index()
        return result
    finally:
        repo.close()


def _load_spec(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        spec: dict[str, Any] = tomllib.load(f)
    if not spec.get("commit"):
        raise ValueError(f"{path}: no [[commit]] entries")
    return spec


def _init_repo(dest: Path, bare: bool) -> Repo:
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    if bare:
        return Repo.init_bare(str(dest), default_branch=b"main")
    return Repo.init(str(dest), default_branch=b"main")


def _build_commit(
    repo: Repo,
    source: Path,
    spec: Mapping[str, Any],
    commit_spec: Mapping[str, Any],
    index: int,
    resolved: dict[str, Entries],
    result: FixtureRepo,
) -> None:
    """Write one [[commit]] entry and record it in ``resolved`` and ``result``."""
    tree_name = commit_spec["tree"]
    if tree_name in resolved:
        raise ValueError(f"{source.name}: tree {tree_name!r} used twice")
    entries = _resolve_entries(source, spec, commit_spec, resolved)
    resolved[tree_name] = entries

    branch = commit_spec.get("branch", "main")
    parent = _branch_tip(repo, branch) or _branch_tip(repo, commit_spec.get("parent_branch", "main"))
    commit_id = _write_commit(
        repo,
        entries,
        commit_spec["message"],
        parents=[parent] if parent else [],
        timestamp=BASE_TIME + index * TIME_STEP,
    )
    repo.refs[_branch_ref(branch)] = _oid(commit_id)

    result.commits.append(commit_id)
    result.by_tree[tree_name] = commit_id
    result.branches[branch] = commit_id
    for tag in commit_spec.get("tags", []):
        result.tags[tag] = _set_tag(repo, tag, commit_id, annotated=False)
    for tag in commit_spec.get("annotated_tags", []):
        result.tag_objects[tag] = _set_tag(repo, tag, commit_id, annotated=True)
        result.tags[tag] = commit_id


def _resolve_entries(
    source: Path,
    spec: Mapping[str, Any],
    commit_spec: Mapping[str, Any],
    resolved: Mapping[str, Entries],
) -> Entries:
    """The complete file set of one commit: base, overlay, symlinks, modes, deletes."""
    entries: Entries = {}
    base = commit_spec.get("base")
    if base is not None:
        if base not in resolved:
            raise ValueError(f"{source.name}: base {base!r} is not an earlier commit")
        entries.update(resolved[base])
    folder = source / commit_spec["tree"]
    if folder.is_dir():
        entries.update(_read_folder(folder))
    elif base is None:
        raise FileNotFoundError(f"{folder} missing (only allowed with base)")

    links = dict(spec.get("symlinks", {}))
    links.update(commit_spec.get("symlinks", {}))
    for path, target in links.items():
        entries[path] = (MODE_LINK, target.encode("utf-8"))

    for path in list(spec.get("executable", [])) + list(commit_spec.get("executable", [])):
        if path not in entries:
            raise ValueError(f"{source.name}/{commit_spec['tree']}: no file {path!r}")
        entries[path] = (MODE_EXEC, entries[path][1])

    for path in commit_spec.get("delete", []):
        if entries.pop(path, None) is None:
            raise ValueError(f"{source.name}/{commit_spec['tree']}: cannot delete {path!r}")
    return entries


def _read_folder(folder: Path) -> Entries:
    """Regular files below ``folder``; modes come from repo.toml, not the disk."""
    entries: Entries = {}
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        entries[rel] = (MODE_FILE, path.read_bytes())
    return entries


def _write_commit(
    repo: Repo,
    entries: Entries,
    message: str,
    *,
    parents: list[str],
    timestamp: int,
) -> str:
    """Store blobs, trees and a commit with the fixed fixture identity."""
    store = repo.object_store
    blobs = []
    for path, (mode, content) in sorted(entries.items()):
        blob = Blob.from_string(content)
        store.add_object(blob)
        blobs.append((path.encode("utf-8"), blob.id, mode))
    commit = Commit()
    commit.tree = commit_tree(store, blobs)
    commit.parents = [_oid(p) for p in parents]
    commit.author = commit.committer = IDENTITY
    commit.author_time = commit.commit_time = timestamp
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode("utf-8") + (b"" if message.endswith("\n") else b"\n")
    store.add_object(commit)
    return commit.id.decode("ascii")


def _oid(hex_id: str) -> ObjectID:
    return ObjectID(hex_id.encode("ascii"))


def _ref(name: str) -> Ref:
    return Ref(name.encode("utf-8"))


def _branch_ref(branch: str) -> Ref:
    return _ref(f"refs/heads/{branch}")


def _branch_tip(repo: Repo, branch: str) -> str | None:
    ref = _branch_ref(branch)
    if ref not in repo.refs:
        return None
    return repo.refs[ref].decode("ascii")


def _commit(repo: Repo, commit_id: str) -> Commit:
    commit = repo[_oid(commit_id)]
    if not isinstance(commit, Commit):
        raise TypeError(f"{commit_id} is a {commit.type_name.decode()}, not a commit")
    return commit


def _tree_entries(repo: Repo, commit_id: str) -> Entries:
    """Flatten a commit's tree back into the ``Entries`` form."""
    commit = _commit(repo, commit_id)
    entries: Entries = {}
    for item in iter_tree_contents(repo.object_store, commit.tree):
        entries[item.path.decode("utf-8")] = (item.mode, repo[item.sha].as_raw_string())
    return entries


def add_commit(
    repo_path: Path,
    files: Mapping[str, bytes | None],
    message: str,
    branch: str = "main",
) -> str:
    """Commit ``files`` on top of ``branch`` (``None`` deletes a path); return its id.

    Unchanged paths keep their content and mode; new files get mode 100644.
    A branch that does not exist yet starts from main's tip. The timestamp is
    the parent's plus one step, so repeated runs give the same ids.
    """
    with Repo(str(repo_path)) as repo:
        parent = _branch_tip(repo, branch) or _branch_tip(repo, "main")
        entries = _tree_entries(repo, parent) if parent else {}
        for path, content in files.items():
            if content is None:
                if entries.pop(path, None) is None:
                    raise KeyError(f"cannot delete missing file {path!r}")
            else:
                mode = entries.get(path, (MODE_FILE, b""))[0]
                entries[path] = (mode, content)
        timestamp = _commit(repo, parent).commit_time + TIME_STEP if parent else BASE_TIME
        commit_id = _write_commit(repo, entries, message, parents=[parent] if parent else [], timestamp=timestamp)
        repo.refs[_branch_ref(branch)] = _oid(commit_id)
        _refresh_worktree(repo, branch)
        return commit_id


def _refresh_worktree(repo: Repo, branch: str) -> None:
    """Keep a non-bare repo's checkout in step when its current branch moved."""
    if repo.bare:
        return
    head = repo.refs.get_symrefs().get(_ref("HEAD"))
    if head == _branch_ref(branch):
        repo.get_worktree().reset_index()


def set_tag(repo_path: Path, name: str, commit_hex: str, annotated: bool = False) -> str:
    """Create or move tag ``name`` to ``commit_hex``; simulates a re-tagged release.

    Returns the id the ref points to: the tag object for an annotated tag,
    else the commit. An annotated tag's time is its commit's time.
    """
    with Repo(str(repo_path)) as repo:
        return _set_tag(repo, name, commit_hex, annotated=annotated)


def _set_tag(repo: Repo, name: str, commit_hex: str, *, annotated: bool) -> str:
    target = _oid(commit_hex)
    ref_value = target
    if annotated:
        tag = Tag()
        tag.name = name.encode("utf-8")
        tag.object = (Commit, target)
        tag.tagger = IDENTITY
        tag.tag_time = _commit(repo, commit_hex).commit_time
        tag.tag_timezone = 0
        tag.message = f"Release {name}\n".encode()
        repo.object_store.add_object(tag)
        ref_value = tag.id
    repo.refs[_ref(f"refs/tags/{name}")] = ref_value
    return ref_value.decode("ascii")


def set_branch(repo_path: Path, name: str, commit_hex: str) -> None:
    """Create or move branch ``name`` to ``commit_hex`` (e.g. a force-push)."""
    with Repo(str(repo_path)) as repo:
        repo.refs[_branch_ref(name)] = _oid(commit_hex)
        _refresh_worktree(repo, name)


def delete_ref(repo_path: Path, ref: str) -> None:
    """Remove a ref such as ``refs/tags/v1`` (a release that was withdrawn)."""
    with Repo(str(repo_path)) as repo:
        del repo.refs[_ref(ref)]


def tree_entries(repo_path: Path, commit_hex: str) -> dict[str, tuple[int, bytes]]:
    """Path -> (mode, content) of every blob in a commit; for assertions."""
    with Repo(str(repo_path)) as repo:
        return _tree_entries(repo, commit_hex)
