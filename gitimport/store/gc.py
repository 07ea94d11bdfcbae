"""Which projects use the cache, and removing what none of them needs (``gitimport gc``).

Every sync records its lock file in ``<cache>/projects-v1.json``; ``gc`` reads
each recorded lock that still exists and keeps exactly what those locks
reference in the folders of :data:`gitimport.store.layout.COLLECTED`: the
trees, the bare repositories, the distribution records, the ``pin()`` records
whose tree is kept and the namespace farms.  Everything else in those folders
goes, and then every stored blob or .pyc file that no remaining tree links
to.  A project whose lock was never synced on this machine is unknown to gc:
its next sync rebuilds what it needs, which is always safe
(docs/how-it-works.md#cache-layout).  This module never touches the network and
never imports dulwich.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from . import layout
from .cache import Cache
from .layout import COLLECTED, DIST_POINTERS, DISTS, LOCKS, NAMESPACES, PINS, PROJECTS, REPOS, STORES, TAG, TREES
from .usage import Usage, measure


@dataclass(frozen=True)
class Project:
    """A lock file that uses the cache, and the folder its relative local paths resolve against."""

    lockfile: Path
    base: Path


def register_project(cache_root: Path, lockfile: Path, base: Path) -> None:
    """Record a lock in the cache's project registry (once; cheap when already there)."""
    project = Project(lockfile.absolute(), base.absolute())
    if project in read_projects(cache_root):
        return
    cache = Cache(cache_root)
    try:
        with cache.lock("projects"):
            projects = read_projects(cache_root)
            if project not in projects:
                _write_projects(cache_root, [*projects, project])
    except OSError:
        return  # a cache we cannot write is not an error for sync


def read_projects(cache_root: Path) -> list[Project]:
    """Every registered project, in the order they were first synced."""
    try:
        with open(cache_root / PROJECTS, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    items = data.get("projects", []) if isinstance(data, dict) else []
    return [
        Project(Path(item["lockfile"]), Path(item["base"]))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("lockfile"), str) and isinstance(item.get("base"), str)
    ]


def _write_projects(cache_root: Path, projects: list[Project]) -> None:
    """Rewrite the registry; callers hold the ``projects`` lock, which created the cache folder."""
    atomic.write_json(
        cache_root / PROJECTS, {"version": 1, "projects": [{"lockfile": str(p.lockfile), "base": str(p.base)} for p in projects]}
    )


@dataclass
class Collection:
    """What gc removes (or would remove) and what it keeps."""

    projects: list[Path] = field(default_factory=list)  # the locks that were read
    forgotten: list[Path] = field(default_factory=list)  # registered locks that no longer exist
    removed: list[Path] = field(default_factory=list)
    freed: int = 0
    size: int | None = None  # with a size cap: the cache's size before, every file counted once
    left: int | None = None  # with a size cap: its size after (an estimate with dry_run)


def collect_garbage(
    cache_root: Path, extra_projects: Iterable[Project] = (), dry_run: bool = False, usage: Usage | None = None
) -> Collection:
    """Remove every cache entry that no known lock references; return what went.

    ``extra_projects`` (the current project, even if never registered) count
    as known.  With ``dry_run``, nothing is removed and the result says what
    would be, store copies that would lose their last tree included.
    ``usage`` is the cache as the caller just measured it, to spare a second walk.

    Raises:
      LockFileError: a registered lock file that exists but cannot be read.
      ConfigError: the folder is not a cache gitimport created (see :meth:`Cache.create`).
    """
    cache, result, keep = _prepare(cache_root, extra_projects)
    usage = usage or measure(cache_root)
    result.removed = [
        entry.path
        for entry in usage.entries
        if entry.section != layout.SCRIPTS and entry.path.name not in keep.get(entry.section, ())  # retired folders: never kept
    ]
    result.freed = usage.frees(result.removed)
    _finish(cache, result, dry_run)
    return result


def collect_to_size(
    cache_root: Path, max_size: int, extra_projects: Iterable[Project] = (), include_used: bool = False, dry_run: bool = False
) -> Collection:
    """Remove the least recently used entries until the cache holds at most ``max_size`` bytes.

    Entries that no known lock references go first, oldest use first; those a
    lock still uses only with ``include_used`` (the next import or sync
    fetches them again).  An entry that is removed frees its store copies
    that nothing else links, so sizes count every file once
    (:mod:`gitimport.store.usage`).

    Raises:
      LockFileError, ConfigError: as :func:`collect_garbage`.
    """
    cache, result, keep = _prepare(cache_root, extra_projects)
    usage = measure(cache_root)
    result.size = left = usage.total
    unused = [e for e in usage.entries if e.path.name not in keep.get(e.section, ())]
    used = [e for e in usage.entries if e.path.name in keep.get(e.section, ())] if include_used else []
    for entry in [*sorted(unused, key=lambda e: e.last_used), *sorted(used, key=lambda e: e.last_used)]:
        if left <= max_size:
            break
        result.removed.append(entry.path)
        left -= entry.frees  # a lower bound: files it shares with an entry removed later are freed then
    result.freed = usage.frees(result.removed)  # exact: files several removed entries shared count too
    result.left = usage.total - result.freed
    _finish(cache, result, dry_run)
    return result


def _prepare(cache_root: Path, extra_projects: Iterable[Project]) -> tuple[Cache, Collection, dict[str, set[str]]]:
    """The cache, a collection listing the known locks, and what those locks reference."""
    cache = Cache(cache_root)
    if os.path.lexists(cache_root):
        cache.create()  # only gitimport's own folder: its names could be anyone's in a home folder
    result = Collection()
    projects: list[Project] = []
    for project in [*read_projects(cache_root), *extra_projects]:
        if project in projects:
            continue
        if project.lockfile.is_file():
            projects.append(project)
            result.projects.append(project.lockfile)
        elif project.lockfile not in result.forgotten:
            result.forgotten.append(project.lockfile)
    return cache, result, _referenced(cache, projects)


def _finish(cache: Cache, result: Collection, dry_run: bool) -> None:
    """Remove what the collection lists (unless ``dry_run``), then the store copies and leftovers nothing uses."""
    if dry_run:
        return
    for path in result.removed:
        _remove(cache, path)
    _sweep_stores(cache.root)
    cache.remove_stale_builds()
    atomic.sweep_stale(str(cache.root / LOCKS))  # holder files of killed processes, half-written
    if result.forgotten:
        with cache.lock("projects"):
            _write_projects(cache.root, [p for p in read_projects(cache.root) if p.lockfile not in result.forgotten])


def _sweep_stores(cache_root: Path) -> None:
    """Drop stored blobs and .pyc files that no tree links to any more.

    A file in ``blobs-v1`` or ``pyc-v1`` with one link is only the store's own
    copy: every tree that shared it is gone.
    """
    for store in STORES:
        for folder, _, names in os.walk(cache_root / store):
            for name in names:
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    if os.lstat(path).st_nlink == 1 and not name.startswith("."):
                        os.unlink(path)


def _referenced(cache: Cache, projects: list[Project]) -> dict[str, set[str]]:
    """Names to keep, per folder: trees, repos, dist folders, dist pointers, pins and namespace farms."""
    from ..errors import GitImportError
    from ..project.lock import read_lock
    from ..project.spec import parse_spec
    from .metadata import dist_pointer, recorded_distribution
    from .namespaces import farm_links, farm_name

    keep: dict[str, set[str]] = {section: set() for section in (*COLLECTED, DIST_POINTERS)}
    for project in projects:
        roots: dict[str, tuple[str, str] | None] = {}
        for name, entry in read_lock(project.lockfile).modules.items():
            location = cache.locked_tree(name, entry)
            keep[TREES].add(location.entry.name)
            roots[name] = (entry.kind, str(location.path))
            try:
                identity = parse_spec(entry.spec, project.base).repo.identity
            except GitImportError:
                continue
            keep[REPOS].add(cache.repo_dir(identity).name)
            keep[DIST_POINTERS].add(dist_pointer(cache.root, identity, entry.commit, entry.path).name)
            dist_info = recorded_distribution(cache.root, identity, entry.commit, entry.path)
            if dist_info:
                keep[DISTS].add(Path(dist_info).parent.name)
        links = farm_links(roots)
        if links:
            keep[NAMESPACES].add(farm_name(links))
    keep[PINS] = _kept_pins(cache, keep[TREES])
    return keep


def _kept_pins(cache: Cache, trees: set[str]) -> set[str]:
    """``pin()`` records whose tree stays; a pin without one is re-resolved on its next use."""
    kept = set()
    folder = cache.root / PINS
    for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            with open(record, encoding="utf-8") as handle:
                data = json.load(handle)
            location = cache.tree(data["object"], layout.root_name(data["path"], data["name"]), data.get("generated"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if location.entry.name in trees:
            kept.add(record.name)
    return kept


def _remove(cache: Cache, path: Path) -> None:
    """Remove one entry under the lock its writers take, so no sync sees half of it."""
    if path.parent.name in (REPOS, TREES):
        with cache.lock(path.name):
            atomic.remove(path)
    else:
        atomic.remove(path)


def clean_cache(cache_root: Path) -> tuple[int, list[str]]:
    """Remove what gitimport created in the cache folder; return the bytes freed and the names left alone.

    Only a folder gitimport created (or adopts: see :meth:`Cache.create`) is
    touched, so a ``cache-dir`` that names a home folder cannot lose it; and
    in it only the names of :data:`layout.ENTRIES` go.  The folder itself
    goes when nothing else is in it; a file someone put there since stays,
    and so does the tag, so the folder is still known as gitimport's.

    Raises:
      ConfigError: the folder is a file, or holds files gitimport did not create and no tag.
    """
    if not os.path.lexists(cache_root):
        return 0, []
    cache = Cache(cache_root)
    cache.create()
    kept = cache.foreign_entries()
    usage = measure(cache_root)
    if not kept and not cache_root.is_symlink():
        atomic.remove(cache_root)
        return usage.total, []
    for name in sorted(set(os.listdir(cache_root)) - {*kept, TAG}):
        atomic.remove(cache_root / name)
    return usage.total - sum(usage.sections.get(name, 0) for name in (*kept, TAG)), kept
