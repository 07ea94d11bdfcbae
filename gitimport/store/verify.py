"""Re-hashing materialized trees: the checks behind `verify`, `--repair` and `verify = "import"`.

A tree entry in the cache holds its root (a file or a folder), ``manifest.json``
(the SHA-256 of every file and the lock's digest) and one ``bytecode-*.json``
per interpreter (the SHA-256 of every ``.pyc``).  Verification recomputes all of
them and lists what differs, including files the commit does not have.  This
module runs on first import when ``verify = "import"`` is set, so it uses only
``os``, ``json`` and CPython's built-in SHA-256 (:mod:`.hashing`): no pathlib, dataclasses or
OpenSSL, which would cost more than the hashing itself.
"""

from __future__ import annotations

import json
import os

from . import layout
from .binding import origin_problems
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
    every recorded ``.pyc``, and that the root holds no file the commit does
    not.  A generated file stands in for the git file of the same path
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
    for name in sorted(os.listdir(entry)):
        if layout.is_bytecode_record(name):
            with open(os.path.join(entry, name), encoding="utf-8") as handle:
                expected.update({os.path.join(entry, relative): sha for relative, sha in json.load(handle).items()})
    for path, sha in sorted(expected.items()):
        if not os.path.lexists(path):
            problems.append(f"{path} is missing")
        elif sha256_file(path) != sha:
            problems.append(f"{path} was modified")
    problems.extend(f"{extra} is not part of the commit" for extra in sorted(_files_under(os.path.join(entry, root)) - set(expected)))
    return problems


def _files_under(root: str) -> set[str]:
    """Files and folder symlinks below a root folder, outside ``__pycache__``."""
    if not os.path.isdir(root) or os.path.islink(root):
        return set()
    found: set[str] = set()
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if name != "__pycache__"]
        found.update(os.path.join(folder, name) for name in files)
        found.update(os.path.join(folder, name) for name in folders if os.path.islink(os.path.join(folder, name)))
    return found


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
    problems = tree_problems(str(location.entry), location.root, expected_digest, origin, generated)
    if recompile and not problems:
        from .bytecode import recompiled_problems

        problems = recompiled_problems(location)
    return problems


def verify_locked(location: TreeLocation, entry: LockEntry, recompile: bool = False) -> list[str]:
    """Re-hash the tree that serves a lock entry, held against everything the entry names."""
    return verify_tree(location, entry.digest, recompile, (entry.commit, entry.path), entry.generated)
