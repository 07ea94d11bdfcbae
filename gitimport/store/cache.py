"""The content-addressed cache on disk (see docs/how-it-works.md#cache-layout), without any git machinery.

:class:`Cache` turns names into paths under one cache folder (the names
themselves are in :mod:`gitimport.store.layout`) and holds the inter-process
locks.  Invariants kept by the store: a ``trees-v2`` entry is complete or
absent (it is built in ``tmp-v1`` and renamed into place in one step); its
files are read-only; the ``.pyc`` files that imports add to it later are
recorded before they appear (:mod:`gitimport.store.bytecode`).  This module
must not import dulwich, and the common question "is this tree here?" costs
one ``stat``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic
from ..project.discovery import ENV_CACHE_DIR, ENV_LOCK_TIMEOUT
from . import layout
from .verify import generated_key

if TYPE_CHECKING:
    from ..project.lock import LockEntry

LOCK_TIMEOUT_SECONDS = 600.0


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
        return self.entry / layout.MANIFEST

    @property
    def complete(self) -> bool:
        """The tree is in the cache (its manifest is written last, just before it is published)."""
        return self.manifest.is_file()


class Cache:
    """Paths and small operations on one cache folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self) -> None:
        """Create the cache folder, or adopt an existing one, marked with ``CACHEDIR.TAG``.

        This is the one place that creates the cache folder: everything that
        writes into the cache goes through :meth:`lock`, :meth:`new_build_dir`
        or this method first.  The tag tells backup tools to skip the folder,
        and tells ``cache clean`` that gitimport made it.  An existing folder
        without the tag is adopted only when every entry in it is a name of
        :data:`layout.ENTRIES` (an empty folder, or a cache of a gitimport
        that wrote no tag yet), so a ``cache-dir`` that names a home folder
        never gets marked, written into, or later removed.  Once tagged, the
        check costs one ``stat``.

        Raises:
          ConfigError: the folder is a file, or holds files gitimport did not create.
          GitImportError: the folder cannot be created or marked (permissions, a full disk).
        """
        tag = self.root / layout.TAG
        if tag.is_file():
            return
        from ..errors import ConfigError, GitImportError

        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            problem = "is a file" if self.root.exists() else "cannot be created: a part of its path is a file"
            raise ConfigError(f"The cache folder {self.root} {problem}.", f"point cache-dir (or {ENV_CACHE_DIR}) at a folder") from None
        except OSError as exc:
            raise GitImportError(f"Cannot create the cache folder {self.root}: {exc.strerror}.", _CACHE_DIR_HINT) from None
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise ConfigError(
                f"The cache folder {self.root} holds files gitimport did not create ({shown}), "
                "so gitimport will not write into it or remove it.",
                f"point cache-dir (or {ENV_CACHE_DIR}) at a new or empty folder, or at one gitimport created",
            )
        try:
            atomic.write_text(tag, layout.TAG_TEXT)
        except OSError as exc:
            raise GitImportError(f"Cannot mark the cache folder {self.root}: {exc.strerror}.", _CACHE_DIR_HINT) from None

    def foreign_entries(self) -> list[str]:
        """Names at the top of the cache folder that are not gitimport's (nor a temporary of one), sorted."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return sorted(n for n in names if n not in layout.ENTRIES and atomic.temporary_of(n) not in layout.ENTRIES)

    def repo_dir(self, identity: str) -> Path:
        """The bare repository for a normalized URL; the slug is for people only."""
        import hashlib

        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in identity.rstrip("/").rsplit("/", 1)[-1])[:40]
        key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        return self.root / layout.REPOS / f"{key}-{slug}"

    def tree(self, object_id: str, root: str, generated: Mapping[str, str] | None = None) -> TreeLocation:
        """Where the tree or blob ``object_id`` is materialized under the name ``root``, with ``generated`` files."""
        key = generated_key(generated) if generated else ""
        return TreeLocation(self.root / layout.TREES / layout.tree_entry_name(object_id, root, key), root)

    def has_tree(self, object_id: str, root: str, generated: Mapping[str, str] | None = None) -> bool:
        return self.tree(object_id, root, generated).complete

    def locked_tree(self, module: str, entry: LockEntry) -> TreeLocation:
        """Where the root of ``module``'s lock entry is materialized."""
        return self.tree(entry.object, layout.root_name(entry.path, module), entry.generated)

    def folder(self, name: str) -> Path:
        """A top-level folder of the layout (``layout.PINS``, ``layout.DISTS``, …)."""
        return self.root / name

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an inter-process lock on ``name`` (a repository key or tree entry).

        The holder writes its pid and command beside the lock (every URL on
        it without its userinfo), so a process that waits too long
        (``GITIMPORT_LOCK_TIMEOUT`` seconds, default 600) can say who is in
        the way.
        """
        timeout = _lock_timeout()
        self.create()
        folder = self.root / layout.LOCKS
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.lock"
        holder = folder / f"{name}.holder"
        descriptor = _locked(path, timeout)
        if descriptor is None:
            from ..errors import GitImportError

            raise GitImportError(
                f"Waited {timeout:g} s for the cache lock {path}, held by {_read_holder(holder)}.",
                "wait for that process to finish, or stop it; the lock is released when it exits",
            )
        try:
            with contextlib.suppress(OSError):
                atomic.write_text(holder, f"process {os.getpid()} ({_command_line()})")
            yield
        finally:
            os.close(descriptor)  # which releases the lock, as a process's exit does

    def new_build_dir(self) -> Path:
        """A fresh temporary folder on the cache's file system, for atomic renames.

        Its name carries our pid, so :meth:`remove_stale_builds` can tell the
        leftovers of a killed process from the work of a running one.
        """
        self.create()
        return Path(atomic.new_staging_folder(self.root / layout.TMP / "build"))

    def remove_stale_builds(self) -> None:
        """Remove build folders of processes that no longer run (killed mid-sync)."""
        atomic.sweep_stale(str(self.root / layout.TMP))


_LOCK_POLL_SECONDS = 0.05


def _locked(path: Path, timeout: float) -> int | None:
    """An open descriptor of ``path`` holding an exclusive lock on it, or None after ``timeout`` seconds of waiting.

    The OS's own locks (``flock``, ``msvcrt.locking``) rather than a library's:
    they go when their process does, however it ends, and the filelock
    package cost a sync 1.3 MiB of imports (decimal, logging, random).  A
    lock is held by an open file description, so two threads of one process
    exclude each other as two processes do.
    """
    import time

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            _lock_descriptor(descriptor)
            return descriptor
        except OSError:  # held elsewhere: BlockingIOError from flock, PermissionError from msvcrt
            if time.monotonic() >= deadline:
                os.close(descriptor)
                return None
            time.sleep(_LOCK_POLL_SECONDS)


def _lock_descriptor(descriptor: int) -> None:
    """Take the lock of an open file without waiting; OSError if another holds it."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _lock_timeout() -> float:
    """``GITIMPORT_LOCK_TIMEOUT``, checked: ``float()`` takes ``nan``, which no deadline ever passes."""
    raw = os.environ.get(ENV_LOCK_TIMEOUT)
    if raw is None:
        return LOCK_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        from ..errors import ConfigError

        raise ConfigError(
            f"{ENV_LOCK_TIMEOUT} must be a number of seconds, 0 or more, not {raw!r}.", f"for example {ENV_LOCK_TIMEOUT}=600, or unset it"
        )
    return value


_CACHE_DIR_HINT = f"check the folder's permissions and free space, or point cache-dir (or {ENV_CACHE_DIR}) elsewhere"


def _command_line() -> str:
    """This process's command line as a holder file records it: without the userinfo of any URL on it.

    The holder sits in a cache that other users and tools may read, and
    ``gitimport add NAME https://user:token@host/repo@v1`` puts a token on the
    command line.
    """
    from ..project.spec import redact_url

    return " ".join(redact_url(arg) for arg in sys.argv)[:200]


def _read_holder(holder: Path) -> str:
    """Who holds a lock, for the timeout message (redacted again: a holder written before redaction existed)."""
    from ..project.spec import redact_url

    try:
        return redact_url(holder.read_text(encoding="utf-8")) or "another process"
    except (OSError, UnicodeDecodeError):
        return "another process"


@dataclass
class _Held:
    """This process's hold on one project lock: a thread lock, and how deep the holding thread is in it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0


_held: dict[str, _Held] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def project_lock(cache_root: Path, config_path: Path) -> Iterator[None]:
    """Hold the lock of the project whose config is ``config_path``: one edit of its config and lock at a time.

    ``add``, ``remove`` and ``sync`` each read the config and the lock,
    work, and write them back; two at once would lose one's changes (eight
    parallel ``add`` calls left one entry in the lock).  The lock file is
    ``locks-v1/project-<hash of the config's resolved path>.lock`` in the
    cache, so the project folder gets no lock file of its own.  It is
    re-entrant in one thread (``add`` holds it and calls ``sync``, which
    takes it again) and exclusive between threads and processes.
    """
    import hashlib

    name = "project-" + hashlib.sha256(str(config_path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    cache = Cache(cache_root)
    key = str(cache.root.absolute() / layout.LOCKS / name)
    with _held_guard:
        held = _held.setdefault(key, _Held())
    with held.lock, contextlib.ExitStack() as outermost:
        if held.depth == 0:
            outermost.enter_context(cache.lock(name))
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1


def read_manifest(location: TreeLocation) -> dict[str, object]:
    import json

    with open(location.manifest, encoding="utf-8") as handle:
        manifest: dict[str, object] = json.load(handle)
    return manifest


def keep_in_store(target: Path, stored: Path) -> None:
    """Keep a hard link to a finished, read-only file in a content-addressed store.

    The stores are how identical files in different trees (an upgrade that
    changes one file of three hundred) take their space once.  Where hard
    links are not possible, or another process stored the file first, this
    does nothing: a store is an optimization, never a requirement.
    """
    with contextlib.suppress(OSError):
        stored.parent.mkdir(parents=True, exist_ok=True)
        atomic.publish_link(target, stored)


def link_from_store(stored: Path, target: Path) -> bool:
    """Hard-link a stored file to ``target``; False when that is not possible."""
    try:
        os.link(stored, target)
    except OSError:
        return False
    return True
