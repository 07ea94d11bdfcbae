"""Reading git objects from an object store, each one checked against the id that names it.

Every object gitimport reads from a repository (to materialize a tree, to find
a project's metadata, to check a signature) comes through :func:`read_object`,
which re-hashes it: so what is read is exactly what the id names, whatever
the server sent or the disk now holds.  Trees are parsed here rather than by
dulwich, whose parser changed signature between the versions we support.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

from ..errors import IntegrityError

if TYPE_CHECKING:
    from dulwich.objects import ObjectID

MODE_TREE = 0o040000
MODE_LINK = 0o120000
MODE_GITLINK = 0o160000
TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}


class ObjectStore(Protocol):
    """The one call we need from dulwich's object stores."""

    def get_raw(self, name: ObjectID) -> tuple[int, bytes]: ...


def read_object(store: ObjectStore, object_id: str, expected_type: bytes) -> bytes:
    """Read a raw object and check that it hashes to its id and has the right type."""
    try:
        type_num, data = store.get_raw(_object_id(object_id))
    except KeyError:
        raise IntegrityError(
            f"Git object {object_id} is missing from the cache.", "run `gitimport sync --repair` to fetch it again"
        ) from None
    type_name = TYPE_NAMES.get(type_num, b"?")
    actual = hashlib.sha1(b"%s %d\x00" % (type_name, len(data)) + data).hexdigest()
    if actual != object_id or type_name != expected_type:
        raise IntegrityError(
            f"Git object {object_id} is corrupt: its content hashes to {actual} ({type_name.decode()}).",
            "run `gitimport sync --repair`; if it persists, the server sent bad data",
        )
    return data


def _object_id(hexsha: str) -> ObjectID:
    from dulwich.objects import ObjectID

    return ObjectID(hexsha.encode("ascii"))


def tree_entries(store: ObjectStore, tree_id: str) -> list[tuple[str, int, str]]:
    """The verified entries of a tree as (name, mode, hex id).

    The tree format is parsed here rather than by dulwich, whose parser changed
    signature between the versions we support: ``<octal mode> <name>\\0<20-byte id>``.
    """
    data = read_object(store, tree_id, b"tree")
    entries = []
    position = 0
    try:
        while position < len(data):
            space = data.index(b" ", position)
            nul = data.index(b"\x00", space)
            mode = int(data[position:space], 8)
            object_id = data[nul + 1 : nul + 21]
            if len(object_id) != 20:
                raise ValueError("truncated entry")
            entries.append((data[space + 1 : nul].decode("utf-8", "surrogateescape"), mode, object_id.hex()))
            position = nul + 21
    except ValueError:
        raise IntegrityError(f"Tree {tree_id} is malformed.", "the repository is damaged; run `gitimport sync --repair`") from None
    return entries


def commit_tree(store: ObjectStore, commit_id: str) -> str:
    data = read_object(store, commit_id, b"commit")
    first_line = data.split(b"\n", 1)[0]
    if not first_line.startswith(b"tree "):
        raise IntegrityError(f"Commit {commit_id} has no tree line.", "the repository is damaged; run `gitimport sync --repair`")
    return first_line[5:].decode("ascii")
