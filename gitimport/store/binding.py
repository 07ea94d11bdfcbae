"""Which ``commit:path`` each materialized tree was taken from: the binding of a lock entry to what runs.

A tree in the cache is named by its git object id, so one tree serves every
commit that holds it, for every project on the machine.  That alone proves
nothing about a lock entry: an entry edited to keep ``commit`` at v2 but point
``object`` and ``digest`` at v1's tree (cached by another project) would pass
every check of the tree itself.  So whenever gitimport materializes a tree,
or finds a cached one, for a ``commit:path`` it has walked and re-hashed
object by object, it records that origin here; and every check that a lock
entry is served by a tree (sync, ``verify``, ``--repair``, ``verify =
"import"``, the runtime state) asks for the lock's own ``commit:path``.

An origin is a small file in the tree entry's ``origins/`` folder, named by a
hash of ``commit:path``, so the question costs one ``stat``.  Standard
library only: ``verify = "import"`` asks it on the import path.
"""

from __future__ import annotations

import os

from .. import atomic
from .hashing import sha256_hex
from .layout import ORIGINS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..project.lock import LockEntry
    from .cache import TreeLocation


def origin_path(entry: str, commit: str, path: str) -> str:
    """The record that tree entry folder ``entry`` was materialized from ``commit:path``."""
    key = sha256_hex(f"{commit}:{path}".encode("utf-8", "surrogateescape"))[:40]
    return os.path.join(entry, ORIGINS, f"{key}.json")


def has_origin(entry: str, commit: str, path: str) -> bool:
    return os.path.isfile(origin_path(entry, commit, path))


def record_origin(entry: str, commit: str, path: str) -> None:
    """Record that ``commit:path`` holds this tree: call only after walking and re-hashing it."""
    record = origin_path(entry, commit, path)
    if os.path.isfile(record):
        return
    os.makedirs(os.path.dirname(record), exist_ok=True)
    atomic.write_json(record, {"commit": commit, "path": path})


def origin_problems(entry: str, commit: str, path: str) -> list[str]:
    """What is wrong with the binding of a lock entry's ``commit:path`` to a tree entry (empty when bound)."""
    if has_origin(entry, commit, path):
        return []
    return [f"{entry} was not materialized from commit {commit[:12]} at {path or '/'!r}, which the lock names"]


def serves(location: TreeLocation, entry: LockEntry) -> bool:
    """The cached tree at ``location`` is complete and was materialized from ``entry``'s ``commit:path``.

    The one question every layer asks before it lets a tree stand for a lock entry.
    """
    return location.complete and has_origin(str(location.entry), entry.commit, entry.path)
