"""The ``sys.meta_path`` finder that serves configured names from the cache.

It answers only for names the configuration (or ``pin()``) maps, with one dict
lookup for every other import of the process, and leaves loading to the
standard loaders over the materialized files: ``SourceFileLoader`` for modules
and packages, the namespace machinery for namespace packages.  Submodules are
then found by the path finder through the package's ``__path__``.

The warm path must cost about what a plain ``sys.path`` import costs, so this
module imports nothing beyond what every interpreter has loaded at start-up.
Instead of parsing TOML and specs in every process, it reads a *runtime
snapshot*: the name-to-folder table computed from the config and the lock,
stored with ``marshal`` in ``__pycache__`` beside the config file, and valid
only while the config, the lock and the environment it was computed from are
unchanged (compared by a BLAKE2 hash of each file, so the snapshot never holds
a copy of a token written in the config).  Anything else (a stale or
missing snapshot, a tree missing from the cache, a spec changed since the
lock) takes the cold path, which imports the full machinery lazily and runs a
sync of that one module.  Every failure there reaches the importer as an
``ImportError`` that says what to run.
"""

from __future__ import annotations

import _thread
import marshal
import os
import sys

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - interpreters without the builtin module
    from hashlib import blake2b as _blake2b

try:  # the objects importlib.machinery re-exports, without importing importlib
    from _frozen_importlib import ModuleSpec
    from _frozen_importlib_external import PathFinder, SourceFileLoader
except ImportError:  # pragma: no cover - interpreters other than CPython
    from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path
    from types import ModuleType
    from typing import Any, Optional

    from .config import Config
    from .lock import LockEntry

    #: name -> (kind, root folder or file, tree entry folder) for a ready module,
    #: or None for a configured module that needs the cold path.
    Row = tuple[str, str, str]
    Table = dict[str, Optional[Row]]
    #: normalized distribution name -> (.dist-info folder, ((root name, tree entry folder, module name), ...))
    Dists = dict[str, tuple[str, tuple[tuple[str, str, str], ...]]]

SNAPSHOT_VERSION = 6
#: appended to a tree entry's folder: this interpreter's record of its .pyc files (see cache.bytecode_record_name)
_BYTECODE_RECORD = f"/bytecode-{sys.implementation.cache_tag}{f'.opt-{sys.flags.optimize}' if sys.flags.optimize else ''}.json"
_ENVIRONMENT = ("GITIMPORT_CACHE_DIR", "GITIMPORT_VERIFY", "XDG_CACHE_HOME", "HOME", "LOCALAPPDATA")
CONFIG_NAMES = ("gitimport.toml", "pyproject.toml")


class GitImportFinder:
    """Finds configured module names in the gitimport cache."""

    def __init__(
        self,
        config_path: str | None,
        table: Table,
        parents: frozenset[str] = frozenset(),
        dists: Dists | None = None,
        verify: dict[str, str] | None = None,
        farm: str | None = None,
    ) -> None:
        self.config_path = config_path
        self.farm = farm  # a sys.path entry holding namespace parents of dotted names (see namespace_farm)
        self._table = table
        self._parents = set(parents)
        self._dists: Dists = dists or {}
        self._unverified: dict[str, str] = dict(verify or {})  # name -> digest, until first import
        self._busy: set[str] = set()
        self._mutex = _thread.RLock()
        self._config: Config | None = None

    @classmethod
    def load(cls, config_path: str | None = None) -> GitImportFinder:
        """Build the finder from the runtime snapshot, or from the config when it is stale."""
        path = config_path or os.environ.get("GITIMPORT_CONFIG") or discover_config()
        if path is not None:
            path = os.path.abspath(path)
            snapshot = read_snapshot(path)
            if snapshot is not None and {"table", "parents", "dists", "verify", "farm"} <= snapshot.keys():
                return cls(path, snapshot["table"], frozenset(snapshot["parents"]), snapshot["dists"], snapshot["verify"], snapshot["farm"])
        from .config import load_config

        config = load_config(_as_path(path) if path else None)
        finder = cls.from_config(config)
        write_snapshot(config, finder)
        return finder

    @classmethod
    def from_config(cls, config: Config) -> GitImportFinder:
        table, parents, dists, verify = build_table(config)
        farm = namespace_farm(config, table)
        finder = cls(str(config.path) if config.path else None, table, parents, dists, verify, farm)
        finder._config = config
        return finder

    @property
    def config(self) -> Config:
        """The full configuration, parsed on first use (the cold path only)."""
        if self._config is None:
            from .config import load_config

            self._config = load_config(_as_path(self.config_path) if self.config_path else None)
        return self._config

    def names(self) -> list[str]:
        return sorted(self._table)

    def register(self, name: str, entry: LockEntry, cache_root: str) -> None:
        """Serve ``name`` from a resolved entry (used by ``pin()``)."""
        with self._mutex:
            self._table[name] = table_row(entry, name, cache_root)
            self._parents.update(_parents_of(name))

    def served_from(self, name: str) -> str | None:
        """The root folder or file ``name`` is served from, when it is ready."""
        row = self._table.get(name)
        return row[1] if row else None

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> ModuleSpec | None:
        """Return a spec for a pinned name; ``None`` for everything else, quickly."""
        if fullname not in self._table:
            return _namespace_parent(fullname, path) if fullname in self._parents else None
        row = self._table[fullname]
        if row is None or not os.path.exists(row[2] + _BYTECODE_RECORD):
            row = self._cold_path(fullname)
        if self._unverified and fullname in self._unverified:
            _verify_on_import(fullname, row, self._unverified.pop(fullname))
        return _spec_for(fullname, row[0], row[1])

    def _cold_path(self, name: str) -> Row:
        """Compile, or resolve, fetch and materialize, one module; ImportError on failure."""
        from .errors import GitImportError, GitImportImportError

        with self._mutex:
            if name in self._busy:
                raise GitImportImportError(f"gitimport cannot import {name!r} while fetching it.", name=name)
            self._busy.add(name)
            try:
                row = _prepare(self.config, name)
            except GitImportError as exc:
                hint = exc.hint or ""
                if "gitimport sync" not in hint:
                    hint = f"{hint}; then run `gitimport sync`" if hint else "run `gitimport sync`"
                raise GitImportImportError(f"Cannot import {name!r} with gitimport: {exc.message}\nhint: {hint}", name=name) from None
            except Exception as exc:  # DESIGN §8: every failure reaches the importer as an ImportError
                message = f"Cannot import {name!r} with gitimport: {type(exc).__name__}: {exc}"
                raise GitImportImportError(f"{message}\nhint: check the cache folder, then run `gitimport sync`", name=name) from exc
            finally:
                self._busy.discard(name)
            self._table[name] = row
            return row

    def iter_modules(self, prefix: str = "") -> Iterator[tuple[str, bool]]:
        """Top-level pinned names, for ``pkgutil.iter_modules()`` (as installed packages are listed)."""
        tops = {name: row for name, row in self._table.items() if "." not in name}
        for parent in self._parents:
            if "." not in parent and parent not in tops:
                tops[parent] = ("namespace", "", "")
        for name, row in sorted(tops.items()):
            yield prefix + name, row is None or row[0] != "module"

    def find_distributions(self, context: Any = None) -> Iterator[Any]:
        """Distributions of pinned packages, for ``importlib.metadata`` (pinned ones come first)."""
        if not self._dists:
            return iter(())
        from .runtime_metadata import distributions

        return distributions(self._dists, getattr(context, "name", None))

    def invalidate_caches(self) -> None:
        """Forget the parsed config, so a sync in another process is seen."""
        self._config = None
        with self._mutex:
            for name in [n for n, row in self._table.items() if row is not None and not os.path.exists(row[2] + _BYTECODE_RECORD)]:
                self._table[name] = None


def _verify_on_import(name: str, row: Row, digest: str) -> None:
    """``verify = "import"``: re-hash the cached files before the first import in this process."""
    from .verify import tree_problems

    problems = tree_problems(row[2], os.path.basename(row[1]), digest)
    if problems:
        from .errors import GitImportImportError

        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GitImportImportError(
            f"Refusing to import {name!r}: its cached files do not match the lock: {problems[0]}{more}.\n"
            "hint: run `gitimport verify`, then `gitimport sync --repair` to restore them",
            name=name,
        )


def _spec_for(name: str, kind: str, root: str) -> ModuleSpec:
    """The spec ``spec_from_file_location`` would build, without importing importlib.util."""
    if kind == "namespace":
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [root]
        return spec
    origin = f"{root}/__init__.py" if kind == "package" else root
    spec = ModuleSpec(name, SourceFileLoader(name, origin), origin=origin, is_package=kind == "package")
    if kind == "package":
        spec.submodule_search_locations = [root]
    spec.has_location = True
    return spec


def _as_path(path: str) -> Path:
    from pathlib import Path

    return Path(path)


def discover_config(start: str | None = None) -> str | None:
    """Walk up to the first gitimport.toml, or pyproject.toml that mentions gitimport.

    A cheap version of :func:`gitimport.config.find_config_file` for the warm
    path: it does not parse TOML.  When it guesses a pyproject.toml that has no
    table after all, no snapshot exists for it and the full loader decides.
    """
    folder = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(folder, CONFIG_NAMES[0])
        if os.path.isfile(candidate):
            return candidate
        pyproject = os.path.join(folder, CONFIG_NAMES[1])
        if os.path.isfile(pyproject) and _mentions_gitimport(pyproject):
            return pyproject
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _mentions_gitimport(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"tool.gitimport" in handle.read()
    except OSError:
        return False


def snapshot_path(config_path: str) -> str:
    folder, name = os.path.split(config_path)
    return os.path.join(folder, "__pycache__", f"{name}.gitimport-v{SNAPSHOT_VERSION}.marshal")


def _read_bytes(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _fingerprint(path: str | None) -> bytes | None:
    """A cryptographic hash of a file's bytes: the snapshot must not copy the config,
    which may hold a token in a URL.  ``_blake2`` is built into CPython and costs
    a tenth of ``hashlib``, which loads OpenSSL."""
    data = _read_bytes(path)
    return None if data is None else _blake2b(data, digest_size=20).digest()


def _environment() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _ENVIRONMENT)


def read_snapshot(config_path: str) -> dict[str, Any] | None:
    """The snapshot for this config, if it was computed from exactly today's inputs."""
    data = _read_bytes(snapshot_path(config_path))
    if data is None:
        return None
    try:
        snapshot = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(snapshot, dict) or snapshot.get("version") != SNAPSHOT_VERSION:
        return None
    if snapshot.get("environment") != _environment() or snapshot.get("config") != _fingerprint(config_path):
        return None
    if snapshot.get("lock") != _fingerprint(snapshot.get("lockfile")):
        return None
    return snapshot


def ready_module_count(config_path: str) -> int | None:
    """How many modules are locked and cached, when the snapshot proves all of them are.

    None when anything might need work: a stale or incomplete snapshot (the
    lock and the config disagree), a tree or its bytecode missing from the
    cache, or a config that shadows a pyproject.toml (sync warns about that).
    """
    snapshot = read_snapshot(config_path)
    if snapshot is None or not snapshot.get("complete"):
        return None
    folder, name = os.path.split(config_path)
    if name == CONFIG_NAMES[0] and _mentions_gitimport(os.path.join(folder, CONFIG_NAMES[1])):
        return None
    rows = snapshot["table"].values()
    if not all(os.path.exists(row[2] + _BYTECODE_RECORD) for row in rows):
        return None
    return len(snapshot["table"])


def refresh_snapshot(config: Config) -> None:
    """Compute the snapshot from today's config and lock (after a sync or an edit)."""
    write_snapshot(config, GitImportFinder.from_config(config))


def write_snapshot(config: Config, finder: GitImportFinder) -> None:
    """Record the finder's table for the next interpreter; a folder we cannot write is fine.

    ``complete`` says that the lock holds exactly the configured modules with
    their current specs, which lets a later ``sync`` skip all work.
    """
    if config.path is None:
        return
    from .lock import read_lock

    lock = read_lock(config.lockfile)
    complete = set(lock.modules) == set(config.modules) and all(lock.modules[n].spec == s.redacted for n, s in config.modules.items())
    lockfile = str(config.lockfile) if config.lockfile else None
    ready = {name: row for name, row in finder._table.items() if row is not None}
    if len(ready) != len(finder._table):
        return  # some module is not ready: the next process must look again
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "environment": _environment(),
        "config": _fingerprint(str(config.path)),
        "lockfile": lockfile,
        "lock": _fingerprint(lockfile),
        "table": ready,
        "parents": tuple(sorted(finder._parents)),
        "dists": finder._dists,
        "verify": finder._unverified,
        "complete": complete,
        "farm": finder.farm,
    }
    target = snapshot_path(str(config.path))
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(marshal.dumps(snapshot))
        os.replace(temporary, target)
    except OSError:
        if os.path.exists(temporary):
            os.unlink(temporary)


def build_table(config: Config) -> tuple[Table, frozenset[str], Dists, dict[str, str]]:
    """Rows for every configured module whose lock entry matches its spec and is cached,
    the distributions those modules belong to, and (with ``verify = "import"``) the
    digests to check on first import."""
    from .lock import read_lock
    from .metadata import recorded_distribution

    lock = read_lock(config.lockfile)
    cache_root = str(config.cache_dir)
    table: Table = {}
    parents: set[str] = set()
    roots: dict[str, list[tuple[str, str, str]]] = {}
    verify: dict[str, str] = {}
    for name, spec in config.modules.items():
        entry = lock.get(name)
        row = table_row(entry, name, cache_root) if entry is not None and entry.spec == spec.redacted else None
        ready = row is not None and os.path.exists(row[2] + _BYTECODE_RECORD)
        table[name] = row if ready else None
        parents.update(_parents_of(name))
        if ready and entry is not None and config.verify_on_import:
            verify[name] = entry.digest
        if ready and entry is not None and row is not None:
            dist_info = recorded_distribution(config.cache_dir, spec.repo.identity, entry.commit, entry.path)
            if dist_info:
                roots.setdefault(dist_info, []).append((os.path.basename(row[1]), row[2], name))
    dists: Dists = {}
    for dist_info, members in sorted(roots.items()):
        name = os.path.basename(dist_info)[: -len(".dist-info")].rsplit("-", 1)[0]
        dists.setdefault(name.replace("_", "-"), (dist_info, tuple(sorted(set(members)))))
    return table, frozenset(parents), dists, verify


def namespace_farm(config: Config, table: Table) -> str | None:
    """A folder of namespace parents for pinned dotted names, to put at the end of ``sys.path``.

    ``"acme.tools" = …`` makes ``acme`` a namespace package.  Its pinned
    children are served by name, but code that lists a namespace's portions
    (``pkgutil.iter_modules(acme.__path__)``, plugin discovery) scans folders on
    ``acme.__path__``.  This folder holds ``acme/tools`` as a symlink to the
    cached root, so the path finder adds it to ``acme.__path__`` beside any
    other portion on ``sys.path``.  It is keyed by its content, built once and
    never changed; None when there are no dotted names or symlinks fail.
    """
    links = {}
    for name, row in sorted(table.items()):
        parent, _, leaf = name.rpartition(".")
        if row is None or not parent or parent in table:
            continue
        links[f"{parent.replace('.', '/')}/{leaf}{'.py' if row[0] == 'module' else ''}"] = row[1]
    if not links:
        return None
    key = _blake2b(repr(sorted(links.items())).encode(), digest_size=12).hexdigest()
    farm = os.path.join(str(config.cache_dir), "namespaces-v1", key)
    if os.path.isdir(farm):
        return farm
    staging = f"{farm}.{os.getpid()}.tmp"
    try:
        for relative, target in links.items():
            link = os.path.join(staging, relative)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(target, link)
        os.rename(staging, farm)
    except OSError:
        from pathlib import Path

        from .cache import remove_tree

        remove_tree(Path(staging))
        return farm if os.path.isdir(farm) else None
    return farm


def table_row(entry: LockEntry, name: str, cache_root: str) -> Row:
    """(kind, root, tree entry folder) of a locked entry, from the cache layout."""
    from .cache import Cache

    location = Cache(_as_path(cache_root)).tree(entry.object, entry.root_name(name))
    return entry.kind, str(location.path), str(location.entry)


def _prepare(config: Config, name: str) -> Row:
    """The cold path: bring one module into the cache (syncing it if needed)."""
    from .cache import Cache, ensure_bytecode
    from .lock import read_lock
    from .sync import sync

    spec = config.modules.get(name)
    entry = read_lock(config.lockfile).get(name)
    cache = Cache(config.cache_dir)
    if spec is None or entry is None or entry.spec != spec.redacted or not cache.has_tree(entry.object, entry.root_name(name)):
        report = sync(config, only=[name], warn=_stderr)
        entry = next(outcome.entry for outcome in report.modules if outcome.name == name)
    row = table_row(entry, name, str(config.cache_dir))
    ensure_bytecode(cache, cache.tree(entry.object, entry.root_name(name)))
    return row


def _parents_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


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


def install(config: Config | None = None, *, stacklevel: int = 2) -> GitImportFinder:
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
    return finder


def _export_to_children(finder: GitImportFinder) -> None:
    """Child interpreters (subprocess, multiprocessing spawn/forkserver) install it too.

    The same environment ``gitimport run`` sets: ``gitimport-run.pth`` sees it
    in every Python started from here that has gitimport installed.
    """
    os.environ["GITIMPORT_RUN"] = "1"
    if finder.config_path:
        os.environ["GITIMPORT_CONFIG"] = finder.config_path


def uninstall() -> None:
    """Remove the finder; modules already imported stay imported."""
    global _installed
    if _installed is not None and _installed in sys.meta_path:
        sys.meta_path.remove(_installed)
    if _installed is not None and _installed.farm in sys.path:
        sys.path.remove(_installed.farm)
    _installed = None
    os.environ.pop("GITIMPORT_RUN", None)


def installed_finder() -> GitImportFinder | None:
    return _installed


def _warn_already_imported(finder: GitImportFinder, stacklevel: int) -> None:
    for name in finder.names():
        module = sys.modules.get(name)
        if module is None:
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or "elsewhere"
        import warnings

        warnings.warn(
            f"{name!r} was imported before gitimport.install() (from {origin}); that copy stays in use", stacklevel=stacklevel + 1
        )
