"""Bytecode for materialized trees: unchecked hash-based ``.pyc`` files (PEP 552), compiled once.

The sources of a tree never change, so their ``.pyc`` files need no checking
on import: each interpreter version (and ``-O`` level) that imports a tree
gets its ``.pyc`` files once, at materialization or on its first import,
under the tree's lock, and records their SHA-256 in ``bytecode-<tag>.json``.
``verify`` and ``--repair`` compile again and compare, so a ``.pyc`` forged
together with its record is found.  Nothing here imports fetched code:
sources are compiled, never executed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import atomic
from . import layout
from .cache import Cache, TreeLocation, keep_in_store, link_from_store
from .verify import sha256_file


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
    level = sys.flags.optimize if optimize is None else optimize
    suffix = layout.bytecode_suffix(level)
    written: dict[str, str] = {}
    made: set[Path] = set()
    for source in sorted(entry.rglob("*.py")):
        if source.is_symlink() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(entry).as_posix()
        cfile = source.parent / "__pycache__" / f"{source.stem}.{suffix}.pyc"
        if cfile.parent not in made:
            cfile.parent.mkdir(exist_ok=True)
            made.add(cfile.parent)
        if store is None:
            if not compile_source(source, cfile, relative, level):
                continue
            pyc_hash = sha256_file(cfile)
        else:
            source_hash = _stored_source_key(source, relative)
            prefix = f"{source_hash}.{suffix}."
            folder = store / layout.PYCS / source_hash[:2]
            known = _stored(folder, prefix)
            pyc_hash = known.name[len(prefix) : -len(".pyc")] if known is not None else ""
            if not (known is not None and sha256_file(known) == pyc_hash and link_from_store(known, cfile)):
                if not compile_source(source, cfile, relative, level):
                    continue
                os.chmod(cfile, 0o444)
                pyc_hash = sha256_file(cfile)
                keep_in_store(cfile, folder / f"{prefix}{pyc_hash}.pyc")
        os.chmod(cfile, 0o444)
        written[cfile.relative_to(entry).as_posix()] = pyc_hash
    return written


def _stored(folder: Path, prefix: str) -> Path | None:
    """The stored .pyc whose name starts with ``prefix`` (a source's key and an interpreter's tag), if any."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    return next((folder / name for name in names if name.startswith(prefix) and name.endswith(".pyc")), None)


def _stored_source_key(source: Path, shown_as: str) -> str:
    """What ``pyc-v1`` files a source's bytecode by: its bytes and its place in the tree."""
    import hashlib

    return hashlib.sha256(source.read_bytes() + b"\0" + shown_as.encode()).hexdigest()


def forget_stored_bytecode(cache: Cache, location: TreeLocation) -> None:
    """Remove from ``pyc-v1`` every stored .pyc of the sources of a tree, for every interpreter.

    ``--repair`` calls it before it rebuilds a tree that failed verification:
    a .pyc forged in the store under a name that matches its own hash passes
    the store's cheap check, and would otherwise be linked into the rebuilt
    tree again.  The rebuilt tree compiles afresh and stores what it compiled.
    """
    base = location.entry
    for source in sorted(location.path.rglob("*.py")) if location.path.is_dir() else [location.path]:
        if source.is_symlink() or not source.is_file() or "__pycache__" in source.parts:
            continue
        key = _stored_source_key(source, source.relative_to(base).as_posix())
        folder = cache.root / layout.PYCS / key[:2]
        for stored in folder.glob(f"{key}.*.pyc") if folder.is_dir() else []:
            atomic.remove(stored)


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
            atomic.write_json(location.bytecode_record, compile_tree(location.entry, store=cache.root))
    except OSError:
        return


def recompiled_problems(location: TreeLocation) -> list[str]:
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
