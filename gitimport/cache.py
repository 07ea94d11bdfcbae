"""The content-addressed cache on disk (DESIGN §5), without any git machinery.

Layout under the cache dir (the ``-v1`` suffixes version the layout, so a
later layout never misreads this one)::

    repos-v1/<key>/                    bare repositories, one per normalized URL
    trees-v1/<object>-<root>/<root>    a materialized file or folder, read-only
    trees-v1/<object>-<root>/manifest.json       sha256 of every file, the digest
    trees-v1/<object>-<root>/bytecode-<tag>.json sha256 of every .pyc for one interpreter
    tmp-v1/                            build folders, renamed into trees-v1/
    locks-v1/                          file locks
    blobs-v1/<blob id>-<mode>          one copy of each file; trees hard-link to it
    pyc-v1/<source sha256>.<tag>.<pyc sha256>.pyc   one copy of each compiled source

Invariants kept here: a ``trees-v1`` entry is complete or absent (it is built
in ``tmp-v1`` and renamed into place in one step); its files are read-only;
``bytecode-<tag>.json`` exists only after every ``.pyc`` it lists is written.
This module is on the warm import path: it must not import dulwich, and the
common question "is this tree here and compiled for me?" costs one ``stat``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import verify as _verify

REPOS = "repos-v1"
TREES = "trees-v1"
TMP = "tmp-v1"
LOCKS = "locks-v1"
BLOBS = "blobs-v1"
PYCS = "pyc-v1"
MANIFEST = "manifest.json"
LOCK_TIMEOUT_SECONDS = 600.0


def bytecode_suffix(optimize: int | None = None) -> str:
    """``cpython-311``, or ``cpython-311.opt-1`` under ``python -O``: one set of .pyc per value."""
    level = sys.flags.optimize if optimize is None else optimize
    return sys.implementation.cache_tag + (f".opt-{level}" if level else "")


def bytecode_record_name(optimize: int | None = None) -> str:
    """Name of the record of one interpreter's .pyc files inside a tree entry."""
    return f"bytecode-{bytecode_suffix(optimize)}.json"


@dataclass(frozen=True)
class TreeLocation:
    """Where one materialized root lives: ``entry/root``."""

    entry: Path
    root: str

    @property
    def path(self) -> Path:
        return self.entry / self.root

    @property
    def manifest(self) -> Path:
        return self.entry / MANIFEST

    @property
    def bytecode_record(self) -> Path:
        return self.entry / bytecode_record_name()


class Cache:
    """Paths and small operations on one cache folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def repo_dir(self, identity: str) -> Path:
        """The bare repository for a normalized URL; the slug is for people only."""
        import hashlib

        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in identity.rstrip("/").rsplit("/", 1)[-1])[:40]
        key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        return self.root / REPOS / f"{key}-{slug}"

    def tree(self, object_id: str, root: str) -> TreeLocation:
        """Where the tree or blob ``object_id`` is materialized under the name ``root``."""
        return TreeLocation(self.root / TREES / f"{object_id}-{root}", root)

    def has_tree(self, object_id: str, root: str) -> bool:
        return self.tree(object_id, root).manifest.is_file()

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an inter-process lock on ``name`` (a repository key or tree entry).

        The holder writes its pid and command beside the lock, so a process
        that waits too long (``GITIMPORT_LOCK_TIMEOUT`` seconds, default 600)
        can say who is in the way.
        """
        from filelock import FileLock, Timeout

        folder = self.root / LOCKS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.lock"
        holder = folder / f"{name}.holder"
        timeout = float(os.environ.get("GITIMPORT_LOCK_TIMEOUT", LOCK_TIMEOUT_SECONDS))
        lock = FileLock(str(path), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            from .errors import GitImportError

            raise GitImportError(
                f"Waited {timeout:g} s for the cache lock {path}, held by {_read_holder(holder)}.",
                "wait for that process to finish, or stop it; the lock is released when it exits",
            ) from None
        try:
            with contextlib.suppress(OSError):
                holder.write_text(f"process {os.getpid()} ({' '.join(sys.argv)[:200]})", encoding="utf-8")
            yield
        finally:
            lock.release()

    def new_build_dir(self) -> Path:
        """A fresh temporary folder on the cache's file system, for atomic renames.

        Its name carries our pid, so :meth:`remove_stale_builds` can tell the
        leftovers of a killed process from the work of a running one.
        """
        import tempfile

        folder = self.root / TMP
        folder.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f"build-{os.getpid()}-", dir=folder))
        build.chmod(0o755)  # mkdtemp makes it private; the cache is readable like any installed package
        return build

    def remove_stale_builds(self) -> None:
        """Remove build folders of processes that no longer run (killed mid-sync)."""
        folder = self.root / TMP
        if not folder.is_dir():
            return
        for build in folder.iterdir():
            parts = build.name.split("-")
            if len(parts) >= 3 and parts[1].isdigit() and not process_alive(int(parts[1])):
                remove_tree(build)


def process_alive(pid: int) -> bool:
    """True when ``pid`` is a running process (or one we may not signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _read_holder(holder: Path) -> str:
    try:
        return holder.read_text(encoding="utf-8") or "another process"
    except OSError:
        return "another process"


def read_manifest(location: TreeLocation) -> dict[str, object]:
    import json

    with open(location.manifest, encoding="utf-8") as handle:
        manifest: dict[str, object] = json.load(handle)
    return manifest


def write_json(path: Path, data: object) -> None:
    """Write JSON next to its final name and rename it into place."""
    import json

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)


def keep_in_store(target: Path, stored: Path) -> None:
    """Keep a hard link to a finished, read-only file in a content-addressed store.

    The stores are how identical files in different trees (an upgrade that
    changes one file of three hundred) take their space once.  Where hard
    links are not possible, or another process stored the file first, this
    does nothing: a store is an optimization, never a requirement.
    """
    with contextlib.suppress(OSError):
        stored.parent.mkdir(parents=True, exist_ok=True)
        temporary = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
        os.link(target, temporary)
        os.replace(temporary, stored)


def link_from_store(stored: Path, target: Path) -> bool:
    """Hard-link a stored file to ``target``; False when that is not possible."""
    try:
        os.link(stored, target)
    except OSError:
        return False
    return True


def compile_tree(entry: Path, optimize: int | None = None, store: Path | None = None) -> dict[str, str]:
    """Compile every ``.py`` under ``entry`` to an unchecked hash-based ``.pyc``.

    The file name compiled into the code objects is the source's path relative
    to the tree entry (``mylib/core.py``): CPython replaces it with the real
    path when it loads a .pyc, so tracebacks name the cached file, and the
    bytes of a .pyc depend only on its source, its place in the tree and the
    interpreter.  That makes them shareable between trees and checkable by
    compiling again (``gitimport verify``).  Sources that do not compile are
    skipped (importing them raises the natural ``SyntaxError``).  Returns the
    sha256 of each ``.pyc``, by path relative to ``entry``.  The .pyc paths are
    the ones the import system looks for, whatever ``PYTHONPYCACHEPREFIX``
    says, because the cache keeps its bytecode beside its sources.

    With ``store`` (the cache root), a source compiled before at the same place
    of another tree is not compiled again: its .pyc is hard-linked from ``pyc-v1``.
    """
    import hashlib

    level = sys.flags.optimize if optimize is None else optimize
    suffix = bytecode_suffix(level)
    written: dict[str, str] = {}
    for source in sorted(entry.rglob("*.py")):
        if source.is_symlink() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(entry)
        cfile = source.parent / "__pycache__" / f"{source.stem}.{suffix}.pyc"
        cfile.parent.mkdir(exist_ok=True)
        if store is None:
            if not compile_source(source, cfile, relative.as_posix(), level):
                continue
        else:
            source_hash = hashlib.sha256(source.read_bytes() + b"\0" + relative.as_posix().encode()).hexdigest()
            prefix = f"{source_hash}.{suffix}."
            folder = store / PYCS / source_hash[:2]
            known = next((p for p in folder.glob(f"{prefix}*.pyc") if not p.name.startswith(".")), None) if folder.is_dir() else None
            valid = known is not None and sha256_file(known) == known.name[len(prefix) : -len(".pyc")]
            if not (valid and known is not None and link_from_store(known, cfile)):
                if not compile_source(source, cfile, relative.as_posix(), level):
                    continue
                os.chmod(cfile, 0o444)
                keep_in_store(cfile, folder / f"{prefix}{sha256_file(cfile)}.pyc")
        os.chmod(cfile, 0o444)
        written[cfile.relative_to(entry).as_posix()] = sha256_file(cfile)
    return written


def _same_bytecode(fresh: bytes, cached: bytes) -> bool:
    """Same header and equal code objects.

    marshal's bytes are not reproducible across processes (reference flags
    depend on reference counts), so the code objects are compared instead.
    Loading a forged .pyc with marshal can fail; that counts as a mismatch.
    """
    import marshal

    if fresh[:16] != cached[:16]:
        return False
    try:
        return bool(marshal.loads(fresh[16:]) == marshal.loads(cached[16:]))
    except (ValueError, EOFError, TypeError):
        return False


def compile_source(source: Path, cfile: Path, shown_as: str, level: int) -> bool:
    """Compile one source to an unchecked hash-based .pyc; False when it does not compile."""
    import py_compile

    try:
        py_compile.compile(
            str(source),
            cfile=str(cfile),
            dfile=shown_as,
            doraise=True,
            optimize=level,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return False
    return True


def ensure_bytecode(cache: Cache, location: TreeLocation) -> None:
    """Give this interpreter its .pyc files for a tree, once, under a lock.

    Trees are compiled for the interpreter that materializes them; another
    Python version that imports the tree later compiles it here on its first
    import, so no interpreter ever recompiles on every start.  A cache we
    cannot write to is not an error: imports then work from source.
    """
    if location.bytecode_record.exists():
        return
    try:
        with cache.lock(location.entry.name):
            if location.bytecode_record.exists():
                return
            write_json(location.bytecode_record, compile_tree(location.entry, store=cache.root))
    except OSError:
        return


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, or of a symlink's link text (DESIGN §8)."""
    return _verify.sha256_file(str(path))


def dirhash(file_hashes: dict[str, str]) -> str:
    """The lock's ``digest`` (see :func:`gitimport.verify.dirhash`)."""
    return _verify.dirhash(file_hashes)


def remove_tree(path: Path) -> None:
    """Remove a folder of read-only files (folders stay writable by their owner)."""
    import shutil

    def make_writable_and_retry(func, target, _exc_info):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(target), 0o755)
        func(target)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)


def verify_tree(location: TreeLocation, expected_digest: str | None = None, recompile: bool = False) -> list[str]:
    """Re-hash a materialized tree; return what is wrong (see :func:`gitimport.verify.tree_problems`).

    With ``recompile``, this interpreter's .pyc files are also compiled again
    from their (verified) sources and compared byte for byte, so a .pyc forged
    together with its record in the cache is found too.
    """
    problems = _verify.tree_problems(str(location.entry), location.root, expected_digest)
    if recompile and not problems:
        problems = _recompiled_problems(location)
    return problems


def _recompiled_problems(location: TreeLocation) -> list[str]:
    """This interpreter's .pyc files that differ from a fresh compilation of their sources."""
    import json
    import tempfile

    problems = []
    tag = sys.implementation.cache_tag
    for record in sorted(location.entry.glob(f"bytecode-{tag}*.json")):
        suffix = record.name[len("bytecode-") : -len(".json")]
        level = int(suffix.rsplit(".opt-", 1)[1]) if ".opt-" in suffix else 0
        with open(record, encoding="utf-8") as handle:
            listed = json.load(handle)
        with tempfile.TemporaryDirectory() as scratch:
            for relative in sorted(listed):
                pyc = location.entry / relative
                source_relative = Path(relative).parent.parent / (Path(relative).name[: -len(f".{suffix}.pyc")] + ".py")
                fresh = Path(scratch) / "fresh.pyc"
                if not compile_source(location.entry / source_relative, fresh, source_relative.as_posix(), level):
                    problems.append(f"{pyc} has no source that compiles")
                elif not _same_bytecode(fresh.read_bytes(), pyc.read_bytes()):
                    problems.append(f"{pyc} does not match its source")
    return problems
