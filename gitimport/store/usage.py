"""What each part of the cache holds, and when each entry was last used: the numbers behind ``cache size`` and ``gc --max-size``.

**Use** is the modification time of an entry's folder or file.  ``sync``
marks the trees, repositories and distributions it serves (the finder's cold
path runs a sync, so it does too), which costs one ``utime`` per module; a
warm import writes nothing (a module's first import writes only its ``.pyc``
and record, and none where it cannot), so a cache on a read-only disk stays
read-only.
A tree that only warm imports use looks old, but a registered lock keeps it
(docs/commands.md#gc).

**Size** counts every file once: a tree's files are hard links into the
blob and bytecode stores (docs/how-it-works.md#cache-layout), so adding up
``st_size`` per path would count most bytes twice.  A file is shown under
the store that holds it, and what removing an entry frees counts its store
copies that nothing else links.  This module never touches the network.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from . import layout

#: Folders whose entries gc may remove, one entry per child (dist pointers are entries of their own).
EVICTABLE = (*layout.COLLECTED, layout.SCRIPTS)


def mark_used(paths: Iterable[Path | str]) -> None:
    """Record that these cache entries were used now (a cache we cannot write is fine)."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.utime(path)


@dataclass
class Entry:
    """One removable cache entry."""

    section: str  # the layout folder it is in (layout.DIST_POINTERS for a distribution record)
    path: Path
    last_used: float
    frees: int = 0  # bytes that removing it frees, store copies only it links included


@dataclass
class _File:
    size: int
    links: int  # st_nlink
    seen: int = 0  # links found in the cache
    owners: set[int] = field(default_factory=set)  # indexes into Usage.entries; a store's link is no owner


@dataclass
class Usage:
    """The cache measured in one walk."""

    total: int = 0  # bytes, every file once
    sections: dict[str, int] = field(default_factory=dict)  # top-level name -> bytes of the files it holds
    entries: list[Entry] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)

    def frees(self, paths: Iterable[Path]) -> int:
        """Bytes that removing these entries together frees: files they alone link (with their store copies)."""
        chosen = {i for i, entry in enumerate(self.entries) if entry.path in set(paths)}
        return sum(f.size for f in self.files if f.owners and f.owners <= chosen and f.seen == f.links)


def measure(cache_root: Path) -> Usage:
    """Walk the cache once: sizes per top-level folder, and each removable entry's last use and what removing it frees."""
    usage = Usage()
    files: dict[tuple[int, int], _File] = {}
    sections: dict[tuple[int, int], str] = {}
    if not cache_root.is_dir():
        return usage
    for top in sorted(cache_root.iterdir()):
        for owner, path in _owners(top, usage):
            for status in _files_under(path):
                key = (status.st_dev, status.st_ino)
                record = files.get(key)
                if record is None:
                    record = files[key] = _File(status.st_size, status.st_nlink)
                    sections[key] = top.name
                record.seen += 1
                if top.name in layout.STORES:
                    sections[key] = top.name  # a shared file is shown under the store that holds it
                if owner is not None:
                    record.owners.add(owner)
    usage.files = list(files.values())
    for key, record in files.items():
        usage.total += record.size
        usage.sections[sections[key]] = usage.sections.get(sections[key], 0) + record.size
        if len(record.owners) == 1 and record.seen == record.links:
            (owner,) = record.owners
            usage.entries[owner].frees += record.size
    return usage


def _owners(top: Path, usage: Usage) -> Iterable[tuple[int | None, Path]]:
    """The paths under a top-level name, each with the entry that owns it (None: the store, the registry, locks…)."""
    if top.name in layout.RETIRED:  # a folder of an earlier layout goes whole
        yield _entry(usage, top.name, top), top
        return
    if top.name not in EVICTABLE or not top.is_dir() or top.is_symlink():
        yield None, top
        return
    for child in sorted(top.iterdir()):
        if top.name == layout.DISTS and child.name == layout.DIST_POINTERS and child.is_dir():
            for pointer in sorted(child.iterdir()):
                yield _entry_unless_in_progress(usage, layout.DIST_POINTERS, pointer), pointer
        else:
            yield _entry_unless_in_progress(usage, top.name, child), child


def _entry_unless_in_progress(usage: Usage, section: str, path: Path) -> int | None:
    """A new entry, except for a running process's temporary file (``.name.<pid>.tmp``): counted, never removable.

    A killed process's temporaries are entries like any other, so gc removes them.
    """
    return None if atomic.in_progress(path.name) else _entry(usage, section, path)


def _entry(usage: Usage, section: str, path: Path) -> int:
    try:
        last_used = path.lstat().st_mtime
    except OSError:
        last_used = 0.0
    usage.entries.append(Entry(section, path, last_used))
    return len(usage.entries) - 1


def _files_under(path: Path) -> Iterable[os.stat_result]:
    """The status of every file and symlink at or under ``path``, never following links."""
    try:
        status = os.lstat(path)
    except OSError:
        return
    if not os.path.isdir(path) or os.path.islink(path):
        yield status
        return
    for folder, dirs, names in os.walk(path):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            with contextlib.suppress(OSError):
                yield os.lstat(os.path.join(folder, name))
