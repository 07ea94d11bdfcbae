"""The ``sys.meta_path`` finder that serves configured names from the cache.

It answers only for names the configuration (or ``pin()``) maps, with one dict
lookup for every other import of the process, and leaves loading to the
standard loaders over the materialized files: ``SourceFileLoader`` for modules
and packages, the namespace machinery for namespace packages.  Submodules are
then found by the path finder through the package's ``__path__``.

The warm path (lock entry present, tree in the cache) reads nothing but one
``stat`` per pinned root and never imports dulwich.  When something is
missing, the cold path runs a sync of that one module; every failure there
reaches the importer as an ``ImportError`` that says what to run.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import spec_from_file_location
from types import ModuleType

from .cache import Cache, ensure_bytecode
from .config import Config, load_config
from .errors import GitImportError, GitImportImportError
from .lock import LockEntry, read_lock
from .spec import Spec


class GitImportFinder:
    """Finds configured module names in the gitimport cache."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.cache = Cache(config.cache_dir)
        self._specs: dict[str, Spec] = dict(config.modules)
        self._entries: dict[str, LockEntry] = {}
        self._parents: set[str] = set()
        self._busy: set[str] = set()
        self._mutex = threading.RLock()
        self._load_lock()
        for name in self._specs:
            self._add_parents(name)

    def _load_lock(self) -> None:
        """Keep the lock entries that still match their spec; others are missing."""
        lock = read_lock(self.config.lockfile)
        self._entries = {
            name: entry for name, entry in lock.modules.items() if name in self._specs and entry.spec == self._specs[name].redacted
        }

    def _add_parents(self, name: str) -> None:
        parts = name.split(".")
        for i in range(1, len(parts)):
            self._parents.add(".".join(parts[:i]))

    def register(self, name: str, entry: LockEntry) -> None:
        """Serve ``name`` from a resolved entry (used by ``pin()``)."""
        with self._mutex:
            self._entries[name] = entry
            self._specs.pop(name, None)
            self._add_parents(name)

    def entry(self, name: str) -> LockEntry | None:
        """The entry ``name`` is served from, when it is locked or pinned."""
        return self._entries.get(name)

    def names(self) -> list[str]:
        return sorted(set(self._specs) | set(self._entries))

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> ModuleSpec | None:
        """Return a spec for a pinned name; ``None`` for everything else, quickly."""
        entry = self._entries.get(fullname)
        if entry is None:
            if fullname in self._specs:
                entry = self._cold_path(fullname)
            elif fullname in self._parents:
                return _namespace_parent(fullname, path)
            else:
                return None
        return self._spec_for(fullname, entry)

    def _spec_for(self, name: str, entry: LockEntry) -> ModuleSpec | None:
        location = self.cache.tree(entry.object, entry.root_name or name.rsplit(".", 1)[-1])
        if not location.bytecode_record.exists():
            if not location.manifest.exists():
                entry = self._cold_path(name)
                location = self.cache.tree(entry.object, entry.root_name or name.rsplit(".", 1)[-1])
            ensure_bytecode(self.cache, location)
        root = str(location.path)
        if entry.kind == "module":
            return spec_from_file_location(name, root)
        if entry.kind == "package":
            return spec_from_file_location(name, f"{root}/__init__.py", submodule_search_locations=[root])
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [root]
        return spec

    def _cold_path(self, name: str) -> LockEntry:
        """Resolve, fetch and materialize one module; raise ImportError on failure."""
        with self._mutex:
            if name in self._busy:
                raise GitImportImportError(f"gitimport cannot import {name!r} while fetching it.", name=name)
            self._busy.add(name)
            try:
                from .sync import sync

                report = sync(self.config, only=[name], warn=_stderr)
            except GitImportError as exc:
                hint = exc.hint or ""
                if "gitimport sync" not in hint:
                    hint = f"{hint}; then run `gitimport sync`" if hint else "run `gitimport sync`"
                raise GitImportImportError(f"Cannot import {name!r} with gitimport: {exc.message}\nhint: {hint}", name=name) from None
            finally:
                self._busy.discard(name)
            entry = next(outcome.entry for outcome in report.modules if outcome.name == name)
            self._entries[name] = entry
            return entry

    def invalidate_caches(self) -> None:
        """Re-read the lock, so a sync in another process is seen (importlib.invalidate_caches)."""
        with contextlib.suppress(GitImportError):
            self._load_lock()


def _namespace_parent(name: str, path: Sequence[str] | None) -> ModuleSpec | None:
    """A missing parent of a dotted name becomes a namespace package.

    Portions found on ``sys.path`` are kept (PathFinder builds a dynamic
    namespace path); a regular package of that name is left to the path finder.
    """
    found = PathFinder.find_spec(name, path)
    if found is not None:
        return found if found.origin in (None, "namespace") else None
    spec = ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = []
    return spec


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


_installed: GitImportFinder | None = None


def install(config: Config | None = None) -> GitImportFinder:
    """Put the finder on ``sys.meta_path`` just before the path finder (idempotent).

    Raises:
      GitImportError: a configuration or lock file that cannot be read.
    """
    global _installed
    if _installed is not None and _installed in sys.meta_path:
        return _installed
    finder = GitImportFinder(config if config is not None else load_config())
    _warn_already_imported(finder)
    position = next((i for i, f in enumerate(sys.meta_path) if f is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(position, finder)
    _installed = finder
    return finder


def uninstall() -> None:
    """Remove the finder; modules already imported stay imported."""
    global _installed
    if _installed is not None and _installed in sys.meta_path:
        sys.meta_path.remove(_installed)
    _installed = None


def installed_finder() -> GitImportFinder | None:
    return _installed


def _warn_already_imported(finder: GitImportFinder) -> None:
    cache_root = str(finder.cache.root)
    for name in finder.names():
        module = sys.modules.get(name)
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        if module is not None and not origin.startswith(cache_root):
            warnings.warn(
                f"{name!r} was imported before gitimport.install() (from {origin or 'elsewhere'}); that copy stays in use",
                stacklevel=3,
            )
