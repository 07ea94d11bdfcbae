"""The content-addressed cache on disk (see docs/how-it-works.md#cache-layout), without any git machinery.

:class:`Cache` turns names into paths under one cache folder (the names
themselves are in :mod:`gitimport.store.layout`) and holds the inter-process
locks.  Invariants kept by the store: a ``trees-v1`` entry is complete or
absent (it is built in ``tmp-v1`` and renamed into place in one step); its
files are read-only; ``bytecode-<tag>.json`` exists only after every ``.pyc``
it lists is written.  This module must not import dulwich, and the common
question "is this tree here and compiled for me?" costs one ``stat``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic
from ..project.discovery import ENV_LOCK_TIMEOUT
from . import layout

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
    def bytecode_record(self) -> Path:
        return self.entry / layout.bytecode_record_name()

    @property
    def complete(self) -> bool:
        """The tree is in the cache (its manifest is written last, just before it is published)."""
        return self.manifest.is_file()


class Cache:
    """Paths and small operations on one cache folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def repo_dir(self, identity: str) -> Path:
        """The bare repository for a normalized URL; the slug is for people only."""
        import hashlib

        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in identity.rstrip("/").rsplit("/", 1)[-1])[:40]
        key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        return self.root / layout.REPOS / f"{key}-{slug}"

    def tree(self, object_id: str, root: str) -> TreeLocation:
        """Where the tree or blob ``object_id`` is materialized under the name ``root``."""
        return TreeLocation(self.root / layout.TREES / layout.tree_entry_name(object_id, root), root)

    def has_tree(self, object_id: str, root: str) -> bool:
        return self.tree(object_id, root).complete

    def locked_tree(self, module: str, entry: LockEntry) -> TreeLocation:
        """Where the root of ``module``'s lock entry is materialized."""
        return self.tree(entry.object, layout.root_name(entry.path, module))

    def folder(self, name: str) -> Path:
        """A top-level folder of the layout (``layout.PINS``, ``layout.DISTS``, …)."""
        return self.root / name

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an inter-process lock on ``name`` (a repository key or tree entry).

        The holder writes its pid and command beside the lock, so a process
        that waits too long (``GITIMPORT_LOCK_TIMEOUT`` seconds, default 600)
        can say who is in the way.
        """
        from filelock import FileLock, Timeout

        folder = self.root / layout.LOCKS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.lock"
        holder = folder / f"{name}.holder"
        timeout = float(os.environ.get(ENV_LOCK_TIMEOUT, LOCK_TIMEOUT_SECONDS))
        lock = FileLock(str(path), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            from ..errors import GitImportError

            raise GitImportError(
                f"Waited {timeout:g} s for the cache lock {path}, held by {_read_holder(holder)}.",
                "wait for that process to finish, or stop it; the lock is released when it exits",
            ) from None
        try:
            with contextlib.suppress(OSError):
                holder.write_text(f"process {os.getpid()} ({' '.join(sys.argv)[:200]})", encoding="utf-8")
            yield
        finally:
            lock.release()

    def new_build_dir(self) -> Path:
        """A fresh temporary folder on the cache's file system, for atomic renames.

        Its name carries our pid, so :meth:`remove_stale_builds` can tell the
        leftovers of a killed process from the work of a running one.
        """
        return Path(atomic.new_staging_folder(self.root / layout.TMP / "build"))

    def remove_stale_builds(self) -> None:
        """Remove build folders of processes that no longer run (killed mid-sync)."""
        atomic.sweep_stale(str(self.root / layout.TMP))


def _read_holder(holder: Path) -> str:
    try:
        return holder.read_text(encoding="utf-8") or "another process"
    except OSError:
        return "another process"


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
        temporary = stored.with_name(atomic.temporary_name(stored.name))
        os.link(target, temporary)
        os.replace(temporary, stored)


def link_from_store(stored: Path, target: Path) -> bool:
    """Hard-link a stored file to ``target``; False when that is not possible."""
    try:
        os.link(stored, target)
    except OSError:
        return False
    return True
