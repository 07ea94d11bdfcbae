"""Packs as a fetch brings them: written to disk as they arrive, indexed a chunk at a time.

dulwich's ``add_pack`` indexes a received pack by inflating each object
whole, from a memory map of the whole pack: a 100 MiB file cost 190 MiB of
memory to fetch.  :class:`StreamingPackStore` gives a fetch the cache's
object store with an ``add_pack`` of its own: the pack goes to a temporary
file in ``objects/pack``; then its trailer checksum is checked over the whole
file, and each object is inflated a chunk at a time to find its id, its
CRC-32 and where it ends, and the index is written with dulwich's
``write_pack_index``.  A pack that holds a delta is handed to dulwich's own
``add_pack`` instead (a delta needs its base whole to be resolved).  Either
way the objects are checked again, against their ids, whenever they are read
(:mod:`gitimport.store.objects`).

A thin pack (one that may hold deltas against objects the cache has) is
taken the same way once dulwich has received it (it spools up to 16 MiB of
it in memory first); one that does hold a delta goes to dulwich's
``add_thin_pack``.
Callers hold the repository's cache lock, so nothing reads ``objects/pack``
while a pack is renamed into it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, Callable

from ..store.objects import OFS_DELTA, REF_DELTA, TYPE_NAMES, entry_header

_CHUNK = 256 * 1024
_TRAILER = 20  # the SHA-1 of everything before it
_PACK_MODE = 0o444 if os.name != "nt" else 0o644  # what dulwich and git give a finished pack


class StreamingPackStore:
    """The cache's object store as a fetch sees it: everything dulwich's, but ``add_pack`` and ``add_thin_pack``."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __contains__(self, name: Any) -> bool:
        return name in self._store

    def add_pack(self) -> tuple[IO[bytes], Callable[[], None], Callable[[], None]]:
        """A file for the pack, and what to call when it is complete (``commit``) or the fetch failed (``abort``)."""
        fd, path = self._temporary_pack()
        handle = os.fdopen(fd, "w+b")

        def commit() -> None:
            handle.close()
            with _removed_unless_moved(path):
                if os.path.getsize(path):
                    self._complete(path, self._added_by_dulwich)

        def abort() -> None:
            handle.close()
            os.remove(path)

        return handle, commit, abort

    def add_thin_pack(self, read_all: Callable[[int], bytes], read_some: Any, progress: Any = None, **options: Any) -> None:
        """A pack that may hold deltas against objects the cache has (dulwich hands it over once received).

        Copied to a file and taken as :meth:`add_pack` takes one; a pack with
        a delta goes to dulwich's ``add_thin_pack``, which resolves deltas
        against the cache's objects.
        """
        fd, path = self._temporary_pack()
        with _removed_unless_moved(path):
            with os.fdopen(fd, "wb") as handle:
                for chunk in iter(lambda: read_all(_CHUNK), b""):
                    handle.write(chunk)
            if os.path.getsize(path):
                self._complete(path, lambda whole: self._added_thin_by_dulwich(whole, progress, options))

    def _temporary_pack(self) -> tuple[int, str]:
        """A new file in ``objects/pack`` for a pack as it arrives (dulwich's own temporary packs go there too)."""
        return tempfile.mkstemp(dir=self._store.pack_dir, prefix="tmp_incoming_", suffix=".pack")

    def _complete(self, path: str, with_deltas: Callable[[str], None]) -> None:
        """Index the pack at ``path`` and move it into place; a pack that holds a delta goes to ``with_deltas``."""
        checksum = checked_trailer(path)
        entries = whole_entries(path)
        if entries is None:
            with_deltas(path)
            return
        from dulwich.pack import write_pack_index

        with tempfile.NamedTemporaryFile(dir=self._store.pack_dir, prefix="tmp_incoming_", suffix=".idx", delete=False) as index:
            write_pack_index(index, sorted(entries), checksum)
        publish_pack(path, index.name, self._store.pack_dir, checksum)

    def _added_thin_by_dulwich(self, path: str, progress: Any, options: dict[str, Any]) -> None:
        with open(path, "rb") as source:
            self._store.add_thin_pack(source.read, None, progress=progress, **options)

    def _added_by_dulwich(self, path: str) -> None:
        handle, commit, abort = self._store.add_pack()
        try:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, _CHUNK)
        except BaseException:
            abort()
            raise
        commit()


@contextlib.contextmanager
def _removed_unless_moved(path: str) -> Iterator[None]:
    """Remove the temporary pack at ``path`` after the block, unless the block moved it into place."""
    try:
        yield
    finally:
        if os.path.exists(path):
            os.remove(path)


def publish_pack(pack: str, index: str, pack_dir: str, checksum: bytes) -> None:
    """Move a checked pack and its index into ``pack_dir`` under git's name for them, read-only.

    The index goes last, as git's own ``index-pack`` does: git and dulwich
    take a pack only once its index is there, so no reader sees half of one.
    """
    base = os.path.join(pack_dir, f"pack-{checksum.hex()}")
    for made in (pack, index):
        os.chmod(made, _PACK_MODE)
    os.replace(pack, base + ".pack")
    os.replace(index, base + ".idx")


def checked_trailer(path: str) -> bytes:
    """The pack's checksum, once it is known to be the SHA-1 of everything before it."""
    from dulwich.errors import ChecksumMismatch

    size = os.path.getsize(path)
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        left = size - _TRAILER
        while left > 0:
            chunk = handle.read(min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        trailer = handle.read(_TRAILER)
    if size < 12 + _TRAILER or trailer != digest.digest():
        raise ChecksumMismatch(trailer, digest.digest(), "the received pack is truncated or corrupt")
    return trailer


def whole_entries(path: str, max_object_size: int | None = None) -> list[tuple[bytes, int, int]] | None:
    """(binary id, offset, CRC-32) of every object in the pack; None as soon as one is a delta.

    Each id is computed here from the object's type and content, so no
    object can stand under an id it does not hash to; with
    ``max_object_size``, an object's size is checked from its header before
    it is inflated.  The one reader of packs gitimport indexes itself: those
    a fetch brings, and a tree mirror's archives (:mod:`.mirror`).

    Raises:
      ValueError: not a pack, an entry cut short, of no type, larger than
        ``max_object_size`` or unlike its header, or bytes after the last.
    """
    end = os.path.getsize(path) - _TRAILER
    with open(path, "rb") as handle:
        header = handle.read(12)
        if header[:4] != b"PACK" or int.from_bytes(header[4:8], "big") not in (2, 3):
            raise _corrupt("it does not begin with a pack header")
        entries = []
        offset = 12
        for _ in range(int.from_bytes(header[8:12], "big")):
            entry = _whole_entry(handle, offset, end, max_object_size)
            if entry is None:
                return None
            object_id, crc, after = entry
            entries.append((object_id, offset, crc))
            offset = after
        if offset != end:
            raise _corrupt(f"{end - offset} bytes follow its last object")
    return entries


def _whole_entry(handle: IO[bytes], offset: int, end: int, max_object_size: int | None) -> tuple[bytes, int, int] | None:
    """The binary id and CRC-32 of the object at ``offset``, and where the next begins; None for a delta.

    The content is inflated a chunk at a time and hashed as it comes, never
    more than its header claims; the CRC-32 covers the entry's bytes as
    stored (header and compressed data).
    """
    handle.seek(offset)
    try:
        type_num, size, position = entry_header(handle.read(min(16, end - offset)))  # never the trailer
    except IndexError:
        raise _corrupt(f"its entry at {offset} is cut short") from None
    if type_num in (OFS_DELTA, REF_DELTA):
        return None
    if type_num not in TYPE_NAMES:
        raise _corrupt(f"its entry at {offset} has no object type ({type_num})")
    if max_object_size is not None and size > max_object_size:
        raise _corrupt(f"its entry at {offset} is {size} bytes, over the limit of {max_object_size}")
    handle.seek(offset)
    crc = zlib.crc32(handle.read(position))
    digest = hashlib.sha1(b"%s %d\x00" % (TYPE_NAMES[type_num], size))
    inflater = zlib.decompressobj()
    where, produced, raw = offset + position, 0, b""
    try:
        while not inflater.eof:
            if not inflater.unconsumed_tail:
                crc, where = zlib.crc32(raw, crc), where + len(raw)
                raw = handle.read(min(_CHUNK, end - where))
                if not raw:
                    raise _corrupt(f"the object at {offset} is cut short")
            piece = inflater.decompress(inflater.unconsumed_tail or raw, min(_CHUNK, size + 1 - produced))
            produced += len(piece)
            if produced > size:
                raise _corrupt(f"the object at {offset} inflates to more than its header says ({size} bytes)")
            digest.update(piece)
    except zlib.error:
        raise _corrupt(f"the object at {offset} is not a valid zlib stream") from None
    used = len(raw) - len(inflater.unused_data)
    if produced != size:
        raise _corrupt(f"the object at {offset} inflates to less than its header says ({produced} of {size} bytes)")
    return digest.digest(), zlib.crc32(raw[:used], crc), where + used


def _corrupt(what: str) -> ValueError:
    """A pack whose checksum is right but whose content is not a pack: the server made it so."""
    return ValueError(f"the received pack is corrupt: {what}")
