"""A cold sync fetches the trees on the way to PATH, not every tree of the commit (docs/how-it-works.md#partial-fetch).

Where the server filters in protocol v2, the commit comes with the trees down
to PATH's own tree only (``filter combine:tree:<depth>+blob:none``), then the
trees and blobs below the imported root by id: what a sync costs follows
PATH, not the repository.  A tree a reader needs off that way (a second PATH
of the same commit, a deeper one) is fetched when it is read.  A server that
refuses the tree filter gets the fetch with every tree, as before.  The
assertions look into the cache's bare repository to see which trees arrived.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from dulwich.objects import Commit, Tree
from dulwich.repo import Repo
from support.project import Project, ok
from support.repos import FixtureSet, add_commit, set_tag
from support.servers import Server

from gitimport.store import layout

Serve = Callable[..., Server]  # the ``serve`` fixture
PATH = "libs/target/src/pkg"
OTHERS = 4  # sibling projects, each with trees deeper than PATH


def monorepo(fixtures: FixtureSet) -> str:
    """Turn the toolbox copy into a small monorepo: ``pkg`` at :data:`PATH`, sibling projects and docs; tag ``mono``."""
    files: dict[str, bytes | None] = {
        "libs/target/pyproject.toml": b'[project]\nname = "target"\nversion = "2.0.0"\n',
        f"{PATH}/__init__.py": b"from .sub.mod import VALUE\n",
        f"{PATH}/sub/__init__.py": b"",
        f"{PATH}/sub/mod.py": b"VALUE = 1\n",
        "docs/guide/part/one/two/page.md": b"# one\n",
    }
    for number in range(OTHERS):
        name = f"other{number}"
        files[f"libs/{name}/src/{name}/__init__.py"] = f"NAME = {name!r}\n".encode()
        files[f"libs/{name}/src/{name}/deep/inner/mod.py"] = f"DEEP = {number}\n".encode()
    commit = add_commit(fixtures["toolbox"].path, files, "a monorepo")
    set_tag(fixtures["toolbox"].path, "mono", commit)
    return commit


def trees_of(repo: Repo, commit: str) -> dict[str, bytes]:
    """Every folder of ``commit`` in a repository that holds them all: path ("" for the root) -> tree id."""
    found: dict[str, bytes] = {}
    obj = repo.object_store[commit.encode()]
    assert isinstance(obj, Commit)
    pending = [("", obj.tree)]
    while pending:
        path, tree_id = pending.pop()
        found[path] = tree_id
        tree = repo.object_store[tree_id]
        assert isinstance(tree, Tree)
        pending += [(f"{path}/{e.path.decode()}".lstrip("/"), e.sha) for e in tree.iteritems() if e.mode == 0o040000]
    return found


def cached_trees(project: Project, source: Path, commit: str) -> set[str]:
    """The folders of ``commit`` whose tree the cache's bare repository holds."""
    with Repo(str(source)) as repo:
        trees = trees_of(repo, commit)
    (repo_dir,) = (project.cache / layout.REPOS).iterdir()
    with Repo(str(repo_dir)) as cached:
        return {path for path, tree in trees.items() if tree in cached.object_store}


def all_trees(source: Path, commit: str) -> set[str]:
    with Repo(str(source)) as repo:
        return set(trees_of(repo, commit))


def near(paths: set[str], depth: int) -> set[str]:
    """The folders fewer than ``depth`` levels below the root."""
    return {p for p in paths if (p.count("/") + 1 if p else 0) < depth}


def fetch_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("fetch: ")]


@pytest.mark.parametrize("kind", ["git-http-backend", "git-daemon"])
def test_a_cold_sync_fetches_the_trees_on_the_way_to_path_and_below_it_only(
    project: Project, mutable_repos: FixtureSet, serve: Serve, kind: str
) -> None:
    commit = monorepo(mutable_repos)
    server = serve(kind, mutable_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"pkg": f"{url}@mono:{PATH}"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert fetch_lines(result.out) == [
        f"fetch: {url}: commits and the trees near the root, filter combine:tree:5+blob:none; "
        "then the blobs, by id (3 wants), filter blob:limit=104857601"  # the tree of pkg, whole, and the two pyproject.toml on the way
    ]
    assert server.fetches("toolbox") == 2
    everything = all_trees(mutable_repos["toolbox"].path, commit)
    below_path = {p for p in everything if p.startswith(f"{PATH}/")}
    assert cached_trees(project, mutable_repos["toolbox"].path, commit) == near(everything, 5) | below_path
    assert {"libs/other0/src/other0/deep", "docs/guide/part/one/two"} <= everything - near(everything, 5)  # left out
    code = "import pkg, importlib.metadata as m; print(pkg.VALUE, m.version('target'))"
    assert ok(project.python(code)) == "1 2.0.0\n"


@pytest.mark.parametrize(
    "refusal",
    [{"uploadpackfilter.tree.maxDepth": "0"}, {"uploadpackfilter.combine.allow": "false"}],
    ids=["tree depth", "combine"],
)
def test_a_server_that_refuses_the_tree_filter_gets_the_fetch_with_every_tree(
    project: Project, mutable_repos: FixtureSet, serve: Serve, refusal: dict[str, str]
) -> None:
    commit = monorepo(mutable_repos)
    server = serve("git-http-backend", mutable_repos.root, git_config=refusal)
    url = server.repo_url("toolbox")
    project.configure({"pkg": f"{url}@mono:{PATH}"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    (line,) = fetch_lines(result.out)
    assert line.startswith(f"fetch: {url}: commits and trees, filter blob:none (filter combine:tree:5+blob:none refused or failed: ")
    assert server.fetches("toolbox") == 3  # refused at once, not retried; then every tree; then the blobs
    assert cached_trees(project, mutable_repos["toolbox"].path, commit) == all_trees(mutable_repos["toolbox"].path, commit)
    assert ok(project.python("import pkg; print(pkg.VALUE)")) == "1\n"


def test_a_second_path_of_the_same_commit_fetches_the_trees_it_misses(project: Project, mutable_repos: FixtureSet, serve: Serve) -> None:
    commit = monorepo(mutable_repos)
    server = serve("git-http-backend", mutable_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"pkg": f"{url}@mono:{PATH}"})
    assert project.cli("sync", "-q").code == 0
    server.clear()

    project.configure(
        {
            "pkg": f"{url}@mono:{PATH}",
            "other1": f"{url}@mono:libs/other1/src/other1",
            "inner": f"{url}@mono:libs/other2/src/other2/deep/inner",
        }
    )
    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert "damaged" not in result.err
    # the tree deep/ on the way to the second new PATH (with the trees below it); then the blobs of both
    assert server.fetches("toolbox") == 2
    held = cached_trees(project, mutable_repos["toolbox"].path, commit)
    assert {"libs/other1/src/other1/deep/inner", "libs/other2/src/other2/deep/inner"} <= held
    assert "libs/other3/src/other3/deep" not in held
    code = "import pkg, other1, inner.mod; print(pkg.VALUE, other1.NAME, inner.mod.DEEP)"
    assert ok(project.python(code)) == "1 other1 2\n"


def test_an_upgrade_offers_the_cached_commit_and_fetches_what_changed(project: Project, mutable_repos: FixtureSet, serve: Serve) -> None:
    monorepo(mutable_repos)
    server = serve("git-http-backend", mutable_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"pkg": f"{url}@main:{PATH}"})
    assert project.cli("sync", "-q").code == 0
    newer = add_commit(
        mutable_repos["toolbox"].path, {f"{PATH}/sub/mod.py": b"VALUE = 2\n", "libs/other0/src/other0/deep/inner/mod.py": b""}, "v2"
    )
    server.clear()

    result = project.cli("sync", "--upgrade", "-v")

    assert result.code == 0, result.err
    assert "damaged" not in result.err
    assert ok(project.python("import pkg; print(pkg.VALUE)")) == "2\n"
    assert newer in project.lock_path.read_text(encoding="utf-8")
    assert cached_trees(project, mutable_repos["toolbox"].path, newer) >= {f"{PATH}/sub", "libs/target/src"}


def test_a_sparse_cache_verifies_repairs_and_survives_gc(project: Project, mutable_repos: FixtureSet, serve: Serve) -> None:
    monorepo(mutable_repos)
    server = serve("git-http-backend", mutable_repos.root)
    project.configure({"pkg": f"{server.repo_url('toolbox')}@mono:{PATH}"})
    assert project.cli("sync", "-q").code == 0
    repo_dir = next((project.cache / layout.REPOS).iterdir())

    verified = project.cli("verify")
    repaired = project.cli("sync", "--repair")
    collected = project.cli("gc")

    assert verified.code == 0, verified.err
    assert repaired.code == 0 and "repairing" not in repaired.err, repaired.err  # trees off the way are missing on purpose
    assert collected.code == 0, collected.err
    assert repo_dir.is_dir()
    assert project.cli("sync", "--offline", "-q").code == 0
    assert ok(project.python("import pkg; print(pkg.VALUE)")) == "1\n"


def test_a_local_repository_is_read_whole(project: Project, mutable_repos: FixtureSet) -> None:
    commit = monorepo(mutable_repos)
    source = mutable_repos["toolbox"].path
    project.configure({"pkg": f"file://{source}@mono:{PATH}"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert fetch_lines(result.out) == [f"fetch: file://{source}: whole commits, read from the local repository"]
    assert cached_trees(project, source, commit) == all_trees(source, commit)
    assert ok(project.python("import pkg; print(pkg.VALUE)")) == "1\n"
