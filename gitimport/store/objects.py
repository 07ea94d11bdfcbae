"""Reading git objects from an object store, each one checked against the id that names it.

Every object gitimport reads from a repository (to materialize a tree, to find
a project's metadata, to check a signature) comes through :func:`read_object`,
which re-hashes it: so what is read is exactly what the id names, whatever
the server sent or the disk now holds.  :func:`object_size` answers first,
from an object's header, so that size limits apply before anything is
inflated; :func:`blob_chunks` reads a large blob a piece at a time, with the
same checks at its end, so memory does not grow with a file.  Trees are parsed here rather than by dulwich, whose parser changed
signature between the versions we support.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from ..errors import DamagedRepositoryError, IntegrityError, MissingObjectError

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore
    from dulwich.objects import ObjectID
    from dulwich.repo import Repo

MODE_TREE = 0o040000
MODE_LINK = 0o120000
MODE_GITLINK = 0o160000
TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
OFS_DELTA, REF_DELTA = 6, 7  # pack entry types: a delta against an earlier entry, or against an object id


class ObjectStore(Protocol):
    """The one call we need from dulwich's object stores."""

    def get_raw(self, name: ObjectID) -> tuple[int, bytes]: ...


def read_object(store: ObjectStore, object_id: str, expected_type: bytes) -> bytes:
    """Read a raw object and check that it hashes to its id and has the right type."""
    type_name, data = read_typed(store, object_id, fetchable=expected_type if expected_type in (b"blob", b"tree") else None)
    if type_name != expected_type:
        raise DamagedRepositoryError(
            f"Git object {object_id} is corrupt: its content hashes to {object_id} ({type_name.decode()}).", _DAMAGE_HINT
        )
    return data


def read_typed(store: ObjectStore, object_id: str, *, fetchable: bytes | None = None) -> tuple[bytes, bytes]:
    """Read an object of any type and check that it hashes to its id: (type name, content).

    A missing object is a :class:`MissingObjectError` when a blob or a tree
    is expected (``fetchable``: a partial fetch leaves blobs out, and trees off
    the way to PATH), damage otherwise (a commit, a tag).
    """
    try:
        type_num, data = store.get_raw(_object_id(object_id))
    except KeyError:
        raise (_missing_object(object_id, fetchable.decode()) if fetchable else _missing(object_id)) from None
    except Exception:  # a damaged pack fails in dulwich's own ways (zlib, checksum, offsets): all mean the same here
        unreadable = True
    else:
        unreadable = False
    if unreadable:  # raised outside the handler: dulwich's error would pin the pack's memory map until it is freed
        raise _corrupt(object_id)
    type_name = TYPE_NAMES.get(type_num, b"?")
    actual = git_hash(type_name, data)
    if actual != object_id:
        raise DamagedRepositoryError(
            f"Git object {object_id} is corrupt: its content hashes to {actual} ({type_name.decode()}).", _DAMAGE_HINT
        )
    return type_name, data


def git_hash(type_name: bytes, data: bytes) -> str:
    """The git id of an object's content, without copying the content to prepend its header."""
    digest = hashlib.sha1(b"%s %d\x00" % (type_name, len(data)))
    digest.update(data)
    return digest.hexdigest()


def object_size(store: DiskObjectStore, object_id: str) -> int:
    """The size of a blob's content, read from its header without inflating the content.

    dulwich returns objects whole, inflated in memory, so a blob that is small
    compressed (a gigabyte of zeros packs into a megabyte) would fill memory
    before any size limit could look at it.  Its header says the size first:
    a pack entry begins with its type and inflated size, a delta's data with
    the size of the object it makes, a loose object with ``<type> <size>\\0``.
    Packs are searched before loose objects, as dulwich does.  The size is a
    claim, not a check: :func:`read_object` still re-hashes the content.
    """
    packed = _pack_entry(store, object_id)
    if packed is not None:
        with open(packed[0], "rb") as handle:
            return _packed_size(handle, packed[1], object_id)
    try:
        with open(os.path.join(store.path, object_id[:2], object_id[2:]), "rb") as handle:
            header = _inflated_start(handle, 32, object_id)  # "<type> <size>\0": at most 27 bytes
    except FileNotFoundError:
        raise _missing_object(object_id, "blob") from None
    kind, _, size = header.partition(b"\x00")[0].partition(b" ")
    if kind not in TYPE_NAMES.values() or not size.isdigit() or b"\x00" not in header:
        raise _corrupt(object_id)
    return int(size)


def _packed_size(handle: IO[bytes], offset: int, object_id: str) -> int:
    """The size in the pack entry at ``offset``: its own, or for a delta the one its delta data declares."""
    handle.seek(offset)
    header = handle.read(32)  # type and size (10 bytes at most), then a base offset (10) or a base id (20)
    try:
        type_num, size, position = entry_header(header)
        if type_num not in (OFS_DELTA, REF_DELTA):
            return size
        if type_num == OFS_DELTA:
            while header[position] & 0x80:
                position += 1
            position += 1
        else:
            position += 20
        handle.seek(offset + position)
        delta = _inflated_start(handle, 20, object_id)  # the base's size, then the result's: 10 bytes each at most
        _, position = _varint(delta, 0)
        return _varint(delta, position)[0]
    except IndexError:
        raise _corrupt(object_id) from None


def entry_header(header: bytes) -> tuple[int, int, int]:
    """A pack entry's type and size (4 bits, then 7 a byte), and the position after them; IndexError if cut short."""
    byte = header[0]
    type_num, size, shift, position = (byte >> 4) & 7, byte & 0x0F, 4, 1
    while byte & 0x80:
        byte = header[position]
        size, shift, position = size | (byte & 0x7F) << shift, shift + 7, position + 1
    return type_num, size, position


#: Blobs this large or larger are written by :func:`blob_chunks`, a chunk at a time, rather than read whole.
STREAMED_BLOB_SIZE = 1024 * 1024
_CHUNK = 256 * 1024


def _pack_entry(store: DiskObjectStore, object_id: str) -> tuple[str, int] | None:
    """The pack file that holds ``object_id`` and the offset of its entry; None when no pack does.

    Packs are searched before loose objects, and in dulwich's order, so what
    is read here is the copy dulwich itself would read.
    """
    for pack in store.packs:
        try:
            return os.fspath(pack.data.path), pack.index.object_offset(_object_id(object_id))
        except KeyError:
            continue
    return None


def blob_chunks(store: DiskObjectStore, object_id: str, size: int) -> Iterator[bytes] | None:
    """A blob's content in chunks, never whole in memory; None when it is stored as a delta (read it whole).

    dulwich returns an object inflated whole, and a delta needs its base whole
    anyway; a blob stored whole (a pack entry of type blob, or a loose object)
    is one zlib stream, inflated here a chunk at a time.  The chunks are
    unchecked until the last: the generator then raises, as
    :func:`read_object` does, if they do not make ``size`` bytes (the size the
    header claimed, which the limits were checked against) hashing to
    ``object_id``.  Callers write them somewhere disposable and use the
    result only once the generator has ended.
    """
    packed = _pack_entry(store, object_id)
    if packed is not None:
        with open(packed[0], "rb") as handle:
            start = _packed_blob_start(handle, packed[1], object_id)
        return None if start is None else _checked_chunks(packed[0], start, object_id, size, loose=False)
    loose = os.path.join(store.path, object_id[:2], object_id[2:])
    if not os.path.exists(loose):
        raise _missing_object(object_id, "blob")
    return _checked_chunks(loose, 0, object_id, size, loose=True)


def _packed_blob_start(handle: IO[bytes], offset: int, object_id: str) -> int | None:
    """Where the zlib stream of the blob entry at ``offset`` begins; None if the entry is not a whole blob."""
    handle.seek(offset)
    try:
        type_num, _, position = entry_header(handle.read(10))
    except IndexError:
        raise _corrupt(object_id) from None
    return offset + position if TYPE_NAMES.get(type_num) == b"blob" else None


def _checked_chunks(path: str | os.PathLike[str], start: int, object_id: str, size: int, *, loose: bool) -> Iterator[bytes]:
    """Inflate the zlib stream at ``start`` a chunk at a time, hashing it; raise at the end if it is not the blob."""
    digest = hashlib.sha1(b"blob %d\x00" % size)
    inflater = zlib.decompressobj()
    header = b"blob %d\x00" % size if loose else b""  # a loose object's stream begins with its header
    produced = 0
    with open(path, "rb") as handle:
        handle.seek(start)
        try:
            while not inflater.eof:
                source = inflater.unconsumed_tail or handle.read(_CHUNK)
                if not source:
                    raise _corrupt(object_id)  # the stream ends before its end: a truncated file
                piece = inflater.decompress(source, _CHUNK)
                if header:
                    taken = piece[: len(header)]
                    if not header.startswith(taken):
                        raise _corrupt(object_id)
                    header, piece = header[len(taken) :], piece[len(taken) :]
                produced += len(piece)
                digest.update(piece)
                if produced <= size and piece:
                    yield piece
        except zlib.error:
            raise _corrupt(object_id) from None
    if header or produced != size:
        raise size_mismatch(object_id, size, produced)
    if digest.hexdigest() != object_id:
        raise DamagedRepositoryError(f"Git object {object_id} is corrupt: its content hashes to {digest.hexdigest()} (blob).", _DAMAGE_HINT)


def size_mismatch(object_id: str, size: int, actual: int) -> IntegrityError:
    """An object whose header claims another size than its content has (the limits were checked against the claim)."""
    return IntegrityError(
        f"Git object {object_id} is corrupt: its header says {size} bytes, its content has {actual}.",
        "run `gitimport sync --repair`; if it persists, the server sent bad data",
    )


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """A delta header number (7 bits a byte, least significant first) and the position after it."""
    value = shift = 0
    while True:
        byte = data[position]
        value, shift, position = value | (byte & 0x7F) << shift, shift + 7, position + 1
        if not byte & 0x80:
            return value, position


def _inflated_start(handle: IO[bytes], length: int, object_id: str) -> bytes:
    """The first ``length`` bytes of the zlib stream at the handle's position (fewer if it ends first)."""
    inflater = zlib.decompressobj()
    data = b""
    try:
        while len(data) < length and not inflater.eof:
            chunk = inflater.unconsumed_tail or handle.read(4096)
            if not chunk:
                break
            data += inflater.decompress(chunk, length - len(data))
    except zlib.error:
        raise _corrupt(object_id) from None
    return data


_DAMAGE_HINT = "run `gitimport sync` with the network: it fetches the repository again; if it persists, the server sends bad data"


def _missing(object_id: str) -> DamagedRepositoryError:
    return DamagedRepositoryError(f"Git object {object_id} is missing from the cache.", _DAMAGE_HINT)


def _missing_object(object_id: str, kind: str) -> MissingObjectError:
    return MissingObjectError(
        f"Git {kind} {object_id} is missing from the cache.", "run `gitimport sync` with the network", object_id, kind
    )


def _corrupt(object_id: str) -> DamagedRepositoryError:
    return DamagedRepositoryError(f"Git object {object_id} is corrupt: it cannot be read.", _DAMAGE_HINT)


class RecordingRepo:
    """A repository whose object store notes the id of every object read from it (``cache export``).

    Everything else is the wrapped store's, so the readers run unchanged.
    """

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self.read: set[str] = set()
        self.object_store = _RecordingStore(repo.object_store, self.read)

    def as_repo(self) -> Repo:
        """Itself, typed as what the readers take: they use only ``object_store``."""
        return cast("Repo", self)


class _RecordingStore:
    def __init__(self, store: DiskObjectStore, read: set[str]) -> None:
        self._store = store
        self._read = read

    def get_raw(self, name: ObjectID) -> tuple[int, bytes]:
        self._read.add(name.decode("ascii"))
        return self._store.get_raw(name)

    def __contains__(self, name: ObjectID) -> bool:
        return name in self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def holds_object(store: DiskObjectStore, object_id: str) -> bool:
    """Whether the store has the object at all (packed or loose); whether it is sound is :func:`read_object`'s question."""
    return _object_id(object_id) in store


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


def read_all(store: DiskObjectStore, commit_id: str, path: str) -> None:
    """Read and re-hash every object ``commit:path`` needs: the commit, the trees down to PATH, everything below.

    ``sync --repair`` asks it of each bare repository, so a repository that
    lost or damaged an object is found even while its trees are still cached.
    A blob the repository does not hold is skipped: a partial fetch leaves
    blobs out (docs/how-it-works.md#partial-fetch), and sync fetches a
    missing blob when a module needs it.  A blob that is there is read.

    Raises:
      DamagedRepositoryError: the commit or a tree is missing, or an object does not hash to its id.
    """
    object_id, mode = commit_tree(store, commit_id), MODE_TREE
    for part in path.split("/") if path else []:
        entries = {name: (entry_mode, sha) for name, entry_mode, sha in tree_entries(store, object_id)}
        if part not in entries:
            return  # not damage: find_root says what is wrong with such a PATH
        mode, object_id = entries[part]
    pending = [(object_id, mode)]
    while pending:
        object_id, mode = pending.pop()
        if mode == MODE_TREE:
            pending.extend((sha, entry_mode) for _, entry_mode, sha in tree_entries(store, object_id))
        elif mode != MODE_GITLINK and holds_object(store, object_id):
            read_object(store, object_id, b"blob")


#: The largest configuration file (pyproject.toml, setup.cfg, .gitattributes, a version module…) read as data:
#: honest ones are small, and a huge one must not fill memory.
MAX_PROJECT_FILE = 4 * 1024 * 1024


class TreeFiles:
    """The files of one git tree, each folder read once, looked up by POSIX path: a repository's configuration read as data.

    The build-file, metadata and whole-distribution readers ask it for
    ``pyproject.toml``, ``setup.cfg``, ``.gitattributes`` and such.  Links are
    never followed and a path never leaves the tree (``..`` past its root
    finds nothing), so what they read is what the commit holds at that path.
    """

    def __init__(self, store: DiskObjectStore, tree_id: str) -> None:
        self.store = store
        self.tree_id = tree_id
        self._folders: dict[str, dict[str, tuple[int, str]]] = {"": _named_entries(store, tree_id)}

    @classmethod
    def of_commit(cls, store: DiskObjectStore, commit_id: str) -> TreeFiles:
        return cls(store, commit_tree(store, commit_id))

    def entries(self, folder: str) -> dict[str, tuple[int, str]]:
        """The entries of ``folder`` (name -> mode, id); empty when it is absent, not a folder, or outside the tree."""
        normal = _inside(folder)
        if normal is None:
            return {}
        if normal not in self._folders:
            parent, _, leaf = normal.rpartition("/")
            entry = self.entries(parent).get(leaf)
            self._folders[normal] = _named_entries(self.store, entry[1]) if entry is not None and entry[0] == MODE_TREE else {}
        return self._folders[normal]

    def entry(self, path: str) -> tuple[int, str] | None:
        """(mode, id) at ``path``; the root tree for ""; None when nothing is there."""
        normal = _inside(path)
        if normal is None:
            return None
        if not normal:
            return MODE_TREE, self.tree_id
        folder, _, leaf = normal.rpartition("/")
        return self.entries(folder).get(leaf)

    def is_folder(self, path: str) -> bool:
        found = self.entry(path)
        return found is not None and found[0] == MODE_TREE

    def blob(self, path: str) -> str | None:
        """The id of the regular file at ``path`` (not a link, not a folder), or None."""
        found = self.entry(path)
        return found[1] if found is not None and found[0] & 0o170000 == 0o100000 else None

    def read(self, path: str, limit: int = MAX_PROJECT_FILE) -> bytes | None:
        """The content of the regular file at ``path``; None when there is none or it is larger than ``limit``."""
        object_id = self.blob(path)
        if object_id is None or object_size(self.store, object_id) > limit:
            return None
        return read_object(self.store, object_id, b"blob")

    def files_below(self, folder: str) -> Iterator[tuple[str, int, str]]:
        """(path from the tree's root, mode, id) of every entry below ``folder``, folders before what they hold.

        Walked by object id, names joined as the tree writes them: a hostile
        name such as ``..`` is listed (materialization refuses it), never
        followed somewhere else.  Trees cannot contain themselves, so the walk ends.
        """
        found = self.entry(folder)
        if found is None or found[0] != MODE_TREE:
            return
        pending = [(_inside(folder), found[1])]
        while pending:
            current, tree_id = pending.pop()
            for name, mode, object_id in tree_entries(self.store, tree_id):
                child = f"{current}/{name}" if current else name
                yield child, mode, object_id
                if mode == MODE_TREE:
                    pending.append((child, object_id))


def _named_entries(store: ObjectStore, tree_id: str) -> dict[str, tuple[int, str]]:
    return {name: (mode, object_id) for name, mode, object_id in tree_entries(store, tree_id)}


def _inside(path: str) -> str | None:
    """``path`` normalized ("" for the root), or None when it is absolute or climbs out of the tree."""
    normal = posixpath.normpath(path) if path else "."
    if normal.startswith(("/", "../")) or normal == "..":
        return None
    return "" if normal == "." else normal
