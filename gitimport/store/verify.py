"""Re-hashing materialized trees: the checks behind `verify`, `--repair` and `verify = "import"`.

A tree entry in the cache holds its root (a file or a folder), ``manifest.json``
(the SHA-256 of every file and the lock's digest), ``origins/`` (the commits it
was materialized from) and ``pyc-records/`` (the SHA-256 of every ``.pyc`` an
import wrote, see :mod:`gitimport.store.bytecode`).  Verification recomputes
all of them and lists what differs, including files the commit does not have
and ``.pyc`` files gitimport did not write.  This module runs on first import
when ``verify = "import"`` is set, so it uses only ``os``, ``json`` and
CPython's built-in SHA-256 (:mod:`.hashing`): no pathlib, dataclasses or
OpenSSL, which would cost more than the hashing itself.
"""

from __future__ import annotations

import json
import os

from . import layout
from .binding import origin_problems
from .bytecode import compiled_from_its_source, recompiled_problems, record_name, recorded_names, recorded_pycs, source_of
from .hashing import sha256, sha256_file, sha256_hex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..project.lock import LockEntry
    from .cache import TreeLocation

__all__ = ["dirhash", "generated_key", "sha256_file", "sha256_hex", "tree_problems", "verify_locked", "verify_tree"]


def dirhash(file_hashes: dict[str, str]) -> str:
    """The lock's ``digest``: Go's dirhash over ``sha256  path`` lines sorted by UTF-8 bytes."""
    lines = "".join(f"{file_hashes[p]}  {p}\n" for p in sorted(file_hashes, key=lambda p: p.encode("utf-8", "surrogateescape")))
    return "sha256:" + sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def generated_key(generated: Mapping[str, str]) -> str:
    """The short name of a set of generated files (``path -> sha256:hex``) in a tree entry's folder name; "" for none."""
    if not generated:
        return ""
    return dirhash({path: digest.split(":", 1)[-1] for path, digest in generated.items()})[7:23]


def tree_problems(
    entry: str,
    root: str,
    expected_digest: str | None = None,
    origin: tuple[str, str] | None = None,
    generated: Mapping[str, str] | None = None,
) -> list[str]:
    """What is wrong with the tree entry folder ``entry`` (empty when all is well).

    Checks that the tree was materialized from ``origin`` (the lock's
    ``commit`` and ``path``, see :mod:`gitimport.store.binding`), every file
    against the manifest, the manifest's digest against ``expected_digest``
    (the lock's) and its generated files against ``generated`` (the lock's),
    every ``.pyc`` against its record, and that the root holds no file the
    commit does not.  A generated file stands in for the git file of the same path
    (``export-subst``), so the git digest stays checkable from the commit.
    """
    manifest_path = os.path.join(entry, layout.MANIFEST)
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        return [f"{entry} is missing"]
    except (OSError, ValueError):
        return [f"{manifest_path} is damaged"]
    recorded = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict):
        return [f"{manifest_path} is damaged"]
    problems: list[str] = origin_problems(entry, *origin) if origin is not None else []
    if expected_digest is not None and manifest.get("digest") != expected_digest:
        problems.append(f"{entry} has digest {manifest.get('digest')}, the lock says {expected_digest}")
    if dirhash(recorded) != manifest.get("digest"):
        problems.append(f"{manifest_path} does not match its own digest")
    made = manifest.get("generated", {})
    if not isinstance(made, dict):
        return [f"{manifest_path} is damaged"]
    if generated is not None and made != {path: digest.split(":", 1)[-1] for path, digest in generated.items()}:
        problems.append(f"{entry} holds other generated files than the lock names")
    base = entry if manifest.get("kind") == "module" else os.path.join(entry, root)
    expected = {os.path.join(base, relative): sha for relative, sha in {**recorded, **made}.items()}
    found, pycs = _walk(entry, root)
    source_of_pyc = {pyc: source_of(pyc) for pyc in pycs}
    wanted = set(source_of_pyc.values())  # sources read whole, for the check of their .pyc headers
    sources: dict[str, bytes] = {}
    for path, sha in sorted(expected.items()):
        if not os.path.lexists(path):
            problems.append(f"{path} is missing")
        elif path in wanted and not os.path.islink(path):
            with open(path, "rb") as handle:
                sources[path] = handle.read()
            if sha256(sources[path]).hexdigest() != sha:
                problems.append(f"{path} was modified")
        elif sha256_file(path) != sha:
            problems.append(f"{path} was modified")
    problems.extend(f"{extra} is not part of the commit" for extra in sorted(found - set(expected)))
    problems.extend(_pyc_problems(entry, pycs, {pyc: sources.get(source) for pyc, source in source_of_pyc.items()}))
    return problems


def _walk(entry: str, root: str) -> tuple[set[str], list[str]]:
    """What a tree entry holds besides its records: files and folder symlinks below its root folder
    (outside ``__pycache__``), and the ``.pyc`` files in every ``__pycache__`` (the entry's own, for a
    one-file module).  A ``__pycache__`` that is a symlink counts as a file, so it is reported."""
    found: set[str] = set()
    pycs: list[str] = []
    _pycache(os.path.join(entry, "__pycache__"), found, pycs)
    top = os.path.join(entry, root)
    if not os.path.isdir(top) or os.path.islink(top):
        return found, pycs
    for folder, folders, files in os.walk(top):
        found.update(os.path.join(folder, name) for name in files)
        for name in folders:
            path = os.path.join(folder, name)
            if name == "__pycache__":
                _pycache(path, found, pycs)
            elif os.path.islink(path):
                found.add(path)
        folders[:] = [name for name in folders if name != "__pycache__"]
    return found, pycs


def _pycache(folder: str, found: set[str], pycs: list[str]) -> None:
    if os.path.islink(folder):
        found.add(folder)
    elif os.path.isdir(folder):
        pycs.extend(os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".pyc"))


def _pyc_problems(entry: str, pycs: list[str], sources: Mapping[str, bytes | None]) -> list[str]:
    """Each ``.pyc`` held against its record (docs/how-it-works.md#bytecode); ``sources``: each one's source, if read already.

    The files are hashed before the records are listed: a ``.pyc`` is
    recorded before it appears, so one that an import writes meanwhile is
    never taken for an unrecorded one.  A record is named by what it says,
    so the listing settles every recorded ``.pyc``; the records are read only
    to word a finding, and for trees of earlier releases.  This interpreter's
    ``.pyc`` files are also held against their sources: the header of a
    hash-based ``.pyc`` carries a hash of the source it was compiled from, so
    bytecode of other code is found even with a record forged for it (only
    compiling again, as ``gitimport verify`` does, finds other code under a
    copied header).
    """
    contents = {}
    for pyc in pycs:
        try:
            with open(pyc, "rb") as handle:
                contents[pyc] = handle.read()
        except FileNotFoundError:  # removed meanwhile (a repair): nothing left to check
            continue
    if not contents:
        return []
    names = recorded_names(entry)
    recorded: dict[str, set[str]] | None = None
    problems = []
    for pyc, data in sorted(contents.items()):
        relative = pyc[len(entry) + 1 :].replace(os.sep, "/")
        sha = sha256(data).hexdigest()
        if record_name(sha, relative) not in names:
            recorded = recorded_pycs(entry) if recorded is None else recorded
            known = recorded.get(relative)
            if not known:
                problems.append(f"{pyc} was not written by gitimport (no record of it)")
                continue
            if sha not in known:
                problems.append(f"{pyc} was modified")
                continue
        if not compiled_from_its_source(pyc, data, sources.get(pyc)):
            problems.append(f"{pyc} was compiled from another source")
    return problems


def verify_tree(
    location: TreeLocation,
    expected_digest: str | None = None,
    recompile: bool = False,
    origin: tuple[str, str] | None = None,
    generated: Mapping[str, str] | None = None,
) -> list[str]:
    """Re-hash a materialized tree; return what is wrong (see :func:`tree_problems`).

    With ``recompile``, this interpreter's .pyc files are also compiled again
    from their (verified) sources and compared, so a .pyc forged together with
    its record in the cache is found too.
    """
    entry = str(location.entry)
    problems = tree_problems(entry, location.root, expected_digest, origin, generated)
    if recompile and not problems:
        problems = recompiled_problems(entry, _walk(entry, location.root)[1])
    return problems


def verify_locked(location: TreeLocation, entry: LockEntry, recompile: bool = False) -> list[str]:
    """Re-hash the tree that serves a lock entry, held against everything the entry names."""
    return verify_tree(location, entry.digest, recompile, (entry.commit, entry.path), entry.generated)
