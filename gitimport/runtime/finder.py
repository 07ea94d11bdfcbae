"""The ``sys.meta_path`` finder that serves configured names from the cache.

It answers only for names the configuration (or ``pin()``) maps, with one dict
lookup for every other import of the process, and leaves loading to the
standard loaders over the materialized files: ``SourceFileLoader`` (as
:class:`TreeLoader`) for modules and packages, the namespace machinery for
namespace packages.  Modules inside a cached package are found from one
listing of each folder, since a materialized tree never changes; what that
listing does not settle is left to the path finder.  One name more,
``pkg_resources``, gets its own spec back from the finders after this one,
set to list the pinned distributions in its working set once it is loaded
(:mod:`gitimport.runtime.pkgres`, imported only then).

The warm path must cost about what a plain ``sys.path`` import costs, so this
module imports nothing beyond what every interpreter has loaded at start-up:
it finds the config with :mod:`gitimport.project.discovery` and reads the
runtime snapshot that :mod:`gitimport.state` wrote, instead of parsing TOML
and specs.  Anything else (a stale or missing snapshot, a tree missing from
the cache, a spec changed since the lock) takes the cold path, which imports
the full machinery lazily and runs a sync of that one module: that lazy
import of :mod:`gitimport.sync` is the one edge of the package that points
up a layer, and the only way the finder reaches the network.  Every failure
there reaches the importer as an ``ImportError`` that says what to run.
"""

import _imp
import _thread
import os
import sys

from ..project.discovery import ENV_CONFIG, ENV_RUN, find_config_file
from ..state import parents_of, read_snapshot, table_row, tree_ready, vouches
from ..store import layout

try:  # the objects importlib.machinery re-exports, without importing importlib
    from _frozen_importlib import ModuleSpec
    from _frozen_importlib_external import (  # type: ignore[attr-defined]
        MAGIC_NUMBER,
        PathFinder,
        SourceFileLoader,
        _compile_bytecode,
    )
except ImportError:  # pragma: no cover - interpreters other than CPython
    from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader
    from importlib.util import MAGIC_NUMBER

    _compile_bytecode = None

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path
    from types import ModuleType
    from typing import Any, TypeVar

    from ..project.config import Config
    from ..project.lock import LockEntry
    from ..state import Dists, Expected, ProjectState, Row, Table

    T = TypeVar("T")


class GitImportFinder:
    """Finds configured module names in the gitimport cache."""

    def __init__(
        self,
        config_path: "str | None",
        table: "Table",
        parents: "frozenset[str]" = frozenset(),
        dists: "Dists | None" = None,
        verify: "Expected | None" = None,
        farm: "str | None" = None,
    ) -> None:
        self.config_path = config_path
        self.farm = farm  # a sys.path entry holding namespace parents of dotted names (see gitimport.store.namespaces)
        self._table = table
        self._parents = set(parents)
        self._dists: Dists = dists or {}
        self._unverified: Expected = dict(verify or {})  # until verified
        self._busy: set[str] = set()
        #: the cache's trees folder with a trailing "/", once a row names it: modules below it are served by _submodule
        self._trees = next((os.path.dirname(row[2]) + "/" for row in table.values() if row is not None), "")
        self._listings: dict[str, dict[str, bool]] = {}
        self._mutex = _thread.RLock()
        self._own_imports = _thread._local()  # .active while this thread runs gitimport's own code in-process
        self._config: Config | None = None

    @classmethod
    def load(cls, config_path: "str | None" = None) -> "GitImportFinder":
        """Build the finder from the runtime snapshot, or from the config when it is stale."""
        path = os.path.abspath(config_path) if config_path else find_config_file(vouches=vouches, main_script=True)[0]
        if path is not None:
            snapshot = read_snapshot(path)
            if snapshot is not None:
                return cls(path, snapshot["table"], frozenset(snapshot["parents"]), snapshot["dists"], snapshot["verify"], snapshot["farm"])
        from ..project.config import load_config
        from ..state import ProjectState, write_snapshot

        state = ProjectState.load(load_config(_as_path(path) if path else None))
        write_snapshot(state)
        return cls.from_state(state)

    @classmethod
    def from_config(cls, config: "Config") -> "GitImportFinder":
        from ..state import ProjectState

        return cls.from_state(ProjectState.load(config))

    @classmethod
    def from_state(cls, state: "ProjectState") -> "GitImportFinder":
        config = state.config
        finder = cls(str(config.path) if config.path else None, dict(state.table), state.parents, state.dists, state.verify, state.farm)
        finder._config = config
        return finder

    @property
    def config(self) -> "Config":
        """The full configuration, parsed on first use (``pin()`` only).

        Parsing it imports tomli (before Python 3.11) and platformdirs, names a
        project may pin: while it runs, this thread's imports of pinned names
        go to the path finder, so gitimport's own code never runs a pinned copy.
        """
        if self._config is None:
            from ..project.config import load_config

            self._config = self.own_code(load_config, _as_path(self.config_path) if self.config_path else None)
        return self._config

    def own_code(self, work: "Callable[..., T]", *args: "Any") -> "T":
        """``work(*args)``, with this thread's imports of pinned names going to the path finder.

        gitimport's code in the importing process (parsing the config, asking
        the cold path's child) imports modules a project may pin: tomli,
        platformdirs, and standard-library names such as ``fcntl``, which
        ``subprocess`` imports on Python 3.11.  Served from the cache, a pinned
        copy would run inside gitimport's machinery.
        """
        outer = getattr(self._own_imports, "active", False)
        self._own_imports.active = True
        try:
            return work(*args)
        finally:
            self._own_imports.active = outer

    def names(self) -> "list[str]":
        return sorted(self._table)

    def register(self, name: str, entry: "LockEntry", cache_root: str) -> None:
        """Serve ``name`` from a resolved entry (used by ``pin()``)."""
        with self._mutex:
            self._serve(name, table_row(entry, name, cache_root))
            self._parents.update(parents_of(name))

    def _serve(self, name: str, row: "Row") -> None:
        """Serve ``name`` from ``row``; the first row names the cache's trees folder (see :meth:`_submodule`)."""
        self._table[name] = row
        self._trees = self._trees or os.path.dirname(row[2]) + "/"

    def served_from(self, name: str) -> "str | None":
        """The root folder or file ``name`` is served from, when it is ready."""
        row = self._table.get(name)
        return row[1] if row else None

    def find_spec(self, fullname: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None) -> "ModuleSpec | None":
        """A spec for a pinned name, a module of a cached tree, or pkg_resources (watched); ``None`` for the rest, quickly."""
        if fullname not in self._table:
            if fullname in self._parents:
                return _namespace_parent(fullname, path)
            if path is not None and self._trees and len(path) == 1 and path[0].startswith(self._trees):
                return self._submodule(fullname, path[0])
            if fullname == "pkg_resources" and self._dists:  # its working set will list the pinned distributions
                from .pkgres import watch

                return watch(self, path, target)
            return None
        if getattr(self._own_imports, "active", False):
            return None  # gitimport's own import of a name the project pins (see config)
        row = self._table[fullname]
        if row is None or not tree_ready(row):
            row = self._cold_path(fullname)
        if self._unverified and fullname in self._unverified:
            _verify_on_import(fullname, row, self._unverified[fullname])
            del self._unverified[fullname]  # only once it passed: a refused import is refused again
        return _spec_for(fullname, row[0], row[1], row[2])

    def _submodule(self, fullname: str, folder: str) -> "ModuleSpec | None":
        """A module of a package served from the cache, found from the folder's one listing.

        A materialized tree never changes, so its folders are listed once and
        never looked at again: no ``stat`` of the folder or the file, as the
        path finder makes for every import.  What the listing does not settle
        (a namespace portion, an extension module, a missing name) is left to
        the path finder, which answers as it would without gitimport.
        """
        leaf = fullname.rpartition(".")[2]
        entries = self._listing(folder)
        entry = self._trees + folder[len(self._trees) :].partition("/")[0]  # the tree entry folder holding it
        if entries.get(leaf) is True and self._listing(f"{folder}/{leaf}").get("__init__.py") is False:
            return _spec_for(fullname, "package", f"{folder}/{leaf}", entry)
        if entries.get(f"{leaf}.py") is False:
            return _spec_for(fullname, "module", f"{folder}/{leaf}.py", entry)
        return None

    def _listing(self, folder: str) -> "dict[str, bool]":
        """Names in a cached folder -> whether each is a folder (links are followed, as the path finder does)."""
        entries = self._listings.get(folder)
        if entries is None:
            try:
                with os.scandir(folder) as found:
                    entries = {entry.name: entry.is_dir() for entry in found}
            except OSError:
                entries = {}
            self._listings[folder] = entries
        return entries

    def _cold_path(self, name: str) -> "Row":
        """Resolve, fetch and materialize one module in a child process (:mod:`.coldpath`); ImportError on failure."""
        from ..errors import GitImportError, import_error

        with self._mutex:
            if name in self._busy:
                raise import_error(name, f"gitimport cannot import {name!r} while fetching it.")
            self._busy.add(name)
            try:
                row, dists = self.own_code(_prepare_in_child, self.config_path, name, self._table.get(name))
            except GitImportError as exc:
                hint = exc.hint or ""
                if "gitimport sync" not in hint:
                    hint = f"{hint}; then run `gitimport sync`" if hint else "run `gitimport sync`"
                raise import_error(name, f"Cannot import {name!r} with gitimport: {exc.message}", hint) from None
            except OSError as exc:  # the child could not start
                raise import_error(
                    name, f"Cannot import {name!r} with gitimport: {exc}", "check the interpreter, then run `gitimport sync`"
                ) from exc
            finally:
                self._busy.discard(name)
            self._serve(name, row)
            self._dists = dists  # a module just fetched may read its own version as it is imported
            _share_with_pkg_resources(self)
            return row

    def iter_modules(self, prefix: str = "") -> "Iterator[tuple[str, bool]]":
        """Top-level pinned names, for ``pkgutil.iter_modules()`` (as installed packages are listed)."""
        tops = {name: row for name, row in self._table.items() if "." not in name}
        for parent in self._parents:
            if "." not in parent and parent not in tops:
                tops[parent] = ("namespace", "", "")
        for name, row in sorted(tops.items()):
            yield prefix + name, row is None or row[0] != "module"

    @property
    def dists(self) -> "Dists":
        """The pinned distributions: normalized name -> (.dist-info folder, its modules' roots)."""
        return self._dists

    def find_distributions(self, context: "Any" = None) -> "Iterator[Any]":
        """Distributions of pinned packages, for ``importlib.metadata`` (pinned ones come first)."""
        if not self._dists:
            return iter(())
        from .dist import distributions

        return distributions(self._dists, getattr(context, "name", None))

    def invalidate_caches(self) -> None:
        """Forget the parsed config and the folder listings, so a sync or a repair in another process is seen."""
        self._config = None
        self._listings.clear()
        with self._mutex:
            for name in [n for n, row in self._table.items() if row is not None and not tree_ready(row)]:
                self._table[name] = None


def _verify_on_import(name: str, row: "Row", expected: "tuple[str, str, str, dict[str, str]]") -> None:
    """``verify = "import"``: re-hash the cached files, and check their binding to the lock, before the first import."""
    from ..store.verify import tree_problems

    digest, commit, path, generated = expected
    problems = tree_problems(row[2], os.path.basename(row[1]), digest, (commit, path), generated)
    if problems:
        from ..errors import import_error

        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise import_error(
            name,
            f"Refusing to import {name!r}: its cached files do not match the lock: {problems[0]}{more}.",
            "run `gitimport verify`, then `gitimport sync --repair` to restore them",
        )


def _spec_for(name: str, kind: str, root: str, entry: str) -> "ModuleSpec":
    """The spec ``spec_from_file_location`` would build, without importing importlib.util; ``entry`` is the tree entry folder."""
    if kind == "namespace":
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [root]
        return spec
    origin = f"{root}/__init__.py" if kind == "package" else root
    spec = ModuleSpec(name, TreeLoader(name, origin, entry), origin=origin, is_package=kind == "package")
    if kind == "package":
        spec.submodule_search_locations = [root]
    spec.has_location = True
    if _PYC_SUFFIX is not None:
        spec.cached = layout.pyc_path(origin, _PYC_SUFFIX)  # where TreeLoader reads it, whatever PYTHONPYCACHEPREFIX says
    return spec


class TreeLoader(SourceFileLoader):
    """The loader of a file in a materialized tree: ``SourceFileLoader`` that reads its ``.pyc`` at once, or writes it.

    Every ``.pyc`` in a tree is an unchecked hash-based one (PEP 552) compiled
    from a source that cannot change, so the ``stat`` of the source that
    ``SourceFileLoader`` makes to validate it has nothing to learn: one
    ``open`` and ``read`` load a module.  When this interpreter has no ``.pyc``
    of the file yet (its first import, for this Python version and ``-O``
    level), :func:`gitimport.store.bytecode.code_for_import` compiles the one
    source and writes and records its ``.pyc`` (docs/how-it-works.md#bytecode).
    Anything else (another header, ``--check-hash-based-pycs always``, a
    source that does not compile) falls back to ``SourceFileLoader`` itself,
    which then behaves exactly as it would, except that it never writes into
    the cache (:meth:`set_data`).
    """

    def __init__(self, fullname: str, path: str, entry: str = "") -> None:
        super().__init__(fullname, path)
        self.entry = entry  # the tree entry folder holding ``path``; "" for none: compile in memory

    def get_code(self, fullname: str) -> "Any":
        if _compile_bytecode is None or _PYC_SUFFIX is None:
            return super().get_code(fullname)
        bytecode_path = layout.pyc_path(self.path, _PYC_SUFFIX)
        try:
            with open(bytecode_path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            if not self.entry:
                return super().get_code(fullname)
            from ..store.bytecode import code_for_import

            code = code_for_import(self.get_data(self.path), self.path, self.entry)
            return code if code is not None else super().get_code(fullname)
        except OSError:
            return super().get_code(fullname)
        if data[:8] == _UNCHECKED_HASH_HEADER and _imp.check_hash_based_pycs != "always":
            return _compile_bytecode(memoryview(data)[16:], fullname, bytecode_path, self.path)
        return super().get_code(fullname)

    def set_data(self, path: str, data: "Any", *, _mode: int = 0o666) -> None:
        """Write nothing: ``SourceFileLoader`` would put a timestamp-based ``.pyc`` with no record into the cache."""


_UNCHECKED_HASH_HEADER = MAGIC_NUMBER + (0b01).to_bytes(4, "little")  # magic, then flags: hash-based, not checked
_PYC_SUFFIX = layout.bytecode_suffix() if sys.implementation.cache_tag else None  # cpython-311, cpython-311.opt-1, …


def _prepare_in_child(config_path: "str | None", name: str, served: "Row | None") -> "tuple[Row, Dists]":
    """:func:`.coldpath.prepare`, with the import of its module (json, subprocess) among gitimport's own imports."""
    from .coldpath import prepare

    return prepare(config_path, name, served)


def _as_path(path: str) -> "Path":
    from pathlib import Path

    return Path(path)


def _share_with_pkg_resources(finder: "GitImportFinder") -> None:
    """pkg_resources, when it is already imported, lists the pinned distributions too (docs/import-fidelity.md)."""
    if "pkg_resources" in sys.modules and finder.dists:
        from .pkgres import add_pinned

        add_pinned(finder.dists)


def _namespace_parent(name: str, path: "Sequence[str] | None") -> "ModuleSpec | None":
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


_installed: "GitImportFinder | None" = None


def install(config: "Config | None" = None, *, stacklevel: int = 2) -> "GitImportFinder":
    """Put the finder on ``sys.meta_path`` just before the path finder (idempotent).

    Raises:
      GitImportError: a configuration or lock file that cannot be read.
    """
    global _installed
    if _installed is not None and _installed in sys.meta_path:
        return _installed
    finder = GitImportFinder.from_config(config) if config is not None else GitImportFinder.load()
    _warn_already_imported(finder, stacklevel)
    _export_to_children(finder)
    position = next((i for i, f in enumerate(sys.meta_path) if f is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(position, finder)
    if finder.farm and finder.farm not in sys.path:
        sys.path.append(finder.farm)  # last: any real portion or package of the same name comes first
    _installed = finder
    _share_with_pkg_resources(finder)
    return finder


def autorun() -> None:
    """What ``gitimport-run.pth`` calls when the environment says ``GITIMPORT_RUN=1``: install, and never stop Python starting.

    The ``.pth`` line calls this function of this module rather than importing
    a module of its own, one module fewer in every interpreter under ``gitimport
    run``.  A broken configuration is reported on stderr, and imports of pinned
    names then fail with their own ImportError.
    """
    try:
        install()
    except Exception as exc:  # a GitImportError, or a bug: either way, let Python start
        sys.stderr.write(f"gitimport: {exc}\n")


def _export_to_children(finder: "GitImportFinder") -> None:
    """Child interpreters (subprocess, multiprocessing spawn/forkserver) install it too.

    The same environment ``gitimport run`` sets: ``gitimport-run.pth`` sees it
    in every Python started from here that has gitimport installed.
    """
    os.environ[ENV_RUN] = "1"
    if finder.config_path:
        os.environ[ENV_CONFIG] = finder.config_path


def uninstall() -> None:
    """Remove the finder; modules already imported stay imported."""
    global _installed
    if _installed is not None and _installed in sys.meta_path:
        sys.meta_path.remove(_installed)
    if _installed is not None and _installed.farm in sys.path:
        sys.path.remove(_installed.farm)
    if "pkg_resources" in sys.modules:
        from .pkgres import withdraw

        withdraw()
    _installed = None
    os.environ.pop(ENV_RUN, None)


def installed_finder() -> "GitImportFinder | None":
    return _installed


def _warn_already_imported(finder: "GitImportFinder", stacklevel: int) -> None:
    for name in finder.names():
        module = sys.modules.get(name)
        if module is None:
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or "elsewhere"
        import warnings

        warnings.warn(
            f"{name!r} was imported before gitimport.install() (from {origin}); that copy stays in use", stacklevel=stacklevel + 1
        )
