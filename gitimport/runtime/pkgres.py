"""``pkg_resources`` answers for pinned packages: they join its working set as installed ones do.

pkg_resources builds its working set once, as it is imported, from the
``.dist-info`` folders it finds on ``sys.path``.  The cache is not on
``sys.path`` and must never be put there (the finder serves pinned modules,
with the lock's checks), so the pinned distributions are placed into
``pkg_resources.working_set`` directly: as soon as pkg_resources has finished
importing (:func:`watch`), or by ``install()`` when it was imported first,
or after a cold path brought in a new one (:func:`add_pinned`).  Each takes
the place of installed distributions of the same PEP 503 name, as in
``importlib.metadata``; ``uninstall()`` takes them out and puts those back
(:func:`withdraw`).  They are placed as pkg_resources places what it finds on
``sys.path`` when it starts: listed, never activated (activating one would put
its folder on ``sys.path``).

This module is imported only in a process that imports pkg_resources.  It
never imports pkg_resources while the import system is looking for it, never
runs while pkg_resources' own module code runs (a frame of ours on the stack
would be blamed for the warning pkg_resources gives about its own deprecation),
and never adds a warning of its own.  The working set's ``by_key``,
``entry_keys``, ``entries`` and ``normalized_to_canonical_keys`` are the only
parts of pkg_resources it changes.
"""

from __future__ import annotations

import sys

from packaging.utils import canonicalize_name  # PEP 503, as the working set normalizes its keys

from .finder import installed_finder

try:
    from _frozen_importlib import ModuleSpec
except ImportError:  # pragma: no cover - interpreters other than CPython
    from importlib.machinery import ModuleSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

    from pkg_resources import Distribution, WorkingSet

    from ..state import Dists
    from .finder import GitImportFinder

#: The working set the records below describe (a program may build a new one).
_working_set: WorkingSet | None = None
#: normalized name -> (its .dist-info folder, the distribution placed,
#: the distributions it displaced, each with the working set entries that listed it).
_placed: dict[str, tuple[str, Distribution, list[tuple[Distribution, list[str | None]]]]] = {}


class _AddsPinnedOnceLoaded(ModuleSpec):
    """pkg_resources' own spec, unchanged but for one moment: the end of its import.

    The import system sets ``_initializing`` to False on a module's spec once
    the module has run (``_load_unlocked`` in ``importlib._bootstrap``, every
    CPython since 3.4).  That is when the working set exists and when the
    pinned distributions join it, with no frame of ours on the stack while
    pkg_resources' own code runs.  The spec then becomes a plain
    ``ModuleSpec`` again.
    """

    @property
    def _initializing(self) -> bool:
        return bool(self.__dict__.get("_initializing", False))

    @_initializing.setter
    def _initializing(self, value: bool) -> None:
        self.__dict__["_initializing"] = value
        if value:
            return
        self.__class__ = ModuleSpec  # type: ignore[assignment]
        finder = installed_finder()
        if finder is not None and finder.dists and "pkg_resources" in sys.modules:  # absent when its import failed
            add_pinned(finder.dists)


def watch(finder: GitImportFinder, path: Sequence[str] | None, target: ModuleType | None) -> ModuleSpec | None:
    """The spec the finders after ``finder`` give pkg_resources, set to add the pinned distributions once it is loaded."""
    meta_path = sys.meta_path
    for other in meta_path[meta_path.index(finder) + 1 :]:
        find_spec = getattr(other, "find_spec", None)
        spec = find_spec("pkg_resources", path, target) if find_spec is not None else None
        if spec is not None:
            if type(spec) is ModuleSpec:
                spec.__class__ = _AddsPinnedOnceLoaded
            return spec  # type: ignore[no-any-return]
    return None


def add_pinned(dists: Dists) -> None:
    """Place the pinned distributions into ``pkg_resources.working_set``, each instead of installed ones of its name.

    Nothing happens while pkg_resources is still being imported (a pinned
    module it imports may take the cold path): its working set is not
    complete yet, and :func:`watch` places them once it is.
    """
    if getattr(sys.modules["pkg_resources"].__spec__, "_initializing", False):
        return
    working_set = _current_working_set()
    for name, (dist_info, members) in sorted(dists.items(), reverse=True):  # each goes to the front: they end in name order
        if name in _placed:
            if _placed[name][0] == dist_info:
                continue
            _take_out(working_set, name)
        displaced = [_unlist(working_set, key) for key in list(working_set.by_key) if canonicalize_name(key) == name]
        location = _location(members)
        dist = _distribution(location, dist_info)
        if location not in working_set.entries:
            working_set.entries.insert(0, location)  # first in the search order, as importlib.metadata lists them
        _list(working_set, dist, [location])
        _placed[name] = (dist_info, dist, displaced)


def withdraw() -> None:
    """Take the pinned distributions out of the working set and put back the ones they displaced (``uninstall()``)."""
    if not _placed:
        return
    working_set = _current_working_set()
    for name in list(_placed):
        _take_out(working_set, name)


def _current_working_set() -> WorkingSet:
    """``pkg_resources.working_set``; records about an earlier working set are forgotten with it."""
    global _working_set
    working_set: WorkingSet = sys.modules["pkg_resources"].working_set
    if working_set is not _working_set:
        _working_set = working_set
        _placed.clear()
    return working_set


def _location(members: tuple[tuple[str, str, str], ...]) -> str:
    """The cache folder holding a distribution's first package (or, with none, its first module).

    It holds the package as site-packages holds an installed one:
    ``os.path.join(dist.location, "pkg")`` is the package's folder.
    """
    return min(members, key=lambda member: (member[0].endswith(".py"), member[0]))[1]


def _distribution(location: str, dist_info: str) -> Distribution:
    """What pkg_resources makes of ``dist_info`` when it finds one in ``location`` on ``sys.path``."""
    import os

    from pkg_resources import DEVELOP_DIST, Distribution, PathMetadata

    return Distribution.from_location(location, os.path.basename(dist_info), PathMetadata(location, dist_info), precedence=DEVELOP_DIST)


def _take_out(working_set: WorkingSet, name: str) -> None:
    """Remove one pinned distribution and its entry; list again what it displaced."""
    _, dist, displaced = _placed.pop(name)
    if working_set.by_key.get(dist.key) is dist:
        _unlist(working_set, dist.key)
    if dist.location in working_set.entries and not working_set.entry_keys.get(dist.location):
        working_set.entries.remove(dist.location)
        del working_set.entry_keys[dist.location]
    for old, entries in displaced:
        _list(working_set, old, entries)


def _list(working_set: WorkingSet, dist: Distribution, entries: list[str | None]) -> None:
    """Make ``dist`` the working set's answer for its key, listed under ``entries``."""
    working_set.by_key[dist.key] = dist
    canonical = getattr(working_set, "normalized_to_canonical_keys", None)  # setuptools 67 and newer
    if canonical is not None:
        canonical[canonicalize_name(dist.key)] = dist.key
    for entry in entries:
        keys = working_set.entry_keys.setdefault(entry, [])
        if dist.key not in keys:
            keys.append(dist.key)


def _unlist(working_set: WorkingSet, key: str) -> tuple[Distribution, list[str | None]]:
    """Remove ``key`` from the working set; return its distribution and the entries that listed it."""
    dist = working_set.by_key.pop(key)
    entries = [entry for entry, keys in working_set.entry_keys.items() if key in keys]
    for entry in entries:
        working_set.entry_keys[entry].remove(key)
    canonical = getattr(working_set, "normalized_to_canonical_keys", {})
    if canonical.get(canonicalize_name(key)) == key:
        del canonical[canonicalize_name(key)]
    return dist, entries
