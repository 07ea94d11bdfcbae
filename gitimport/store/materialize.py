"""Writing ``commit:path`` from a git object store into the cache, verified.

Every object read on the way is re-hashed and compared with the id that named
it: the commit, each tree from the commit's root down to PATH, every tree and
blob below it.  So the files written are exactly the tree that the commit id
names, and the SHA-256 ``digest`` computed over them is compared with the
lock's, which also catches content that collides under SHA-1.  A tree is built
in a temporary folder and renamed into the cache only when all of this holds;
on any failure nothing is left behind.  Nothing fetched is ever executed or
compiled here: a tree is complete without bytecode, which each module's first
import writes (:mod:`gitimport.store.bytecode`).
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import os
import posixpath
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic
from ..errors import IntegrityError, PathNotFoundError, UnsafeTreeError
from . import layout
from .cache import Cache, TreeLocation, keep_in_store, link_from_store
from .objects import (
    MODE_GITLINK,
    MODE_LINK,
    MODE_TREE,
    STREAMED_BLOB_SIZE,
    ObjectStore,
    blob_chunks,
    commit_tree,
    git_hash,
    object_size,
    read_object,
    size_mismatch,
    tree_entries,
)
from .verify import dirhash

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore


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


def find_root(store: ObjectStore, commit_id: str, path: str, name: str, spec_text: str) -> Root:
    """Apply the PATH rules (docs/configuration.md#path) to find what module ``name`` imports.

    ``spec_text`` (the spec as the user wrote it, redacted) is quoted in the
    hint of a spec that lacks a PATH, so the line to write can be copied.

    Raises:
      PathNotFoundError: PATH is not in the commit, or it holds nothing importable.
      UnsafeTreeError: PATH lies inside a submodule.
    """
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
        if walked[-1] == "__init__.py" and len(walked) > 1:
            folder = "/".join(walked[:-1])
            raise PathNotFoundError(
                f"PATH {path!r} is the __init__.py of package {walked[-2]!r}: as a one-file module its relative imports fail.",
                f"name the folder instead: ':{folder}'",
            )
        if path.endswith(".py") and mode != MODE_LINK:
            return Root(path, "module", object_id, mode)
        raise PathNotFoundError(f"PATH {path!r} is a file but not a .py module.", "point PATH at a .py file or a folder")
    return _root_in_folder(store, path, object_id, name, spec_text)


def _root_in_folder(store: ObjectStore, path: str, tree_id: str, name: str, spec_text: str) -> Root:
    leaf = name.rsplit(".", 1)[-1]
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
    hint = _path_hint(store, entries, name, spec_text)
    raise PathNotFoundError(f"The repository root holds neither {leaf}.py nor a folder {leaf}/.", hint)


def _path_hint(store: ObjectStore, entries: dict[str, tuple[int, str]], name: str, spec_text: str) -> str:
    """The exact ':PATH' to add when ``name`` sits in a src layout, as a config line; else the generic hint."""
    candidates = _src_candidates(store, entries, name.rsplit(".", 1)[-1])
    if not candidates:
        return "add ':PATH' to the spec to name the file or folder to import"
    shown = " or ".join(f"':{c}'" for c in candidates)
    key = name if "." not in name else f'"{name}"'
    return f'add {shown} to the spec: `{key} = "{spec_text}:{candidates[0]}"`'


def _src_candidates(store: ObjectStore, entries: dict[str, tuple[int, str]], leaf: str, limit: int = 4) -> list[str]:
    """Where ``leaf`` (a folder or ``leaf.py``) sits in ``src/``, ``<folder>/`` or ``<folder>/src/``.

    Bounded so a wrong spec stays cheap: the root's ``src/`` and immediate
    subfolders, and their ``src/``, nothing deeper.
    """
    found: list[str] = []
    folders = [("src", entries["src"][1])] if _is_tree(entries.get("src")) else []
    for name, (mode, object_id) in sorted(entries.items()):
        if mode == MODE_TREE and name != "src" and not name.startswith("."):
            folders.append((name, object_id))
            inner = {n: (m, i) for n, m, i in tree_entries(store, object_id)}
            if _is_tree(inner.get("src")):
                folders.append((f"{name}/src", inner["src"][1]))
    for where, tree_id in folders:
        inner = {n: (m, i) for n, m, i in tree_entries(store, tree_id)}
        if _is_tree(inner.get(leaf)):
            found.append(f"{where}/{leaf}")
        elif _is_file(inner.get(f"{leaf}.py")):
            found.append(f"{where}/{leaf}.py")
        if len(found) == limit:
            break
    return found


def _is_tree(entry: tuple[int, str] | None) -> bool:
    return entry is not None and entry[0] == MODE_TREE


def _folder_kind(store: ObjectStore, entry: tuple[int, str] | None) -> str | None:
    """ "package" for a folder with ``__init__.py``, "namespace" for another folder, else None."""
    if entry is None or entry[0] != MODE_TREE:
        return None
    names = {n: m for n, m, _ in tree_entries(store, entry[1])}
    return "package" if names.get("__init__.py", 0) & 0o170000 == 0o100000 else "namespace"


def _is_file(entry: tuple[int, str] | None) -> bool:
    return entry is not None and entry[0] & 0o170000 == 0o100000


def materialize(
    store: DiskObjectStore,
    cache: Cache,
    root: Root,
    root_name: str,
    limits: Limits,
    expected_digest: str | None = None,
    generated: Mapping[str, bytes] | None = None,
) -> Materialized:
    """Write a verified root into the cache (or find it already there).

    Every entry is checked (names, sizes, where links lead) before the first
    file is written, so a refused tree costs neither disk nor memory.
    ``generated`` files (path below the root -> content, see
    :mod:`gitimport.store.generated`) are written with the tree, in place of
    a git file of the same path; the digest still covers the git files only
    (docs/lock-file.md#generated-files).

    Raises:
      IntegrityError: an object that does not hash to its id, or a digest
        different from ``expected_digest`` (the lock's).
      UnsafeTreeError: a name or symlink that would escape the tree, or a
        file or tree over the size limits.
    """
    generated = dict(generated or {})
    made = {path: hashlib.sha256(data).hexdigest() for path, data in sorted(generated.items())}  # what is written, hashed here
    location = cache.tree(root.object, root_name, {path: f"sha256:{sha}" for path, sha in made.items()})
    notes: list[str] = []
    if root.mode == MODE_TREE:
        entries = _checked_entries(store, root, limits, notes)
    else:
        entries = [_Entry(root_name, root.mode, root.object, _blob_size(store, root_name, root.object, limits))]
    _check_generated(generated, entries, root)
    build = cache.new_build_dir()
    try:
        base = build / root_name if root.mode == MODE_TREE else build
        if root.mode == MODE_TREE:
            base.mkdir()
        hashes: dict[str, str] = {}
        for entry in entries:
            _write_entry(store, base, entry, hashes, cache.root / layout.BLOBS, generated.pop(entry.path, None))
        for path, data in generated.items():
            _write_file(base / path, data, executable=False)
        digest = dirhash(hashes)
        if expected_digest is not None and digest != expected_digest:
            raise IntegrityError(
                f"Content of {root.path or '/'} ({root.object[:12]}) has digest {digest}, but the lock says {expected_digest}.",
                "the server sent content that differs from what was locked; do not trust it, and check the repository and the lock",
            )
        atomic.write_json(
            build / layout.MANIFEST,
            {"object": root.object, "kind": root.kind, "root": root_name, "digest": digest, "files": hashes, "generated": made},
        )
        atomic.publish_folder(build, location.entry)
    finally:
        if build.exists():
            atomic.remove(build)
    return Materialized(root, digest, location, notes)


def _check_generated(generated: Mapping[str, bytes], entries: list[_Entry], root: Root) -> None:
    """A generated file goes into a folder of the tree, as a new file or in place of a regular one."""
    modes = {entry.path: entry.mode for entry in entries}
    for path in generated:
        parts = path.split("/")
        for index, part in enumerate(parts):
            _check_name(part, "/".join(parts[: index + 1]))
        folder = "/".join(parts[:-1])
        mode = modes.get(path)
        if root.mode != MODE_TREE or (folder and modes.get(folder) != MODE_TREE) or (mode is not None and mode & 0o170000 != 0o100000):
            raise UnsafeTreeError(
                f"The generated file {path!r} would not be a regular file in a folder of {root.path or 'the tree'}.",
                "the project's version-file setting names a folder, a link or a path gitimport cannot write; check it in pyproject.toml",
            )


@dataclass(frozen=True)
class _Entry:
    """One entry to write: its path below the root, mode, id, size, and for a symlink its target."""

    path: str
    mode: int
    object: str
    size: int
    target: str = ""


def _checked_entries(store: DiskObjectStore, root: Root, limits: Limits, notes: list[str]) -> list[_Entry]:
    """Every entry below a tree root, refused if a name, a size or a link breaks the rules.

    Sizes come from object headers (:func:`object_size`), so nothing is
    inflated to be refused; links are checked once all entries are known,
    since a link may lead through entries that come after it.
    """
    entries: list[_Entry] = []
    total = 0
    for relative, mode, object_id in _walk(store, root.object, "", notes):
        size = 0 if mode == MODE_TREE else _blob_size(store, relative, object_id, limits)
        total += size
        if total > limits.max_tree_size:
            raise UnsafeTreeError(
                f"{root.path or 'The repository root'} is larger than max-tree-size ({size_text(limits.max_tree_size)}).",
                "raise max-tree-size in the config if this tree is expected to be this large",
            )
        target = _link_target(store, relative, object_id, size) if mode == MODE_LINK else ""
        entries.append(_Entry(relative, mode, object_id, size, target))
    _Links({entry.path: entry.mode for entry in entries}, {e.path: e.target for e in entries if e.mode == MODE_LINK}).check()
    return entries


def _blob_size(store: DiskObjectStore, relative: str, object_id: str, limits: Limits) -> int:
    size = object_size(store, object_id)
    if size > limits.max_file_size:
        raise UnsafeTreeError(
            f"{relative} is {size_text(size)}, larger than max-file-size ({size_text(limits.max_file_size)}).",
            "raise max-file-size in the config if this file is expected",
        )
    return size


def _walk(store: ObjectStore, tree_id: str, prefix: str, notes: list[str]) -> Iterator[tuple[str, int, str]]:
    """Yield (relative path, mode, id) for every entry below a tree, verified and safe."""
    seen_folded: dict[str, str] = {}
    for name, mode, object_id in tree_entries(store, tree_id):
        relative = f"{prefix}{name}"
        _check_name(name, relative)
        folded = _fold(name)
        if folded in seen_folded:
            raise UnsafeTreeError(
                f"{prefix}{seen_folded[folded]!s} and {relative} differ only in case or Unicode normalization.",
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


def _fold(name: str) -> str:
    """What a case-insensitive file system compares: macOS's also ignores Unicode normalization."""
    return unicodedata.normalize("NFC", name).casefold()


def _check_name(name: str, relative: str) -> None:
    """Refuse a name that could escape the tree, or that the digest could not hash unambiguously.

    The digest (docs/lock-file.md#the-digest) is one ``<sha256>  <path>\n``
    line per file, over UTF-8: a newline in a name could forge a second line,
    and a name that is not UTF-8 has no place in the order.  The other control
    characters (C0, DEL, C1) are refused with it: no honest file name holds
    one, and they would rewrite the terminal in every listing of the tree.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UnsafeTreeError(
            f"The tree holds an entry name that is not valid UTF-8 ('{shown}').",
            "gitimport hashes names as UTF-8 (docs/lock-file.md#the-digest); rename the entry in the repository",
        ) from None
    if (
        name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or name.casefold() == ".git"
        or any(character < " " or "\x7f" <= character <= "\x9f" for character in name)
    ):
        raise UnsafeTreeError(
            f"The tree holds an unsafe entry name {relative!r}.",
            "refusing names that could escape the tree or make its digest ambiguous (docs/lock-file.md#the-digest)",
        )


PATH_MAX = 4096
"""Linux's limit on a path, its final NUL included: symlink(2) refuses a longer target (ENAMETOOLONG)."""

MAX_LINKS = 40
"""Symlinks Linux follows in resolving one path (MAXSYMLINKS); the 41st fails with ELOOP."""


def _link_target(store: ObjectStore, relative: str, object_id: str, size: int) -> str:
    """A symlink's target as ``os.symlink`` takes it, refused when no file system could hold it."""
    data = b""
    if size >= PATH_MAX:  # refused from its header size, unread
        problem = f"a target of {size} bytes (PATH_MAX is {PATH_MAX})"
    else:
        data = read_object(store, object_id, b"blob")
        problem = "an empty target" if not data else "a NUL byte in its target" if b"\x00" in data else ""
    if problem:
        raise UnsafeTreeError(f"Symlink {relative!r} has {problem}.", "no file system can hold such a link; fix it in the repository")
    return data.decode("utf-8", "surrogateescape")


class _Links:
    """The symlinks of one tree, followed through the tree's own entries as the OS follows them.

    A target is read relative to its link's folder one component at a time,
    as POSIX path resolution does: a component that is a link is replaced by
    where that link leads, so a ``..`` after it climbs from the link's
    target, not from its name.  Reading targets as text misses that:
    ``l -> .`` and ``x -> l/../etc`` each look inside, but ``x`` leads out.
    A link is refused if its resolution leaves the imported root at any step
    or meets an absolute path, follows more links than the OS would, loops,
    or names a link in another case (which leads elsewhere on a
    case-insensitive file system).  A name the tree does not hold is taken as
    a folder (``__pycache__`` appears later, on import), so a dangling
    link is kept only if it stays inside too.  Each link is resolved once:
    where it leads does not depend on who follows it.
    """

    def __init__(self, modes: dict[str, int], targets: dict[str, str]) -> None:
        self._modes = modes
        self._targets = targets
        self._folded = {"/".join(map(_fold, path.split("/"))): path for path in modes}
        self._resolved: dict[str, tuple[list[str], list[str]]] = {}  # link -> where it leads, the links it goes through
        self._following: set[str] = set()
        self._origin = ""

    def check(self) -> None:
        for link in sorted(self._targets):
            self._origin = link
            self._follow(link, [])

    def _follow(self, link: str, trail: list[str]) -> list[str]:
        """Where ``link`` leads (folder names from the root); the links it goes through are added to ``trail``."""
        if link in self._resolved:
            leads, through = self._resolved[link]
            trail.extend(through)
            self._count(trail)
            return list(leads)
        if link in self._following:
            raise self._refused("loops", trail[:-1], "the OS cannot follow it (ELOOP); fix the links in the repository")
        self._following.add(link)
        start = len(trail)
        leads = self._resolve(link.split("/")[:-1], self._targets[link], trail)
        self._following.discard(link)
        self._resolved[link] = (leads, trail[start:])
        return list(leads)

    def _resolve(self, where: list[str], target: str, trail: list[str]) -> list[str]:
        outside = "links may lead only inside the imported tree, directly or through other links"
        if target.startswith("/"):
            raise self._refused("points outside the imported tree", trail, outside)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not where:
                    raise self._refused("points outside the imported tree", trail, outside)
                where = where[:-1]
                continue
            path = "/".join([*where, part])
            mode = self._modes.get(path)
            if mode == MODE_LINK:
                trail.append(path)
                self._count(trail)
                where = self._follow(path, trail)
                continue
            other = self._folded.get("/".join(map(_fold, path.split("/")))) if mode is None else None
            if other is not None:
                raise UnsafeTreeError(
                    f"Symlink {self._origin!r} names {path!r}, which the tree has only as {other!r}.",
                    "on a case-insensitive file system it would lead elsewhere; fix the link's case in the repository",
                )
            where = [*where, part]
        return where

    def _count(self, trail: list[str]) -> None:
        if 1 + len(trail) > MAX_LINKS:
            raise UnsafeTreeError(
                f"Symlink {self._origin!r} ({self._targets[self._origin]!r}) goes through more than {MAX_LINKS} links.",
                f"the OS stops after {MAX_LINKS} (ELOOP); shorten the chain of links in the repository",
            )

    def _refused(self, what: str, trail: list[str], hint: str) -> UnsafeTreeError:
        through = ", ".join(f"{link!r} -> {self._targets[link]!r}" for link in dict.fromkeys(trail))
        shown = f"{self._targets[self._origin]!r}" + (f", through {through}" if through else "")
        return UnsafeTreeError(f"Symlink {self._origin!r} {what} ({shown}).", hint)


def _write_entry(
    store: DiskObjectStore, base: Path, entry: _Entry, hashes: dict[str, str], blob_store: Path, replacement: bytes | None
) -> None:
    """Write one checked entry: a folder, a symlink, or a file (a hard link to the blob store when possible).

    A ``replacement`` (a generated file of the same path) is written in place
    of a file's content; ``hashes`` keeps the git content's hash either way.
    """
    target = base / entry.path
    try:
        if entry.mode == MODE_TREE:
            target.mkdir()
            return
        if entry.mode == MODE_LINK:
            os.symlink(entry.target, target)
            hashes[entry.path] = hashlib.sha256(entry.target.encode("utf-8", "surrogateescape")).hexdigest()
            return
        stored = blob_store / f"{entry.object[:2]}/{entry.object}-{'755' if entry.mode & 0o111 else '644'}"
        large = entry.size >= STREAMED_BLOB_SIZE
        digest = _write_large_file(store, target, entry, stored, replacement) if large else None
        if digest is None:
            digest = _write_small_file(store, target, entry, stored, replacement)
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        raise UnsafeTreeError(
            f"{entry.path} cannot be written: its name or path is too long for the file system.",
            "shorten it in the repository, or use a cache folder with a shorter path (GITIMPORT_CACHE_DIR)",
        ) from None
    hashes[entry.path] = digest


def _write_small_file(store: DiskObjectStore, target: Path, entry: _Entry, stored: Path, replacement: bytes | None) -> str:
    """Write a file read whole, from the blob store or the repository; return the SHA-256 of its git content."""
    data = _stored_blob(stored, entry)
    from_store = data is not None
    if data is None:
        data = read_object(store, entry.object, b"blob")
        if len(data) != entry.size:
            raise size_mismatch(entry.object, entry.size, len(data))
    if replacement is not None:
        _write_file(target, replacement, executable=bool(entry.mode & 0o111))
    elif not (from_store and link_from_store(stored, target)):
        _write_file(target, data, executable=bool(entry.mode & 0o111))
        keep_in_store(target, stored)
    return hashlib.sha256(data).hexdigest()


def _write_large_file(store: DiskObjectStore, target: Path, entry: _Entry, stored: Path, replacement: bytes | None) -> str | None:
    """Write a large file a chunk at a time, so memory does not grow with it; None if it must be read whole (a delta).

    A stored copy is linked if it still hashes to the blob's id; else the
    blob is inflated from the repository into ``target``, which is in the
    build folder: if the content turns out not to be the blob, the error
    leaves with the build folder, and nothing reaches the blob store.
    """
    executable = bool(entry.mode & 0o111)
    sound = _stored_blob_digest(stored, entry)
    if sound is not None and (replacement is not None or link_from_store(stored, target)):
        if replacement is not None:
            _write_file(target, replacement, executable)
        return sound
    chunks = blob_chunks(store, entry.object, entry.size)
    if chunks is None:
        return None
    digest = hashlib.sha256()
    if replacement is not None:  # the git content is still hashed (and so checked) for the digest
        for chunk in chunks:
            digest.update(chunk)
        _write_file(target, replacement, executable)
        return digest.hexdigest()
    with open(target, "xb") as handle:
        for chunk in chunks:
            digest.update(chunk)
            handle.write(chunk)
    os.chmod(target, 0o555 if executable else 0o444)
    keep_in_store(target, stored)
    return digest.hexdigest()


def _write_file(target: Path, data: bytes, executable: bool) -> None:
    with open(target, "xb") as handle:
        handle.write(data)
    os.chmod(target, 0o555 if executable else 0o444)


def _stored_blob(stored: Path, entry: _Entry) -> bytes | None:
    """A stored copy of a blob, only if it still hashes to its git id (else it is not used)."""
    try:
        with open(stored, "rb") as handle:
            data = handle.read(entry.size + 1)  # no more than the blob can hold, whatever the store now says
    except OSError:
        return None
    return data if git_hash(b"blob", data) == entry.object else None


def _stored_blob_digest(stored: Path, entry: _Entry) -> str | None:
    """The SHA-256 of a stored copy of a large blob, read a chunk at a time, only if it still hashes to its git id."""
    git, sha256, size = hashlib.sha1(b"blob %d\x00" % entry.size), hashlib.sha256(), 0
    try:
        with open(stored, "rb") as handle:
            while size <= entry.size:
                chunk = handle.read(1024 * 1024)
                if not chunk:
                    break
                git.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
    except OSError:
        return None
    return sha256.hexdigest() if size == entry.size and git.hexdigest() == entry.object else None


def size_text(size: int) -> str:
    """A size as messages about limits write it."""
    return f"{size / 1024**2:.1f} MiB" if size >= 1024**2 else f"{size} bytes"
