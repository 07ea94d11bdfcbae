"""The project state: what the config and the lock mean together, computed once and kept for the next process.

A command loads the state once (:meth:`ProjectState.load`): the name table
(each configured module whose lock entry matches its spec, with the cached
folder it is served from), the namespace parents of dotted names, the
distributions the modules belong to, the namespace farm, and whether the lock
is complete.  ``sync``, ``add`` and ``remove`` then write it as the *runtime
snapshot*: a ``marshal`` file in ``__pycache__`` beside the config, which the
finder reads in every new interpreter instead of parsing TOML and specs.

The snapshot is valid only while the config, the lock and the environment it
was computed from are unchanged, compared by a BLAKE2 hash of each file (so
the snapshot never holds a copy of a token written in the config) and by the
values of :data:`gitimport.project.discovery.SETTINGS_ENVIRONMENT`.  Reading
it is on the warm import path, so this module imports only what every
interpreter has loaded at start-up; the config, the lock and the cache
machinery are imported inside the functions that compute the state.
"""

import marshal
import os

from .project.discovery import CONFIG_NAME, PYPROJECT_NAME, SETTINGS_ENVIRONMENT, has_gitimport_table
from .store import layout

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - interpreters without the builtin module
    from hashlib import blake2b as _blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .project.config import Config
    from .project.lock import Lock, LockEntry

    #: name -> (kind, root folder or file, tree entry folder) for a ready module,
    #: or None for a configured module that needs the cold path.
    Row = tuple[str, str, str]
    Table = dict[str, Optional[Row]]
    #: normalized distribution name -> (.dist-info folder, ((root name, tree entry folder, module name), ...))
    Dists = dict[str, tuple[str, tuple[tuple[str, str, str], ...]]]
    #: name -> (digest, commit, path, generated files) that ``verify = "import"`` holds a tree against
    Expected = dict[str, tuple[str, str, str, dict[str, str]]]

#: Bumped whenever what a snapshot may point at changes; 9: distribution metadata moved to dists-v2/ (every format read);
#: 10: generated files in the name of a tree entry, and the finder's "verify" rows name them;
#: 11: origin records moved to origins.d/ (a tree's readiness is asked again).
SNAPSHOT_VERSION = 11
_SNAPSHOT_KEYS = frozenset({"table", "parents", "dists", "verify", "farm"})


def tree_ready(row: "Row") -> bool:
    """A row's tree is in the cache (one ``stat``).

    Bytecode is no part of it: a module's first import writes its own
    (:mod:`gitimport.store.bytecode`), so a new Python version is served warm too.
    """
    return os.path.exists(f"{row[2]}/{layout.MANIFEST}")


class ProjectState:
    """The config and the lock read once, and everything the finder and the commands derive from them."""

    def __init__(
        self,
        config: "Config",
        lock: "Lock",
        table: "Table",
        parents: "frozenset[str]",
        dists: "Dists",
        verify: "Expected",
        farm: "str | None",
    ) -> None:
        self.config = config
        self.lock = lock
        self.table = table
        self.parents = parents
        self.dists = dists
        self.verify = verify  # name -> (digest, commit, path, generated), with verify = "import"
        self.farm = farm  # a sys.path entry holding namespace parents of dotted names

    @classmethod
    def load(cls, config: "Config", lock: "Lock | None" = None) -> "ProjectState":
        """Compute the state from the config and ``lock`` (read from the config's lock file when None)."""
        from .project.lock import read_lock

        lock = read_lock(config.lockfile) if lock is None else lock
        table, parents, dists, verify = _build_table(config, lock)
        from .store.namespaces import ensure_farm, farm_links

        roots = {name: (row[0], row[1]) if row else None for name, row in table.items()}
        farm = ensure_farm(str(config.cache_dir), farm_links(roots))
        return cls(config, lock, table, parents, dists, verify, farm)

    @property
    def complete(self) -> bool:
        """The lock holds exactly the configured modules with their current specs."""
        modules, locked = self.config.modules, self.lock.modules
        return set(locked) == set(modules) and all(locked[n].spec == s.redacted for n, s in modules.items())

    def dist_infos(self) -> "list[str]":
        """The ``.dist-info`` folders of the pinned distributions (for the requirements check)."""
        return [dist_info for dist_info, _ in self.dists.values()]


def table_row(entry: "LockEntry", name: str, cache_root: str) -> "Row":
    """(kind, root, tree entry folder) of a locked entry, from the cache layout."""
    key = ""
    if entry.generated:
        from .store.verify import generated_key

        key = generated_key(entry.generated)
    entry_folder = os.path.join(cache_root, layout.TREES, layout.tree_entry_name(entry.object, layout.root_name(entry.path, name), key))
    return entry.kind, os.path.join(entry_folder, layout.root_name(entry.path, name)), entry_folder


def parents_of(name: str) -> "list[str]":
    """``a.b.c`` -> ``a``, ``a.b``: the namespace parents a dotted name needs."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _build_table(config: "Config", lock: "Lock") -> "tuple[Table, frozenset[str], Dists, Expected]":
    """Rows for every configured module whose lock entry matches its spec and is served by
    a cached tree bound to its ``commit:path``, the distributions those modules belong to,
    and (with ``verify = "import"``) what to check on first import."""
    from .store.binding import has_origin
    from .store.metadata import recorded_distribution

    cache_root = str(config.cache_dir)
    table: Table = {}
    parents: set[str] = set()
    roots: dict[str, list[tuple[str, str, str]]] = {}
    verify: Expected = {}
    for name, spec in config.modules.items():
        entry = lock.get(name)
        row = table_row(entry, name, cache_root) if entry is not None and entry.spec == spec.redacted else None
        ready = row is not None and entry is not None and has_origin(row[2], entry.commit, entry.path)
        table[name] = row if ready else None
        parents.update(parents_of(name))
        if ready and entry is not None and config.verify_on_import:
            verify[name] = (entry.digest, entry.commit, entry.path, dict(entry.generated))
        if ready and entry is not None and row is not None:
            dist_info = recorded_distribution(config.cache_dir, spec.repo.identity, entry.commit, entry.path)
            if dist_info:
                roots.setdefault(dist_info, []).append((os.path.basename(row[1]), row[2], name))
    dists: Dists = {}
    for dist_info, members in sorted(roots.items()):
        name = os.path.basename(dist_info)[: -len(".dist-info")].rsplit("-", 1)[0]
        dists.setdefault(name.replace("_", "-"), (dist_info, tuple(sorted(set(members)))))
    return table, frozenset(parents), dists, verify


# The runtime snapshot ----------------------------------------------------------------------------


def snapshot_path(config_path: str) -> str:
    folder, name = os.path.split(config_path)
    return os.path.join(folder, "__pycache__", f"{name}.gitimport-v{SNAPSHOT_VERSION}.marshal")


def read_bytes(path: "str | None") -> "bytes | None":
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def fingerprint_of(data: "bytes | None") -> "bytes | None":
    """A cryptographic hash of a file's bytes: the snapshot must not copy the config,
    which may hold a token in a URL.  ``_blake2`` is built into CPython and costs
    a tenth of ``hashlib``, which loads OpenSSL."""
    return None if data is None else _blake2b(data, digest_size=20).digest()


def _environment() -> "tuple[str | None, ...]":
    return tuple(os.environ.get(name) for name in SETTINGS_ENVIRONMENT)


def _load_snapshot(config_path: str) -> "dict[str, Any] | None":
    data = read_bytes(snapshot_path(config_path))
    if data is None:
        return None
    try:
        snapshot = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(snapshot, dict) or snapshot.get("version") != SNAPSHOT_VERSION or not snapshot.keys() >= _SNAPSHOT_KEYS:
        return None
    return snapshot


def read_snapshot(config_path: str) -> "dict[str, Any] | None":
    """The snapshot for this config, if it was computed from exactly today's inputs and serves only from its cache."""
    snapshot = _load_snapshot(config_path)
    if snapshot is None or snapshot.get("environment") != _environment():
        return None
    if snapshot.get("config") != fingerprint_of(read_bytes(config_path)):
        return None
    if snapshot.get("lock") != fingerprint_of(read_bytes(snapshot.get("lockfile"))):
        return None
    return snapshot if _inside_its_cache(snapshot) else None


def _inside_its_cache(snapshot: "dict[str, Any]") -> bool:
    """Every path the snapshot serves from lies in the cache folder it names, in the folder layout puts it in.

    The finder trusts the snapshot for speed, not for where code comes from:
    a snapshot edited to serve a name from elsewhere on the machine is
    ignored, and the state is computed again from the config and the lock.
    String checks only (no ``stat``): this runs in every interpreter.
    """
    cache = snapshot.get("cache")
    if not isinstance(cache, str) or not os.path.isabs(cache):
        return False
    trees = os.path.join(cache, layout.TREES) + os.sep

    def tree_entry(entry: str) -> bool:
        return _plain_below(entry, trees) and os.sep not in entry[len(trees) :]

    if not all(tree_entry(entry) and os.path.dirname(root) == entry for _kind, root, entry in snapshot["table"].values()):
        return False
    farm = snapshot["farm"]
    if farm is not None and not _plain_below(farm, os.path.join(cache, layout.NAMESPACES) + os.sep):
        return False
    dists = os.path.join(cache, layout.DISTS) + os.sep
    return all(
        _plain_below(dist_info, dists) and all(tree_entry(entry) for _root, entry, _name in members)
        for dist_info, members in snapshot["dists"].values()
    )


def _plain_below(path: str, folder: str) -> bool:
    """``path`` is below ``folder`` as written, with no ``..`` that could lead elsewhere.

    A legitimate name that merely contains ``..`` is refused too: the cost of
    that is one cold start, and the test stays two string operations.
    """
    return path.startswith(folder) and ".." not in path


def vouches(path: str, data: bytes) -> bool:
    """Config discovery's shortcut: a snapshot computed from exactly these bytes proves ``path`` is a config."""
    snapshot = _load_snapshot(path)
    return snapshot is not None and snapshot.get("config") == fingerprint_of(data)


def ready_modules(config_path: str) -> "tuple[int, list[str]] | None":
    """How many modules are locked and cached, and the cache folders serving them, when the snapshot proves all are.

    None when anything might need work: a stale or incomplete snapshot (the
    lock and the config disagree), a tree missing from the cache, or a
    config that shadows a pyproject.toml (sync warns about that).
    """
    snapshot = read_snapshot(config_path)
    if snapshot is None or not snapshot.get("complete"):
        return None
    folder, name = os.path.split(config_path)
    if name == CONFIG_NAME and has_gitimport_table(os.path.join(folder, PYPROJECT_NAME), vouches):
        return None
    rows = snapshot["table"].values()
    if not all(tree_ready(row) for row in rows):
        return None
    return len(snapshot["table"]), served_folders(snapshot["table"], snapshot["dists"])


def served_folders(table: "Table", dists: "Dists") -> "list[str]":
    """The cache entries a project's modules are served from: tree entries and distribution folders (for gc's "last used")."""
    trees = {row[2] for row in table.values() if row is not None}
    return sorted(trees | {os.path.dirname(dist_info) for dist_info, _members in dists.values()})


def write_snapshot(state: "ProjectState") -> None:
    """Record the state for the next interpreter; a folder we cannot write is fine.

    Nothing is written while a configured module is not ready: the next
    process must look again.  ``complete`` lets a later ``sync`` skip all work.
    """
    config = state.config
    if config.path is None or any(row is None for row in state.table.values()):
        return
    lockfile = str(config.lockfile) if config.lockfile else None
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "environment": _environment(),
        "config": fingerprint_of(read_bytes(str(config.path))),
        "lockfile": lockfile,
        "lock": fingerprint_of(read_bytes(lockfile)),
        "table": state.table,
        "parents": tuple(sorted(state.parents)),
        "dists": state.dists,
        "verify": state.verify,
        "complete": state.complete,
        "farm": state.farm,
        "cache": str(config.cache_dir),
    }
    from . import atomic

    target = snapshot_path(str(config.path))
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic.write_bytes(target, marshal.dumps(snapshot))
    except OSError:
        return
