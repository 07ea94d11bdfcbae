"""Bytecode for materialized trees: unchecked hash-based ``.pyc`` files (PEP 552), written on a module's first import.

The sources of a tree never change, so their ``.pyc`` files need no checking
when they are loaded.  Sync writes none: a tree is complete without them.
The first import of a module from a tree, in an interpreter (Python version
and ``-O`` level) that has no ``.pyc`` for it yet, compiles that one source,
as CPython's own loader does on a first import, and writes its ``.pyc``
beside it, whatever ``PYTHONDONTWRITEBYTECODE`` says (or hard-links the same
bytecode from ``pyc-v1`` when another tree compiled the same source at the
same place).  Every later import of it, in any process, only reads it.

What this module keeps true of the ``.pyc`` files in a tree entry:

- Each is an unchecked hash-based ``.pyc`` that gitimport compiled from the
  source beside it, under the source's path relative to the tree entry
  (``mylib/core.py``): its bytes depend only on the source, its place and the
  interpreter, so it can be shared between trees and checked by compiling
  again.  CPython gives the loaded code the real path of its source.
- Its SHA-256 is recorded in ``pyc-records/`` *before* the ``.pyc`` appears
  under its own name, so every ``.pyc`` that a reader can see has its record.
  A record is a read-only file that holds one line, ``<sha256>  <path of the
  .pyc in the entry>``, and is named by a hash of that line, so a listing of
  the folder says which ``.pyc`` files are recorded.  Two processes
  may compile one source at the same time, and marshal's bytes differ between
  processes, so a path may have several records; a ``.pyc`` is valid when one
  of them matches it.  No record is ever rewritten, so writers need no lock.
- A ``.pyc`` is written under a temporary name and hard-linked to its own
  name: it is complete when it appears, the first one stays, and it is never
  rewritten.

Trees cached by earlier releases carry ``bytecode-<tag>.json`` instead (every
``.pyc`` of one interpreter, compiled at sync); those records count too.

:func:`code_for_import` runs in the importing process, so this module imports
only what the finder has loaded already (``os``, ``sys``, ``_imp``,
``marshal``, the frozen import machinery) and the light :mod:`gitimport.atomic`,
:mod:`.layout` and :mod:`.hashing`.  Nothing here runs fetched code: sources
are compiled, never executed.
"""

from __future__ import annotations

import _imp
import marshal
import os
import sys

from .. import atomic
from . import layout
from .hashing import sha256_hex

try:  # what importlib and py_compile write .pyc files with, without importing importlib
    from _frozen_importlib_external import (  # type: ignore[attr-defined]
        _RAW_MAGIC_NUMBER,
        MAGIC_NUMBER,
        _code_to_hash_pyc,
    )
except ImportError:  # pragma: no cover - interpreters other than CPython
    from importlib._bootstrap_external import _RAW_MAGIC_NUMBER, MAGIC_NUMBER, _code_to_hash_pyc  # type: ignore[attr-defined]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import CodeType

    from .cache import Cache, TreeLocation

#: The first 8 bytes of every .pyc gitimport writes: the magic number, then the flags "hash-based, unchecked".
UNCHECKED_HASH_HEADER = MAGIC_NUMBER + (0b01).to_bytes(4, "little")
_CODE = type((lambda: None).__code__)
_fix_co_filename = _imp._fix_co_filename  # type: ignore[attr-defined]  # what CPython does to the code of every .pyc it loads


def compile_pyc(source: bytes, shown_as: str, level: int) -> tuple[CodeType, bytes] | None:
    """``source`` compiled under the file name ``shown_as`` at optimization ``level``, and its unchecked hash-based .pyc.

    The bytes are those ``py_compile`` writes with ``dfile=shown_as`` and
    ``invalidation_mode=UNCHECKED_HASH``.  None when the source does not compile.
    """
    try:
        code = compile(source, shown_as, "exec", dont_inherit=True, optimize=level)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte, before Python 3.12
        return None
    return code, bytes(_code_to_hash_pyc(code, _imp.source_hash(_RAW_MAGIC_NUMBER, source), False))


def source_key(source: bytes, shown_as: str) -> str:
    """What ``pyc-v1`` files a source's bytecode by: its bytes and its place in the tree."""
    return sha256_hex(source + b"\0" + shown_as.encode("utf-8", "surrogateescape"))


def code_for_import(source: bytes, source_path: str, entry: str) -> CodeType | None:
    """The code of a cached source on its first import by this interpreter; its ``.pyc`` is written on the way.

    ``source`` holds the bytes of ``source_path``, a file of the tree entry
    folder ``entry``.  The bytecode is hard-linked from ``pyc-v1`` when
    another tree compiled the same source at the same place, else compiled;
    it is recorded, then written (see the invariants above).  A tree that this
    process cannot write (a shared cache it does not own, a read-only disk) is
    not an error: the source is compiled in memory, as for a folder on
    ``sys.path`` that Python cannot write.  Returns None when the source does
    not compile, so that Python's own loader raises the natural ``SyntaxError``.
    """
    level = sys.flags.optimize
    place = _place_in_tree(source_path, entry)
    if place is None:
        compiled = compile_pyc(source, source_path, level)
        return None if compiled is None else compiled[0]
    real_entry, shown_as = place
    suffix = layout.bytecode_suffix(level)
    folder, _, file_name = shown_as.rpartition("/")
    relative = f"{folder}/__pycache__/" if folder else "__pycache__/"
    relative += f"{file_name.rpartition('.')[0]}.{suffix}.pyc"
    target = os.path.join(real_entry, *relative.split("/"))
    key = source_key(source, shown_as)
    store = os.path.join(os.path.dirname(os.path.dirname(real_entry)), layout.PYCS, key[:2])
    stored = _stored_pyc(store, f"{key}.{suffix}.", _imp.source_hash(_RAW_MAGIC_NUMBER, source))
    if stored is not None:
        path, data, sha = stored
        code = _unmarshal(data)
        if code is not None and _place(real_entry, relative, target, data, sha, linked_from=path):
            _fix_co_filename(code, source_path)
            return code
    compiled = compile_pyc(source, shown_as, level)
    if compiled is None:
        return None
    code, data = compiled
    sha = sha256_hex(data)
    if _place(real_entry, relative, target, data, sha):
        _keep_in_store(target, os.path.join(store, f"{key}.{suffix}.{sha}.pyc"))
    _fix_co_filename(code, source_path)  # after marshal: the .pyc keeps the path inside the tree
    return code


def _place_in_tree(source_path: str, entry: str) -> tuple[str, str] | None:
    """(the entry's real path, the source's path below it with its folders resolved), or None outside the entry.

    A source imported through a symlinked folder of the tree has its ``.pyc``
    in the ``__pycache__`` of the folder the link leads to, and is recorded there.
    """
    if not entry:
        return None
    real_entry = _realpath(entry)
    folder = _realpath(os.path.dirname(source_path))
    name = os.path.basename(source_path)
    if folder == real_entry:
        return real_entry, name
    if folder.startswith(real_entry + os.sep):
        return real_entry, folder[len(real_entry) + 1 :].replace(os.sep, "/") + "/" + name
    return None


_real: dict[str, str] = {}  # folder -> its real path: a cached tree never changes
_made: set[str] = set()  # folders this process made or found: one mkdir each


def _realpath(folder: str) -> str:
    real = _real.get(folder)
    if real is None:
        real = _real[folder] = os.path.realpath(folder)
    return real


def _stored_pyc(folder: str, prefix: str, source_hash: bytes) -> tuple[str, bytes, str] | None:
    """A .pyc in ``pyc-v1`` named ``<prefix><its sha256>.pyc`` that still hashes to its name: (path, bytes, sha256)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        sha = name[len(prefix) : -len(".pyc")]
        if not (name.startswith(prefix) and name.endswith(".pyc")) or len(sha) != 64:  # e.g. another -O level's
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if data[:8] == UNCHECKED_HASH_HEADER and data[8:16] == source_hash and sha256_hex(data) == sha:
            return path, data, sha
    return None


def _unmarshal(data: bytes) -> CodeType | None:
    try:
        code = marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, _CODE) else None


def _place(entry: str, relative: str, target: str, data: bytes, sha: str, linked_from: str | None = None) -> bool:
    """Record ``data`` as the .pyc ``relative`` of ``entry``, then make it appear at ``target``.

    ``linked_from`` is a stored copy of ``data`` to hard-link.  True when this
    call put ``data`` there; False when a .pyc was there first, or the tree
    cannot be written.
    """
    pycache = os.path.dirname(target)
    try:
        _make_folder(pycache)
        record_pyc(entry, relative, sha)
        if linked_from is not None:
            try:
                os.link(linked_from, target)
                return True
            except FileExistsError:
                return False
            except OSError:
                pass  # no hard links here: write a copy
        temporary = os.path.join(pycache, atomic.temporary_name(os.path.basename(target)))
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            try:
                os.link(temporary, target)  # never over a .pyc that is there: the first stays
            except FileExistsError:
                return False
            except OSError:
                os.replace(temporary, target)  # a file system without hard links
            return True
        finally:
            if os.path.lexists(temporary):
                os.unlink(temporary)
    except OSError:
        return False


def record_pyc(entry: str, relative: str, sha: str) -> None:
    """Record that the .pyc at ``relative`` (a path in the tree entry ``entry``) has SHA-256 ``sha``; OSError when it cannot be written.

    The record is created read-only under its final name: what vouches for a
    .pyc is the name (:func:`record_name`), whole as soon as it exists.
    """
    line = _record_line(sha, relative)
    folder = os.path.join(entry, layout.PYC_RECORDS)
    _make_folder(folder)
    try:
        fd = os.open(os.path.join(folder, sha256_hex(line)[:32]), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:  # the same .pyc, recorded by another process (linked from pyc-v1)
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _record_line(sha: str, relative: str) -> bytes:
    return f"{sha}  {relative}\n".encode("utf-8", "surrogateescape")


def record_name(sha: str, relative: str) -> str:
    """The name of the record of a .pyc with SHA-256 ``sha`` at ``relative``: the hash of its one line.

    So a check needs no record's content: a listing of ``pyc-records/`` says
    which .pyc files are recorded (:func:`recorded_names`).
    """
    return sha256_hex(_record_line(sha, relative))[:32]


def recorded_names(entry: str) -> set[str]:
    """The names in a tree entry's ``pyc-records/``."""
    return set(_names(os.path.join(entry, layout.PYC_RECORDS)))


def _make_folder(path: str) -> None:
    """``mkdir``, once per process, never of parents: a tree entry that gc removed meanwhile is not brought back."""
    if path not in _made:
        try:  # noqa: SIM105 - contextlib is not loaded at start-up, and this runs on the import path
            os.mkdir(path)
        except FileExistsError:
            pass
        _made.add(path)


def _keep_in_store(target: str, stored: str) -> None:
    """Keep a hard link to a .pyc in ``pyc-v1``, for the next tree that holds its source at the same place (optional)."""
    try:
        try:
            atomic.publish_link(target, stored)
        except FileNotFoundError:  # the first .pyc of its folder
            os.makedirs(os.path.dirname(stored), exist_ok=True)
            atomic.publish_link(target, stored)
    except OSError:
        pass


def recorded_pycs(entry: str) -> dict[str, set[str]]:
    """Every SHA-256 recorded for each .pyc of a tree entry, by its path in the entry.

    Read from ``pyc-records/`` and from the ``bytecode-<tag>.json`` files of
    earlier releases.  A record that cannot be read or parsed vouches for
    nothing, so the .pyc it was meant for is then found unrecorded.
    """
    import json

    recorded: dict[str, set[str]] = {}
    folder = os.path.join(entry, layout.PYC_RECORDS)
    for name in _names(folder):
        if name.startswith("."):  # a record being written
            continue
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                line = handle.read(1 << 16).decode("utf-8", "surrogateescape")
        except OSError:
            continue
        sha, separator, path = line.partition("  ")
        if separator and len(sha) == 64 and path.endswith("\n") and "\n" not in path[:-1]:
            recorded.setdefault(path[:-1], set()).add(sha)
    for name in _names(entry):
        if layout.is_bytecode_record(name):
            try:
                with open(os.path.join(entry, name), encoding="utf-8") as handle:
                    listed = json.load(handle)
            except (OSError, ValueError):
                continue
            for path, sha in listed.items() if isinstance(listed, dict) else ():
                recorded.setdefault(path, set()).add(sha)
    return recorded


def _names(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []


def source_of(pyc: str) -> str:
    """The source a ``.pyc`` of a ``__pycache__`` belongs to: ``pkg/__pycache__/core.cpython-311.pyc`` -> ``pkg/core.py``."""
    pycache, _, name = pyc.rpartition(os.sep)
    return f"{pycache.rpartition(os.sep)[0]}{os.sep}{name.partition('.')[0]}.py"


def compiled_from_its_source(pyc: str, data: bytes, source: bytes | None = None) -> bool:
    """False when ``data``, a .pyc of this interpreter, names a source other than the one beside it (or none is there).

    A hash-based .pyc carries the hash that ``_imp.source_hash`` gives its
    source, keyed by the interpreter; another interpreter's files, which this
    one cannot hash for, pass.  ``source``: the source's bytes, when the caller read them already.
    """
    if _level_of(os.path.basename(pyc), sys.implementation.cache_tag or "") is None:
        return True
    if source is None:
        try:
            with open(source_of(pyc), "rb") as handle:
                source = handle.read()
        except OSError:
            return False
    return data[:8] == UNCHECKED_HASH_HEADER and data[8:16] == _imp.source_hash(_RAW_MAGIC_NUMBER, source)


def _level_of(pyc_name: str, tag: str) -> int | None:
    """The optimization level of a .pyc that interpreter ``tag`` would import (``core.cpython-311.opt-1.pyc``: 1), else None."""
    rest = pyc_name.partition(".")[2]
    if rest == f"{tag}.pyc":
        return 0
    level = rest[len(f"{tag}.opt-") : -len(".pyc")]
    if rest.startswith(f"{tag}.opt-") and rest.endswith(".pyc") and level.isdigit():
        return int(level)
    return None


def recompiled_problems(entry: str, pycs: Iterable[str]) -> list[str]:
    """This interpreter's .pyc files among ``pycs`` (in the tree entry ``entry``) that differ from their sources compiled again.

    Other interpreters' files are left to them: this one cannot compile for them.
    """
    tag = sys.implementation.cache_tag
    problems = []
    for pyc in sorted(pycs):
        level = _level_of(os.path.basename(pyc), tag) if tag else None
        if level is None:
            continue
        source = source_of(pyc)
        shown_as = source[len(entry) + 1 :].replace(os.sep, "/")
        try:
            with open(source, "rb") as handle:
                compiled = compile_pyc(handle.read(), shown_as, level)
            with open(pyc, "rb") as handle:
                cached = handle.read()
        except OSError:
            problems.append(f"{pyc} has no source")
            continue
        if compiled is None:
            problems.append(f"{pyc} has no source that compiles")
        elif not _same_bytecode(compiled[1], cached):
            problems.append(f"{pyc} does not match its source")
    return problems


def _same_bytecode(fresh: bytes, cached: bytes) -> bool:
    """Same header and equal code objects.

    marshal's bytes are not reproducible across processes (reference flags
    depend on reference counts), so the code objects are compared instead.
    Loading a forged .pyc with marshal can fail; that counts as a mismatch.
    """
    if fresh[:16] != cached[:16]:
        return False
    try:
        return bool(marshal.loads(fresh[16:]) == marshal.loads(cached[16:]))
    except (ValueError, EOFError, TypeError):
        return False


def forget_stored_bytecode(cache: Cache, location: TreeLocation) -> None:
    """Remove from ``pyc-v1`` every stored .pyc of the sources of a tree, for every interpreter.

    ``--repair`` calls it before it rebuilds a tree that failed verification:
    a .pyc forged in the store under a name that matches its own hash passes
    the store's cheap check, and would otherwise be linked into the rebuilt
    tree again.  The rebuilt tree compiles afresh and stores what it compiles.
    """
    base = location.entry
    for source in sorted(location.path.rglob("*.py")) if location.path.is_dir() else [location.path]:
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        key = source_key(source.read_bytes(), source.relative_to(base).as_posix())
        folder = cache.root / layout.PYCS / key[:2]
        for stored in folder.glob(f"{key}.*.pyc") if folder.is_dir() else []:
            atomic.remove(stored)
