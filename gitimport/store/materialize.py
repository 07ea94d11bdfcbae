"""Writing ``commit:path`` from a git object store into the cache, verified.

Every object read on the way is re-hashed and compared with the id that named
it: the commit, each tree from the commit's root down to PATH, every tree and
blob below it.  So the files written are exactly the tree that the commit id
names, and the SHA-256 ``digest`` computed over them is compared with the
lock's, which also catches content that collides under SHA-1.  A tree is built
in a temporary folder and renamed into the cache only when all of this holds;
on any failure nothing is left behind.  Nothing fetched is ever executed here:
Python files are compiled, not imported.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from ..errors import IntegrityError, PathNotFoundError, UnsafeTreeError
from . import layout
from .bytecode import compile_tree
from .cache import Cache, TreeLocation, keep_in_store, link_from_store
from .objects import MODE_GITLINK, MODE_LINK, MODE_TREE, ObjectStore, commit_tree, read_object, tree_entries
from .verify import dirhash


@dataclass(frozen=True)
class Root:
    """What PATH means for module NAME in one commit (docs/configuration.md#path, rules 1-4)."""

    path: str
    kind: str
    object: str
    mode: int


@dataclass(frozen=True)
class Limits:
    """Sizes a materialized tree may not exceed (config ``max-file-size``, ``max-tree-size``)."""

    max_file_size: int
    max_tree_size: int


@dataclass
class Materialized:
    """A tree written into the cache, with what the lock records about it."""

    root: Root
    digest: str
    location: TreeLocation
    notes: list[str] = field(default_factory=list)


def find_root(store: ObjectStore, commit_id: str, path: str, name: str) -> Root:
    """Apply the PATH rules (docs/configuration.md#path) to find what module ``name`` imports.

    Raises:
      PathNotFoundError: PATH is not in the commit, or it holds nothing importable.
      UnsafeTreeError: PATH lies inside a submodule.
    """
    leaf = name.rsplit(".", 1)[-1]
    object_id, mode = commit_tree(store, commit_id), MODE_TREE
    walked: list[str] = []
    for part in path.split("/") if path else []:
        if mode == MODE_GITLINK:
            break
        if mode != MODE_TREE:
            raise PathNotFoundError(
                f"PATH {path!r} goes through {'/'.join(walked)!r}, which is a file in commit {commit_id[:12]}.",
                "check the PATH after ':' in the spec",
            )
        entries = {n: (m, s) for n, m, s in tree_entries(store, object_id)}
        if part not in entries:
            where = "/".join(walked) or "the repository root"
            close = difflib.get_close_matches(part, list(entries), n=3)
            hint = (
                f"did you mean {', '.join(repr('/'.join([*walked, c])) for c in close)}?"
                if close
                else f"{where} holds: {', '.join(sorted(entries)[:12]) or 'nothing'}"
            )
            raise PathNotFoundError(f"PATH {path!r} is not in commit {commit_id[:12]}: {where} has no {part!r}.", hint)
        walked.append(part)
        mode, object_id = entries[part]
    if mode == MODE_GITLINK:
        raise UnsafeTreeError(
            f"PATH {path!r} lies inside a git submodule ({'/'.join(walked)!r}) in commit {commit_id[:12]}.",
            "submodules are not followed: point a spec at the submodule's own repository",
        )
    if mode != MODE_TREE:
        if path.endswith(".py") and mode != MODE_LINK:
            return Root(path, "module", object_id, mode)
        raise PathNotFoundError(f"PATH {path!r} is a file but not a .py module.", "point PATH at a .py file or a folder")
    return _root_in_folder(store, path, object_id, leaf)


def _root_in_folder(store: ObjectStore, path: str, tree_id: str, leaf: str) -> Root:
    entries = {n: (m, s) for n, m, s in tree_entries(store, tree_id)}
    if path and _is_file(entries.get("__init__.py")):
        return Root(path, "package", tree_id, MODE_TREE)
    sub_path = posixpath.join(path, leaf) if path else leaf
    sub_kind = _folder_kind(store, entries.get(leaf))
    if sub_kind == "package":  # Python's own order: a package folder, then a module file, then a namespace folder
        return Root(sub_path, "package", entries[leaf][1], MODE_TREE)
    if _is_file(entries.get(f"{leaf}.py")):
        joined = posixpath.join(path, f"{leaf}.py") if path else f"{leaf}.py"
        return Root(joined, "module", entries[f"{leaf}.py"][1], entries[f"{leaf}.py"][0])
    if sub_kind == "namespace":
        return Root(sub_path, "namespace", entries[leaf][1], MODE_TREE)
    if path:
        return Root(path, "namespace", tree_id, MODE_TREE)
    raise PathNotFoundError(
        f"The repository root holds neither {leaf}.py nor a folder {leaf}/.",
        "add ':PATH' to the spec to name the file or folder to import",
    )


def _folder_kind(store: ObjectStore, entry: tuple[int, str] | None) -> str | None:
    """ "package" for a folder with ``__init__.py``, "namespace" for another folder, else None."""
    if entry is None or entry[0] != MODE_TREE:
        return None
    names = {n: m for n, m, _ in tree_entries(store, entry[1])}
    return "package" if names.get("__init__.py", 0) & 0o170000 == 0o100000 else "namespace"


def _is_file(entry: tuple[int, str] | None) -> bool:
    return entry is not None and entry[0] & 0o170000 == 0o100000


def materialize(
    store: ObjectStore,
    cache: Cache,
    root: Root,
    root_name: str,
    limits: Limits,
    expected_digest: str | None = None,
) -> Materialized:
    """Write a verified root into the cache (or find it already there).

    Raises:
      IntegrityError: an object that does not hash to its id, or a digest
        different from ``expected_digest`` (the lock's).
      UnsafeTreeError: a name or symlink that would escape the tree, or a
        file or tree over the size limits.
    """
    location = cache.tree(root.object, root_name)
    build = cache.new_build_dir()
    try:
        staged = build / root_name
        hashes: dict[str, str] = {}
        notes: list[str] = []
        if root.mode == MODE_TREE:
            staged.mkdir()
            total = 0
            for relative, mode, object_id in _walk(store, root.object, "", notes):
                total += _write_entry(store, staged, relative, mode, object_id, hashes, limits, cache.root / layout.BLOBS)
                if total > limits.max_tree_size:
                    raise UnsafeTreeError(
                        f"{root.path or 'The repository root'} is larger than max-tree-size ({_size(limits.max_tree_size)}).",
                        "raise max-tree-size in the config if this tree is expected to be this large",
                    )
        else:
            _write_entry(store, build, root_name, root.mode, root.object, hashes, limits, cache.root / layout.BLOBS)
            hashes = {root_name: hashes[root_name]}
        digest = dirhash(hashes)
        if expected_digest is not None and digest != expected_digest:
            raise IntegrityError(
                f"Content of {root.path or '/'} ({root.object[:12]}) has digest {digest}, but the lock says {expected_digest}.",
                "the server sent content that differs from what was locked; do not trust it, and check the repository and the lock",
            )
        atomic.write_json(build / layout.bytecode_record_name(), compile_tree(build, store=cache.root))
        atomic.write_json(
            build / layout.MANIFEST, {"object": root.object, "kind": root.kind, "root": root_name, "digest": digest, "files": hashes}
        )
        atomic.publish_folder(build, location.entry)
    finally:
        if build.exists():
            atomic.remove(build)
    return Materialized(root=root, digest=digest, location=location, notes=notes)


def _walk(store: ObjectStore, tree_id: str, prefix: str, notes: list[str]) -> Iterator[tuple[str, int, str]]:
    """Yield (relative path, mode, id) for every entry below a tree, verified and safe."""
    seen_folded: dict[str, str] = {}
    for name, mode, object_id in tree_entries(store, tree_id):
        relative = f"{prefix}{name}"
        _check_name(name, relative)
        folded = name.casefold()
        if folded in seen_folded:
            raise UnsafeTreeError(
                f"{prefix}{seen_folded[folded]!s} and {relative} differ only in case.",
                "they would collide on a case-insensitive file system; rename one in the repository",
            )
        seen_folded[folded] = name
        if mode == MODE_GITLINK:
            notes.append(f"submodule {relative} ({object_id[:12]}) is not followed")
            continue
        if name == "__pycache__" or name.endswith((".pyc", ".pyo")):
            notes.append(f"{relative} is bytecode committed to the repository: not taken")
            continue
        yield relative, mode, object_id
        if mode == MODE_TREE:
            yield from _walk(store, object_id, relative + "/", notes)


def _check_name(name: str, relative: str) -> None:
    if name in ("", ".", "..", ".git") or "/" in name or "\\" in name or "\x00" in name or name.casefold() == ".git":
        raise UnsafeTreeError(f"The tree holds an unsafe entry name {relative!r}.", "refusing to write names that could escape the tree")


def _write_entry(
    store: ObjectStore,
    base: Path,
    relative: str,
    mode: int,
    object_id: str,
    hashes: dict[str, str],
    limits: Limits,
    blob_store: Path | None = None,
) -> int:
    """Write one verified entry (a hard link to the blob store when possible); return its size."""
    target = base / relative
    if mode == MODE_TREE:
        target.mkdir()
        return 0
    stored = blob_store / f"{object_id[:2]}/{object_id}-{'755' if mode & 0o111 else '644'}" if blob_store else None
    data = _stored_blob(stored, object_id) if stored is not None and mode != MODE_LINK else None
    from_store = data is not None
    if data is None:
        data = read_object(store, object_id, b"blob")
    if len(data) > limits.max_file_size:
        raise UnsafeTreeError(
            f"{relative} is {_size(len(data))}, larger than max-file-size ({_size(limits.max_file_size)}).",
            "raise max-file-size in the config if this file is expected",
        )
    if mode == MODE_LINK:
        link = data.decode("utf-8", "surrogateescape")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relative), link))
        if link.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise UnsafeTreeError(
                f"Symlink {relative!r} points outside the imported tree ({link!r}).", "refusing to follow links out of the tree"
            )
        os.symlink(link, target)
    elif not (from_store and stored is not None and link_from_store(stored, target)):
        with open(target, "xb") as handle:
            handle.write(data)
        os.chmod(target, 0o555 if mode & 0o111 else 0o444)
        if stored is not None:
            keep_in_store(target, stored)
    hashes[relative] = hashlib.sha256(data).hexdigest()
    return len(data)


def _stored_blob(stored: Path, object_id: str) -> bytes | None:
    """A stored copy of a blob, only if it still hashes to its git id (else it is not used)."""
    try:
        data = stored.read_bytes()
    except OSError:
        return None
    actual = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
    return data if actual == object_id else None


def _size(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB" if size >= 1024**2 else f"{size} bytes"
