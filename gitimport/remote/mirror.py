"""Tree mirrors: the trees a lock uses, served as plain files and checked by hashing (docs/tree-mirrors.md).

A mirror is a folder that any static file host can serve (an S3-style
bucket, a CI artifact store, nginx, a file share), written by
``gitimport cache export``::

    gitimport-mirror-v1/trees/<object>.pack            a locked tree (or file) and every object below it
    gitimport-mirror-v1/commits/<commit>/<key>.pack    the commit, the trees from its root down to PATH and the
                                                       project files sync reads on the way (key: see binding_archive)

Both are git pack files (version 2) without deltas.  Nothing a mirror sends
is trusted: :func:`index_pack` computes every object's id from its bytes,
refuses a delta, or an object over the size limit before inflating it, and
writes the pack's index from those ids; sync then materializes the module
from these objects exactly as from a git fetch, holding the lock's
``commit``, ``path``, ``object`` and ``digest`` against them.  A mirror can
withhold a tree, never change one: the commit's id covers its root tree, and
each tree the ids of what it holds, down to PATH and below.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from .. import atomic
from ..errors import MirrorError, PolicyError
from ..project.spec import redact_url

if TYPE_CHECKING:
    import urllib3

    from ..project.config import Config
    from .transport import Deadline

LAYOUT = "gitimport-mirror-v1"
PACK_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}
_CHUNK = 1 << 16


def tree_archive(object_id: str) -> str:
    """Where a mirror keeps the tree (or file) ``object_id`` with everything below it: shared by every commit that holds it."""
    return f"{LAYOUT}/trees/{object_id}.pack"


def binding_archive(commit: str, path: str) -> str:
    """Where a mirror keeps what binds ``commit:path`` to its tree: the commit, the trees down to PATH, the project files.

    Named by the first 16 hex digits of PATH's SHA-256, so any PATH makes a
    plain file name.
    """
    key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{LAYOUT}/commits/{commit}/{key}.pack"


# --------------------------------------------------------------------------
# The archive format: git packs without deltas
# --------------------------------------------------------------------------


def write_pack(target: Path, objects: Iterable[tuple[bytes, bytes]]) -> None:
    """Write ``(type name, content)`` objects as a pack file at ``target``, atomically.

    No deltas: each object stands alone, so a reader can bound its size from
    its header before inflating it.
    """
    items = list(objects)
    digest = hashlib.sha1()
    parts = [b"PACK" + (2).to_bytes(4, "big") + len(items).to_bytes(4, "big")]
    for type_name, data in items:
        parts.append(_entry_header(PACK_TYPES[type_name], len(data)) + zlib.compress(data, 6))
    for part in parts:
        digest.update(part)
    parts.append(digest.digest())
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(target, b"".join(parts))


def _entry_header(type_num: int, size: int) -> bytes:
    """A pack entry's type and inflated size: 3 bits of type and 4 of size, then 7 bits of size a byte."""
    byte = (type_num << 4) | (size & 0x0F)
    size >>= 4
    header = bytearray()
    while size:
        header.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    header.append(byte)
    return bytes(header)


def index_pack(pack: Path, max_object_size: int) -> tuple[bytes, int]:
    """Check a pack a mirror sent and write its index (``.idx`` beside it); return the pack's checksum and object count.

    The pack is read by :func:`~gitimport.remote.incoming.whole_entries`, as
    a fetched one is: each object's id computed from its type and content,
    its size checked against ``max_object_size`` from its header, before it
    is inflated.  A mirror sends whole objects only, so a delta is refused.

    Raises:
      MirrorError: not a git pack, a delta or an unknown type, an object too
        large or unlike its header, a wrong checksum, or trailing bytes.
    """
    from dulwich.errors import ChecksumMismatch
    from dulwich.pack import write_pack_index_v2

    from .incoming import checked_trailer, whole_entries

    try:
        checksum = checked_trailer(str(pack))
        entries = whole_entries(str(pack), max_object_size)
    except ChecksumMismatch:
        raise MirrorError("its checksum is wrong: it is truncated, changed, or bytes follow it", damaged=True) from None
    except ValueError as exc:
        raise MirrorError(str(exc), damaged=True) from None
    if entries is None:
        raise MirrorError("it holds a delta; mirrors send whole objects", damaged=True)
    with open(pack.with_suffix(".idx"), "wb") as out:
        write_pack_index_v2(out, sorted(entries), checksum)
    return checksum, len(entries)


# --------------------------------------------------------------------------
# Reading from a mirror
# --------------------------------------------------------------------------

_unreachable_lock = threading.Lock()
_unreachable_urls: set[str] = set()
"""Mirrors this sync found unreachable: skipped for the rest of it, so a mirror that is down costs one timeout, not one per tree."""


def forget_unreachable() -> None:
    """Start a sync: a mirror that was down for an earlier sync in this process is tried again."""
    with _unreachable_lock:
        _unreachable_urls.clear()


class Mirror:
    """One configured mirror: where it is, and how to copy one archive from it into a file."""

    def __init__(self, location: str, config: Config) -> None:
        from .credentials import Credentials

        self.config = config
        self.folder: Path | None = None
        self._credentials: Credentials | None = None
        self._pool: urllib3.PoolManager | None = None
        self._deadline: Deadline | None = None
        if location.startswith(("http://", "https://")):
            from .credentials import for_http_url
            from .policy import check_mirror_policy

            check_mirror_policy(location, config)
            self.url, self._credentials = for_http_url(location.rstrip("/") + "/")
        else:
            self.url = location
            self.folder = Path(url2pathname(urlsplit(location).path)) if location.startswith("file://") else Path(location)
        self.display = redact_url(self.url)

    @property
    def down(self) -> bool:
        with _unreachable_lock:
            return self.url in _unreachable_urls

    def copy(self, relative: str, target: Path, limit: int) -> None:
        """Copy the archive at ``relative`` into ``target``, refusing one longer than ``limit`` bytes.

        Raises:
          MirrorError: the mirror lacks it, cannot be reached (then it is skipped
            for the rest of the sync), answers with an error, or sends too much.
        """
        if self.folder is not None:
            self._copy_file(self.folder / relative, target, limit)
        else:
            self._download(self.url + relative, target, limit)

    def _copy_file(self, source: Path, target: Path, limit: int) -> None:
        try:
            with open(source, "rb") as handle, open(target, "wb") as out:
                _copy_bounded(handle, out, limit, source.name)
        except FileNotFoundError:
            raise MirrorError(f"it has no {source.name}") from None
        except OSError as exc:
            raise MirrorError(f"{source} cannot be read ({exc.strerror or exc})") from None

    def _download(self, url: str, target: Path, limit: int) -> None:
        from urllib3.exceptions import HTTPError
        from urllib3.util import Retry

        pool, deadline = self._connection()
        name = url.rsplit("/", 1)[-1]
        try:
            with deadline.running(self.config.timeout):
                response = pool.request("GET", url, preload_content=False, retries=Retry(total=5, connect=0, read=0, status=0, redirect=5))
                try:
                    if response.status in (403, 404):  # S3-style buckets answer 403 for a key that is absent
                        raise MirrorError(f"it has no {name} (HTTP {response.status})")
                    if response.status != 200:
                        raise MirrorError(f"it answered HTTP {response.status} for {name}")
                    with open(target, "wb") as out:
                        _copy_bounded(response, out, limit, name)
                finally:
                    response.release_conn()
        except (MirrorError, PolicyError):
            raise
        except (HTTPError, OSError) as exc:
            if not isinstance(exc, HTTPError) or _unreachable(exc) or deadline.expired:
                self._mark_down()
            why = "timed out" if deadline.expired else _failure(exc)
            raise MirrorError(f"it {why}; skipped for the rest of this sync" if self.down else f"it {why}") from None

    def _connection(self) -> tuple[urllib3.PoolManager, Deadline]:
        """This mirror's pool manager (kept, so its connections are reused) under the host policy, and its deadline.

        A :class:`Mirror` serves one repository's sync, one download at a time, as a git remote does.
        """
        if self._pool is None or self._deadline is None:
            from .fetch import user_git_config
            from .transport import Deadline, open_http

            self._deadline = Deadline()
            git_config = user_git_config()
            self._pool = open_http(
                self.url, config=self.config, git_config=git_config, credentials=self._credentials, deadline=self._deadline
            )
        return self._pool, self._deadline

    def _mark_down(self) -> None:
        with _unreachable_lock:
            _unreachable_urls.add(self.url)


def _unreachable(exc: BaseException) -> bool:
    """A connection that failed, stalled or was not trusted, however urllib3 wrapped it: the mirror is down, not missing one file."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, SSLError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, (NewConnectionError, Urllib3Timeout, ProtocolError, SSLError, ConnectionError))


def _failure(exc: BaseException) -> str:
    """What went wrong, in a few words: urllib3 wraps the cause in a retry error that repeats the whole URL."""
    from urllib3.exceptions import MaxRetryError, SSLError

    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    text = str(reason.args[0] if isinstance(reason, SSLError) and reason.args else reason)
    if isinstance(reason, SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        detail = text.split("] ", 1)[-1].split(" (_ssl", 1)[0].rstrip("')")
        return f"failed TLS ({detail})"
    if _unreachable(reason):
        return f"cannot be reached ({type(reason).__name__.replace('Error', '').lower() or 'connection'})"
    return f"failed ({type(reason).__name__})"


def _copy_bounded(source: Any, out: IO[bytes], limit: int, name: str) -> None:
    copied = 0
    while True:
        chunk = source.read(_CHUNK)
        if not chunk:
            return
        copied += len(chunk)
        if copied > limit:
            raise MirrorError(f"{name} is larger than {limit} bytes")
        out.write(chunk)


def configured_mirrors(config: Config) -> list[Mirror]:
    """The config's tree mirrors in order, each checked against the host policy.

    Raises:
      PolicyError: a mirror's host is outside ``allow-hosts``, or it is plain HTTP to a host that is not loopback.
    """
    return [Mirror(location, config) for location in config.tree_mirrors]


def fetch_archives(mirror: Mirror, archives: list[str], pack_dir: Path, limit: int, max_object_size: int) -> tuple[int, int]:
    """Copy ``archives`` from ``mirror`` into ``pack_dir`` as checked, indexed packs; return (objects, bytes) copied.

    Each archive is copied under a temporary name and moved into place only
    when it checked out (:func:`~gitimport.remote.incoming.publish_pack`, as
    a fetched pack is), so a store opened on ``pack_dir`` sees whole packs only.

    Raises:
      MirrorError: see :meth:`Mirror.copy` and :func:`index_pack`.
    """
    from .incoming import publish_pack

    objects = size = 0
    for relative in archives:
        incoming = pack_dir / f"incoming-{os.getpid()}-{threading.get_ident()}.pack"
        try:
            mirror.copy(relative, incoming, limit)
            checksum, count = index_pack(incoming, max_object_size)
            objects, size = objects + count, size + incoming.stat().st_size
            publish_pack(str(incoming), str(incoming.with_suffix(".idx")), str(pack_dir), checksum)
        finally:
            for leftover in (incoming, incoming.with_suffix(".idx")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    return objects, size
