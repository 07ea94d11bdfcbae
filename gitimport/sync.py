"""``gitimport sync``: from config to lock to verified files in the cache.

The operation in four steps: decide per module whether its lock entry still
holds (same redacted spec, no upgrade asked); resolve the others with one
ls-remote per repository; fetch what the cache lacks with one fetch per
repository; materialize and verify each module, then write the lock once.
Before anything is fetched into the cache, the history checks of
docs/security.md#history run where sync contacts a remote: a pinned commit
must be reachable from the remote's own branches or tags, and ``--upgrade``
must move a module only to a commit that descends from its locked one.
A sync whose lock and cache are complete touches no network and imports no
dulwich.  On any failure the lock file is left as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, TypeVar

from . import atomic
from .errors import (
    ConfigError,
    DamagedRepositoryError,
    FetchError,
    IntegrityError,
    MissingObjectError,
    OfflineError,
    OutOfDateError,
    UnsafeTreeError,
)
from .project.config import Config, require_lock_folder
from .project.lock import Lock, LockEntry, read_lock, write_lock
from .project.spec import RepoURL, Spec, is_commit_id
from .store.cache import Cache, project_lock
from .store.verify import verify_locked

if TYPE_CHECKING:
    from dulwich.repo import Repo

    from .remote.fetch import FetchStats, Remote, RemoteRefs, Resolved
    from .remote.progress import FetchProgress
    from .state import ProjectState
    from .store.cache import TreeLocation
    from .store.generated import BuildFiles
    from .store.materialize import Root
    from .store.metadata_formats import ProjectMetadata

Reporter = Callable[[str], None]
Question = TypeVar("Question")
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class SyncOptions:
    """How much a sync may change.  ``upgrade`` is None for no upgrade, empty for all."""

    locked: bool = False
    frozen: bool = False
    offline: bool = False
    upgrade: frozenset[str] | None = None
    repair: bool = False
    allow_downgrade: bool = False  # --upgrade may follow a ref to a commit that does not descend from the locked one

    def upgrades(self, name: str) -> bool:
        return self.upgrade is not None and (not self.upgrade or name in self.upgrade)


@dataclass
class ModuleOutcome:
    """What sync did for one module, for the summary."""

    name: str
    entry: LockEntry
    action: str  # locked | added | changed | upgraded | unchanged
    ref_kind: str = ""
    materialized: bool = False
    notes: list[str] = field(default_factory=list)  # what materialization left out or metadata could not read, for the user
    unpinned: Unpinned | None = None  # what its distribution ships that no entry pins


@dataclass(frozen=True)
class Unpinned:
    """Top-level names a synced module's distribution ships but no entry pins (docs/configuration.md#whole-distributions)."""

    distribution: str
    names: tuple[str, ...]
    path: str  # the folder that holds them: the PATH of the entry that pins them (the module's, or the one whose also lists it)
    also: tuple[str, ...]  # that entry's whole ``also``: what it lists today and the names in ``path``
    lines: tuple[str, ...]  # the config lines that pin them: the entry with ``also``, then one per name elsewhere


@dataclass(frozen=True)
class HistoryCheck:
    """One history check (docs/security.md#history), for ``sync -v``: what it found about which modules, and how."""

    modules: tuple[str, ...]
    finding: str  # e.g. "commit 1a2b3c4d5e6f is reachable from a branch or tag of URL"
    how: str  # how the history was read, or why it was not
    fetched: tuple[int, int] | None = None  # (objects, bytes) of the history fetch, when one ran


@dataclass
class SyncReport:
    modules: list[ModuleOutcome] = field(default_factory=list)
    fetched: dict[str, tuple[int, int]] = field(default_factory=dict)  # url -> (objects, bytes)
    fetched_how: dict[str, list[str]] = field(default_factory=dict)  # url -> how each fetch was asked for (``sync -v``)
    history: list[HistoryCheck] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    lock_written: bool = False
    lockfile: Path | None = None
    state: ProjectState | None = None  # the project as the new lock leaves it (for the requirements check)

    def count_fetch(self, source: str, objects: int, size: int, how: str) -> None:
        """Add a fetch from ``source`` (a remote or a tree mirror) to the summary, and how it was asked for (``-v``)."""
        self._add_fetched(source, objects, size)
        self.fetched_how.setdefault(source, []).append(how)

    def merge(self, part: SyncReport) -> None:
        """Add one repository's report: two repositories may have fetched from one tree mirror."""
        self.modules.extend(part.modules)
        self.history.extend(part.history)
        for source, (objects, size) in part.fetched.items():
            self._add_fetched(source, objects, size)
        for source, hows in part.fetched_how.items():
            self.fetched_how.setdefault(source, []).extend(hows)

    def _add_fetched(self, source: str, objects: int, size: int) -> None:
        before_objects, before_size = self.fetched.get(source, (0, 0))
        self.fetched[source] = (before_objects + objects, before_size + size)


@dataclass
class _Plan:
    """One module's work: its spec, its current entry, and what to do with it."""

    name: str
    spec: Spec
    entry: LockEntry | None
    resolve: bool
    action: str
    commit: str | None = None
    ref_kind: str = ""
    upgrading: bool = False  # named by --upgrade, whether or not its ref is resolved again
    root: Root | None = None  # what commit:PATH imports, found once (see _root)


def sync(
    config: Config,
    options: SyncOptions = SyncOptions(),
    only: Iterable[str] | None = None,
    warn: Reporter = lambda message: None,
    progress: FetchProgress | None = None,
    jobs: int = 1,
) -> SyncReport:
    """Bring lock and cache in line with the config (or with ``only`` those modules).

    ``progress`` receives fetch events (see :mod:`gitimport.remote.progress`);
    ``jobs`` repositories are synced at a time, in this process and in worker
    processes (:mod:`gitimport.workers`; ``warn`` and ``progress`` may then be
    called from a second thread), and the report lists them in the same order
    whatever finishes first.

    Raises:
      OutOfDateError: the lock would change under ``locked`` or ``frozen``.
      OfflineError: the network is needed and offline mode forbids it.
      FetchError, RefNotFoundError, PathNotFoundError, IntegrityError,
      UnsafeTreeError, PolicyError: from the steps below, lock untouched.
    """
    if config.lockfile is None:
        raise ConfigError(
            "No gitimport configuration found in this folder or above it.",
            "create gitimport.toml with a [modules] table, or [tool.gitimport.modules] in pyproject.toml",
        )
    require_lock_folder(config)
    with project_lock(config.cache_dir, config.path or config.lockfile):  # one reader-writer of this lock at a time
        return _sync_under_lock(config, config.lockfile, options, only, warn, progress, jobs)


def _sync_under_lock(
    config: Config,
    lockfile: Path,
    options: SyncOptions,
    only: Iterable[str] | None,
    warn: Reporter,
    progress: FetchProgress | None,
    jobs: int,
) -> SyncReport:
    """The body of :func:`sync`, run while this process holds the project's lock."""
    frozen = options.frozen or config.frozen
    offline = options.offline or config.offline
    lock = read_lock(lockfile)
    names = sorted(config.modules) if only is None else config.with_groups(only)
    if options.upgrade:
        options = dataclasses.replace(options, upgrade=frozenset(config.with_groups(options.upgrade)))
    unknown = [n for n in names if n not in config.modules]
    if unknown:
        raise ConfigError(f"{', '.join(unknown)} is not a module in {config.path}.", "list the configured modules with `gitimport list`")
    plans = _resolve_groups_together([_plan(name, config.modules[name], lock.get(name), options) for name in names], config)
    removed = sorted(set(lock.modules) - set(config.modules)) if only is None else []
    _refuse_changes(plans, removed if options.locked else [], config, locked=options.locked, frozen=frozen)

    cache = Cache(config.cache_dir)
    cache.remove_stale_builds()
    report = SyncReport(lockfile=lockfile)
    if config.tree_mirrors:
        from .remote.mirror import forget_unreachable

        forget_unreachable()
    work = _RepositoryWork(config, lockfile, cache, offline=offline, repair=options.repair, allow_downgrade=options.allow_downgrade)
    for part in _map_in_order(work, _by_repository(plans), jobs, warn, progress):
        report.merge(part)

    entries = dict(lock.modules)
    for name in removed:
        entries.pop(name, None)
    for outcome in report.modules:
        entries[outcome.name] = outcome.entry
    report.removed = removed
    if not frozen and not options.locked:
        lock = Lock(modules=dict(sorted(entries.items())))
        report.lock_written = write_lock(lockfile, lock)
    from .state import ProjectState, write_snapshot

    report.state = ProjectState.load(config, lock)
    write_snapshot(report.state)  # the next interpreter starts on the warm path
    from .state import served_folders
    from .store.usage import mark_used

    mark_used(served_folders(report.state.table, report.state.dists))  # for `gc --max-size` (docs/commands.md#gc)
    _register_project(config)
    return report


#: ``--jobs`` uses worker processes from this many repositories with work to do, threads below it.
#: Workers cost ~0.3 s of CPU to start and pay back ~half the CPU of each repository on 2 CPUs
#: (docs/performance.md#2026-12-07-jobs); threads cost nothing and overlap only the waits for the network.
PROCESSES_FROM = 4


@dataclass(frozen=True)
class _RepositoryWork:
    """One repository's sync (:func:`_sync_repository`), here or in a worker process: it pickles; the callbacks are given."""

    config: Config
    lockfile: Path
    cache: Cache
    offline: bool
    repair: bool
    allow_downgrade: bool

    def __call__(self, group: list[_Plan], warn: Reporter, progress: FetchProgress | None) -> SyncReport:
        part = SyncReport()
        _sync_repository(
            group,
            self.config,
            self.lockfile,
            self.cache,
            part,
            offline=self.offline,
            repair=self.repair,
            warn=warn,
            progress=progress,
            allow_downgrade=self.allow_downgrade,
        )
        return part

    def has_work(self, group: list[_Plan]) -> bool:
        """Whether the group may fetch, materialize or verify: a cached, locked group is a few file checks."""
        return self.repair or any(plan.resolve or not _cached(self.cache, plan) for plan in group)


def _map_in_order(
    work: _RepositoryWork, groups: list[list[_Plan]], jobs: int, warn: Reporter, progress: FetchProgress | None
) -> list[SyncReport]:
    """``work`` on every group, ``jobs`` at a time; results (and the first error) in group order.

    With ``jobs`` > 1 and at least :data:`PROCESSES_FROM` groups with work
    to do, this process and up to ``jobs - 1`` worker processes share the
    groups (:mod:`gitimport.workers`); with two or more, threads of this
    process; with fewer, they run here, one after another.
    """
    busy = sum(1 for group in groups if work.has_work(group)) if jobs > 1 else 0
    if busy < 2:
        return [work(group, warn, progress) for group in groups]
    _import_repository_modules()
    if busy < PROCESSES_FROM:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(jobs, len(groups)), thread_name_prefix="gitimport-sync") as pool:
            futures = [pool.submit(work, group, warn, progress) for group in groups]
            return [future.result() for future in futures]
    from .workers import map_in_processes

    labels = [group[0].spec.repo.normalized for group in groups]
    return map_in_processes(work, groups, min(jobs, busy), warn, progress, labels, preload=(__name__, *REPOSITORY_MODULES))


#: What a repository's sync imports, at module level or inside its functions.
REPOSITORY_MODULES = (
    "gitimport.remote.fetch",
    "gitimport.remote.repo",
    "gitimport.remote.incoming",
    "gitimport.remote.mirror",
    "gitimport.remote.progress",
    "gitimport.remote.credentials",
    "gitimport.store.materialize",
    "gitimport.store.bytecode",
    "gitimport.store.metadata",
    "gitimport.store.generated",
    "gitimport.store.needed",
    "gitimport.store.top_level",
    "gitimport.store.binding",
    "gitimport.store.usage",
    "gitimport.store.verify",
    "dulwich.worktree",
    "dulwich.commit_graph",
    "packaging.requirements",
    "packaging.specifiers",
    "packaging.version",
    "email.parser",
    "encodings.idna",  # urllib3 encodes host names with the codec, looked up on first use
    "py_compile",
    "netrc",
)


def _import_repository_modules() -> None:
    """Import everything a repository's sync needs, here, before other threads can.

    Two threads importing one package for the first time at once can each
    hold a module lock the other waits for: Python 3.9 then raises
    ``_DeadlockError`` in one of them (seen with urllib3 in ``sync --jobs``
    from a tree mirror).  The worker processes' fork server imports the
    same list (:func:`gitimport.workers.map_in_processes`), so each worker
    starts with it loaded.
    """
    import importlib

    for name in REPOSITORY_MODULES:
        importlib.import_module(name)


def _register_project(config: Config) -> None:
    """Tell ``gitimport gc`` that this lock uses the cache."""
    from .store.gc import register_project

    if config.lockfile is not None and config.lockfile.is_file():
        register_project(config.cache_dir, config.lockfile, config.base_dir)


def lock_one(config: Config, name: str, spec: Spec, warn: Reporter = lambda message: None) -> LockEntry:
    """Resolve, fetch and materialize one spec that no lock file records (``pin()``)."""
    report = SyncReport()
    lockfile = config.lockfile or Path.cwd() / "gitimport.lock"
    plan = _Plan(name, spec, None, resolve=True, action="added")
    _sync_repository([plan], config, lockfile, Cache(config.cache_dir), report, offline=config.offline, repair=False, warn=warn)
    return report.modules[0].entry


def _plan(name: str, spec: Spec, entry: LockEntry | None, options: SyncOptions) -> _Plan:
    upgrading = options.upgrades(name)
    if entry is None:
        return _Plan(name, spec, None, resolve=True, action="added", upgrading=upgrading)
    if entry.spec != spec.redacted:
        return _Plan(name, spec, entry, resolve=True, action="changed", upgrading=upgrading)
    if upgrading and not spec.is_pinned_commit:
        return _Plan(name, spec, entry, resolve=True, action="upgraded", upgrading=True)
    return _Plan(name, spec, entry, resolve=False, action="unchanged", commit=entry.commit, upgrading=upgrading)


def _resolve_groups_together(plans: list[_Plan], config: Config) -> list[_Plan]:
    """The names of one entry (its own and its ``also``) are locked at one commit: when one is resolved, all are.

    A name just added to ``also`` must be resolved, and the ref may have
    moved since the entry was locked; resolving the others with it, as an
    upgrade (shown in the summary, and held to the history checks), keeps
    the entry at one commit.
    """
    resolving = {name for plan in plans if plan.resolve for name in config.group(plan.name)}
    return [
        _Plan(plan.name, plan.spec, plan.entry, resolve=True, action="upgraded", upgrading=True)
        if plan.name in resolving and not plan.resolve and not plan.spec.is_pinned_commit
        else plan
        for plan in plans
    ]


def _refuse_changes(plans: list[_Plan], removed: list[str], config: Config, *, locked: bool, frozen: bool) -> None:
    """Under --locked or frozen, a lock that would change is an error (exit 3)."""
    if not (locked or frozen):
        return
    reasons = [
        f"{p.name} is not in the lock" if p.action == "added" else f"{p.name}'s spec changed since the lock"
        for p in plans
        if p.action in ("added", "changed")
    ]
    reasons += [f"{name} is in the lock but no longer configured" for name in removed]
    if locked:
        reasons += [f"{p.name} would be upgraded" for p in plans if p.action == "upgraded"]
    if reasons:
        flag = "--locked" if locked else "frozen mode"
        raise OutOfDateError(
            f"{config.lockfile} is out of date and {flag} forbids changing it: {'; '.join(reasons)}.",
            "run `gitimport sync` without --locked/--frozen and commit the new lock",
        )


def _by_repository(plans: list[_Plan]) -> list[list[_Plan]]:
    groups: dict[str, list[_Plan]] = {}
    for plan in plans:
        groups.setdefault(plan.spec.repo.identity, []).append(plan)
    return list(groups.values())


def _sync_repository(
    plans: list[_Plan],
    config: Config,
    lockfile: Path,
    cache: Cache,
    report: SyncReport,
    *,
    offline: bool,
    repair: bool,
    warn: Reporter,
    progress: FetchProgress | None = None,
    allow_downgrade: bool = False,
) -> None:
    """Resolve, fetch and materialize every module that comes from one repository."""
    if repair:
        for plan in plans:
            _repair(plan, cache, warn)
        _repair_repository(plans, cache, warn)
    from .store.usage import mark_used

    mark_used([cache.repo_dir(plans[0].spec.repo.identity)])  # a repository a lock uses stays recently used
    needs_tree = [p for p in plans if p.resolve or not _cached(cache, p)]
    to_prove = _pinned_to_prove(plans, needs_tree, cache, report, offline=offline)
    if not needs_tree and not to_prove:
        report.modules.extend(ModuleOutcome(p.name, p.entry, p.action) for p in plans if p.entry)
        return
    needs_remote = any(p.resolve and not is_commit_id(p.spec.ref) for p in plans) or bool(to_prove)
    if needs_remote and offline:
        names = ", ".join(p.name for p in plans if p.resolve)
        raise OfflineError(
            f"Offline mode, but {names} must be resolved against {plans[0].spec.repo.normalized}.",
            "run `gitimport sync` with the network, or pin a full commit id",
        )
    if config.tree_mirrors and not offline:
        served = _from_tree_mirrors([p for p in needs_tree if _mirrorable(p, config, to_prove)], config, lockfile, cache, report, warn)
        plans = [p for p in plans if p not in served]
        needs_tree = [p for p in needs_tree if p not in served]
        if not needs_tree and not to_prove:  # the mirrors served every tree: no git server is contacted
            report.modules.extend(ModuleOutcome(p.name, p.entry, p.action) for p in plans if p.entry)
            return
    from .remote.fetch import Remote, resolve_ref

    remote = Remote(_contact_spelling(plans), config)
    refs = remote.ls_remote() if needs_remote else None
    for plan in plans:
        if plan.resolve:
            resolved = resolve_ref(refs, plan.spec.ref, remote.display) if refs else _commit_ref(plan.spec.ref)
            plan.commit, plan.ref_kind = resolved.commit, resolved.kind
        elif refs is not None and plan.entry is not None:
            _report_moved_tag(plan, refs, warn)
    repo_dir = cache.repo_dir(plans[0].spec.repo.identity)
    checks = _HistoryChecks(to_prove, [p for p in plans if _moves_on_upgrade(p)], allow_downgrade)
    try:
        _fetch_and_materialize(plans, needs_tree, config, lockfile, cache, report, remote, refs, checks, offline=offline, progress=progress)
    except DamagedRepositoryError as damage:
        if offline:
            raise
        # a pack that lacked objects, or an object that no longer hashes to its id: the bare
        # repository is only a cache, so it is fetched again from scratch, once
        warn(f"warning: the cache's copy of {remote.display} is damaged ({damage.message}); fetching it again")
        with cache.lock(repo_dir.name):
            atomic.remove(repo_dir)
        _fetch_and_materialize(plans, needs_tree, config, lockfile, cache, report, remote, refs, checks, offline=offline, progress=progress)


def _mirrorable(plan: _Plan, config: Config, to_prove: list[_Plan]) -> bool:
    """Whether a tree mirror may serve ``plan`` (docs/tree-mirrors.md#what-a-mirror-serves).

    Only a locked module: the lock names the commit, PATH and tree a
    mirror's archives are checked against.  A commit still to be proved
    reachable, or a module that must be signed, needs the git server anyway.
    """
    return plan.entry is not None and not plan.resolve and plan not in to_prove and not config.requires_signature(plan.spec)


def _from_tree_mirrors(plans: list[_Plan], config: Config, lockfile: Path, cache: Cache, report: SyncReport, warn: Reporter) -> list[_Plan]:
    """Materialize what the tree mirrors serve of ``plans``; return the plans served.

    Each mirror's archives go into one scratch repository (never the cache's
    bare repository, which holds whole commits), and the module is
    materialized from it exactly as from a git fetch: the lock's commit,
    PATH, object and digest are held against objects whose ids were computed
    on arrival.  A mirror that lacks a tree, fails or cannot be reached is
    passed over quietly (``sync -v`` says so); one whose objects fail those
    checks is named in a warning.  What no mirror serves is fetched from git.
    """
    from .errors import MirrorError, NotInRepositoryError, PolicyError
    from .remote.mirror import binding_archive, configured_mirrors, fetch_archives, tree_archive
    from .remote.repo import existing_repository, scratch_repository

    mirrors = configured_mirrors(config)
    limit = config.max_tree_size + config.max_tree_size // 100 + 2**20  # the files, plus each object's header and zlib's overhead
    served: list[_Plan] = []
    build = cache.new_build_dir()
    try:
        with scratch_repository(build / "mirrored.git") as scratch:
            pack_dir = Path(scratch.object_store.path) / "pack"
            for plan in plans:
                entry = plan.entry
                assert entry is not None
                archives = [binding_archive(entry.commit, entry.path), tree_archive(entry.object)]
                for mirror in (m for m in mirrors if not m.down):
                    how = report.fetched_how.setdefault(mirror.display, [])  # -v: what each mirror did, in order
                    try:
                        objects, size = fetch_archives(mirror, archives, pack_dir, limit, config.max_file_size)
                        with existing_repository(Path(scratch.path)) as mirrored:  # opened again: it sees the packs just added
                            outcome = _materialize(plan, mirrored, config, cache, relative_lock_url(plan.spec, lockfile), fresh=True)
                            outcome.unpinned = _whole_distributions([plan], mirrored, config).get(plan.name)
                    except MirrorError as missed:
                        how.append(f"{plan.name} not served: {missed.message}")
                        if missed.damaged:
                            _warn_refused(warn, mirror.display, plan.name, missed.message)
                        continue
                    except (IntegrityError, UnsafeTreeError, NotInRepositoryError, PolicyError) as refused:
                        why = refused.message
                        if isinstance(refused, DamagedRepositoryError):  # ids are computed on arrival: an object is absent, not wrong
                            why = f"they lack objects that commit {entry.commit[:12]} holds at {entry.path or '/'!r}"
                        how.append(f"{plan.name} refused: {why}")
                        _warn_refused(warn, mirror.display, plan.name, why)
                        continue
                    served_how = f"{plan.name} served (tree {entry.object[:12]} of commit {entry.commit[:12]})"
                    report.count_fetch(mirror.display, objects, size, served_how)
                    report.modules.append(outcome)
                    served.append(plan)
                    break
    finally:
        atomic.remove(build)
    return served


def _warn_refused(warn: Reporter, mirror: str, name: str, why: str) -> None:
    warn(f"warning: tree mirror {mirror} sent {name} in archives that fail verification ({why}); trying the next source")


def _pinned_to_prove(plans: list[_Plan], needs_tree: list[_Plan], cache: Cache, report: SyncReport, *, offline: bool) -> list[_Plan]:
    """The modules pinned to a commit id whose reachability sync must prove before it fetches them.

    Those that sync acts on (new, changed, to be fetched, or named by
    ``--upgrade``), unless the cache holds a proof of their commit or their
    spec says ``allow-unreachable``.  Offline, nothing can be proved, and
    nothing is refused for it: the check runs only where sync contacts the remote.
    """
    acted_on = [p for p in plans if p.spec.is_pinned_commit and (p in needs_tree or p.upgrading)]
    for plan in acted_on:
        if plan.spec.allow_unreachable:
            report.history.append(HistoryCheck((plan.name,), f"commit {plan.spec.ref[:12]} was not checked", "allow-unreachable = true"))
    unproven = _unproven(cache, [p for p in acted_on if not p.spec.allow_unreachable])
    if offline:
        for plan in unproven:
            report.history.append(HistoryCheck((plan.name,), f"commit {plan.spec.ref[:12]} was not checked", "offline"))
        return []
    return unproven


def _unproven(cache: Cache, plans: list[_Plan]) -> list[_Plan]:
    """Of modules pinned to a commit id, those whose commit the cache has no proof of reachability for."""
    from .remote.repo import existing_repository, has_repository, proven_reachable

    repo_dir = cache.repo_dir(plans[0].spec.repo.identity) if plans else None
    if repo_dir is None or not has_repository(repo_dir):
        return plans
    with cache.lock(repo_dir.name), existing_repository(repo_dir) as repo:  # the lock: a damaged repository may be being removed
        return [p for p in plans if not proven_reachable(repo, p.spec.ref)]


def _moves_on_upgrade(plan: _Plan) -> bool:
    """``--upgrade`` re-resolved the module's unchanged spec to another commit than the locked one."""
    return plan.action == "upgraded" and plan.entry is not None and plan.commit != plan.entry.commit


@dataclass(frozen=True)
class _HistoryChecks:
    """The history checks one repository's sync needs (docs/security.md#history)."""

    pinned: list[_Plan]  # commit ids to prove reachable from the remote's branches or tags
    moved: list[_Plan]  # upgrades whose new commit must descend from the locked one
    allow_downgrade: bool


def _check_history(
    checks: _HistoryChecks, remote: Remote, refs: RemoteRefs | None, build: Path, progress: FetchProgress | None
) -> list[HistoryCheck]:
    """Refuse a pinned commit that no branch or tag reaches, and an upgrade to a commit that does not descend from the lock.

    Runs before the cache's repository receives anything, so a refused commit
    never enters it.  Each question is one fetch of only the commits between
    (see :meth:`~gitimport.remote.fetch.Remote.fetch_history`), into a scratch
    repository in the build folder.  The caller keeps the proofs of
    reachability in the cache's repository once the commits are there, so
    each is asked once.

    Raises:
      IntegrityError: naming the commit(s), the repository and the way out.
    """
    if not checks.pinned and not checks.moved:
        return []
    from .remote.fetch import HistoryStats
    from .remote.progress import watching_fetch
    from .remote.repo import reaches, scratch_repository

    assert refs is not None, "a history check needs the refs of ls-remote"
    tips = refs.own_tips()
    found: list[HistoryCheck] = []
    with contextlib.ExitStack() as held:
        scratch: list[Repo] = []  # made on the first question that needs a fetch

        def ask(wants: set[str], starts: set[str], known: str) -> tuple[bool, HistoryStats]:
            """Fetch what ``wants`` reach and ``known`` does not; say whether ``known`` is one of ``starts`` or reached from them."""
            if not wants:  # no branch or tag: nothing reaches it, and there is nothing to fetch
                return False, HistoryStats(0, 0, "no branch or tag")
            if not scratch:
                scratch.append(held.enter_context(scratch_repository(build / "history.git")))
            with watching_fetch(remote.display, scratch[0].path, progress) as on_message:
                stats = remote.fetch_history(scratch[0], wants, known, refs, progress=on_message)
            return reaches(scratch[0], starts, known), stats

        for commit, names in _questions(checks.pinned, lambda p: p.spec.ref):
            finding = f"commit {commit[:12]} is reachable from a branch or tag of {remote.display}"
            if commit in tips.values():
                found.append(HistoryCheck(names, finding, "a branch or tag points at it"))
            else:
                reached, stats = ask(set(tips), set(tips.values()), commit)
                if not reached:
                    raise IntegrityError(
                        f"Commit {commit} of {', '.join(names)} is not reachable from any branch or tag of {remote.display}.",
                        "it may exist only in a fork or a pull request, which hosts such as GitHub serve through the parent's URL "
                        "(an impostor commit); pin a commit of the repository's own history or, if you trust this one, "
                        "write the module as a table with allow-unreachable = true (pin(): allow_unreachable=True)",
                    )
                found.append(HistoryCheck(names, finding, stats.how, (stats.objects, stats.bytes)))
        for (ref, old, new), names in _questions(checks.moved, _move):
            moved = f"{ref} moved from {old[:12]} to {new[:12]}"
            if checks.allow_downgrade:
                found.append(HistoryCheck(names, f"{moved}, not checked", "--allow-downgrade"))
                continue
            reached, stats = ask({sha for name, sha in refs.advertised.items() if refs.peeled[name] == new}, {new}, old)
            if not reached:
                raise IntegrityError(
                    f"{', '.join(names)}: {ref} of {remote.display} moved from {old[:12]} to {new[:12]}, which does not descend from it.",
                    "a force-push, a rewritten history or a rollback by whoever controls the remote; if you trust it, "
                    f"run `gitimport sync --allow-downgrade --upgrade {' '.join(names)}`",
                )
            found.append(HistoryCheck(names, f"{moved}, which descends from it", stats.how, (stats.objects, stats.bytes)))
    return found


def _questions(plans: list[_Plan], question: Callable[[_Plan], Question]) -> list[tuple[Question, tuple[str, ...]]]:
    """Each question once, with the modules that ask it: modules pinned to one commit, or following one branch."""
    asked: dict[Question, list[str]] = {}
    for plan in plans:
        asked.setdefault(question(plan), []).append(plan.name)
    return [(key, tuple(names)) for key, names in asked.items()]


def _move(plan: _Plan) -> tuple[str, str, str]:
    """What an upgrade did: the ref, the locked commit, the commit it resolves to now."""
    assert plan.entry is not None and plan.commit is not None
    return plan.spec.ref, plan.entry.commit, plan.commit


def _fetch_and_materialize(
    plans: list[_Plan],
    needs_tree: list[_Plan],
    config: Config,
    lockfile: Path,
    cache: Cache,
    report: SyncReport,
    remote: Remote,
    refs: RemoteRefs | None,
    checks: _HistoryChecks,
    *,
    offline: bool,
    progress: FetchProgress | None,
) -> None:
    """Under the repository's lock: check the history, fetch the commits the cache lacks, check signatures, materialize."""
    from .remote.repo import bare_repository, has_object, record_reachable

    repo_dir = cache.repo_dir(plans[0].spec.repo.identity)
    build = cache.new_build_dir()
    try:
        with cache.lock(repo_dir.name), bare_repository(repo_dir, build) as repo:
            history = _check_history(checks, remote, refs, build, progress)
            signed = [p for p in needs_tree if config.requires_signature(p.spec)]
            tags = _tag_objects(signed, refs, repo)
            wanted = {p.commit for p in needs_tree if p.commit} | set(tags.values())
            if not all(has_object(repo, c) for c in wanted):
                if offline:
                    raise OfflineError(
                        f"Offline mode, but {', '.join(p.name for p in needs_tree)} is not in the cache.",
                        "run `gitimport sync` once with the network",
                    )
                from .remote.progress import watching_fetch

                with watching_fetch(remote.display, repo.path, progress) as on_message:
                    stats = remote.fetch(repo, wanted, refs, progress=on_message, tree_depth=_tree_depth(needs_tree))
                _count_fetch(report, remote.display, stats)
            for plan in checks.pinned:  # proved, and now in the cache: a later sync neither asks again nor contacts the remote for it
                record_reachable(repo, plan.spec.ref)
            _verify_signatures(signed, tags, repo, config)

            def materialize_all() -> list[ModuleOutcome]:
                unpinned = _whole_distributions(needs_tree, repo, config)
                outcomes = [
                    _materialize(plan, repo, config, cache, relative_lock_url(plan.spec, lockfile), fresh=plan in needs_tree)
                    for plan in plans
                ]
                for outcome in outcomes:
                    outcome.unpinned = unpinned.get(outcome.name)
                return outcomes

            def fetch_blobs(extra: dict[str, str]) -> None:
                _fetch_missing_blobs(needs_tree, repo, config, cache, report, remote, refs, extra, offline=offline, progress=progress)

            outcomes = _fetching_what_is_read(materialize_all, fetch_blobs)  # fetch what materializing reads, then materialize
    finally:
        atomic.remove(build)
    report.history.extend(history)  # once, after success: a damaged repository makes sync run all of this again
    report.modules.extend(outcomes)


def _whole_distributions(plans: list[_Plan], repo: Repo, config: Config) -> dict[str, Unpinned]:
    """Check every ``also`` name against its PATH, and find what the synced modules' distributions ship unpinned.

    Runs before anything is materialized, so an ``also`` name that PATH does
    not hold leaves lock and cache as they were.  Only modules this sync
    materializes or resolves are looked at, and each distribution is
    reported once, for the first of its modules.

    Raises:
      PathNotFoundError: an ``also`` name is not a folder or ``.py`` file in its entry's PATH.
    """
    from .project.spec import format_entry, redact_url
    from .store.top_level import also_root, shipped_names

    configured = {name.split(".")[0] for name in config.modules}
    found: dict[str, Unpinned] = {}
    seen: set[tuple[str, str]] = set()
    for plan in plans:
        assert plan.commit is not None
        entry, *others = config.group(plan.name)
        root = also_root(repo.object_store, plan.commit, plan.spec.path, plan.name, entry) if others else _root(plan, repo).path
        shipped = shipped_names(repo.object_store, plan.commit, root)
        missing = sorted(set(shipped.names) - configured - {plan.name.split(".")[0]}) if shipped else []
        if shipped is None or not missing or (plan.commit, shipped.project_dir) in seen:
            continue
        seen.add((plan.commit, shipped.project_dir))
        folder = root.rpartition("/")[0]
        here = [name for name in missing if shipped.names[name].rpartition("/")[0] == folder]
        also = tuple(sorted({*config.also.get(entry, ()), *here}))
        repo_text = redact_url(plan.spec.written_repo)
        lines = [format_entry(entry, repo_text, plan.spec.ref, folder, also)] if here else []
        lines += [
            format_entry(name, repo_text, plan.spec.ref, shipped.names[name].rpartition("/")[0]) for name in missing if name not in here
        ]
        found[plan.name] = Unpinned(shipped.distribution, tuple(missing), folder, also, tuple(lines))
    return found


def _root(plan: _Plan, repo: Repo) -> Root:
    """What ``plan``'s commit:PATH imports (the PATH rules), found once for the three steps that ask.

    The whole-distribution check, the blob check and materialization each need it.
    """
    if plan.root is None:
        from .store.materialize import find_root

        assert plan.commit is not None
        plan.root = find_root(repo.object_store, plan.commit, plan.spec.path, plan.name, plan.spec.redacted)
    return plan.root


def _tree_depth(plans: list[_Plan]) -> int:
    """How deep the trees of a commit fetch go (:func:`gitimport.remote.fetch.trees_filter`): to each PATH's own tree.

    Finding what PATH imports (``find_root``) reads PATH's tree, and when it
    holds no ``__init__.py`` the folder named for the module below it.  That
    level is fetched too for a PATH at most one folder deep (``:src``, or
    none), where it is small; deeper, in a monorepo, it holds every project's
    packages, so a PATH that names a package's parent costs one request more
    (its module folder, by id).  The trees below the root come with its blobs.
    """
    deepest = max((len(p.spec.path.split("/")) if p.spec.path else 0 for p in plans), default=0)
    return deepest + (2 if deepest <= 1 else 1)


def _fetching_what_is_read(read: Callable[[], Outcome], fetch: Callable[[dict[str, str]], None]) -> Outcome:
    """``read()`` after ``fetch``; when either reads a blob or tree the repository lacks, fetch that one too and try again.

    :func:`_fetch_missing_blobs` brings what ``gitimport/store/needed.py``
    says materialization reads, and the commit fetch the trees on the way
    to each PATH; a reader that reads an object neither lists (a tree off
    that way, a blob needed.py does not name) still works, with one more
    request per such object, which is never taken for damage.  ``fetch`` is
    given those objects (id to kind).  One fetched and still missing ends it.
    """
    extra: dict[str, str] = {}
    while True:
        try:
            fetch(extra)
            return read()
        except MissingObjectError as missing:
            if missing.object_id in extra:
                raise
            extra[missing.object_id] = missing.kind


def _fetch_missing_blobs(
    plans: list[_Plan],
    repo: Repo,
    config: Config,
    cache: Cache,
    report: SyncReport,
    remote: Remote,
    refs: RemoteRefs | None,
    extra: dict[str, str],
    *,
    offline: bool,
    progress: FetchProgress | None,
) -> None:
    """Bring the blobs that materializing ``plans`` reads and a partial fetch left out (docs/how-it-works.md#partial-fetch).

    What each module needs comes from :mod:`gitimport.store.needed`, plus
    ``extra`` objects that materialization was seen to read (id to kind).
    Where the server filters: the extra trees first, with the trees below
    them, in one request; then in one request by id the blobs, and the trees
    below the roots the repository lacks, with ``max-file-size`` as a size
    filter.  Else the whole commits again.  A blob the server withheld for its size is
    refused here, by name, before anything is written.  Blobs the repository
    holds are read and re-hashed by materialization as ever; a missing one is
    only ever fetched, never taken for damage.

    Raises:
      OfflineError: blobs are missing and offline mode forbids fetching them.
      UnsafeTreeError: a blob is over ``max-file-size``.
      FetchError: the server did not send a blob asked for by its id.
    """
    from .store.layout import root_name
    from .store.needed import Missing, missing_blobs
    from .store.objects import holds_object

    def lacking() -> dict[str, Missing]:
        """Per module, the blobs it needs that the repository lacks (none for most, once fetched)."""
        per_module = {}
        for plan in plans:
            assert plan.commit is not None
            root = _root(plan, repo)
            cached = cache.has_tree(root.object, root_name(root.path, plan.name))
            per_module[plan.name] = missing_blobs(repo.object_store, plan.commit, root, below_root=not cached)
        return {name: missing for name, missing in per_module.items() if missing}

    lacked = {object_id: kind for object_id, kind in extra.items() if not holds_object(repo.object_store, object_id)}
    trees = {object_id for object_id, kind in lacked.items() if kind == "tree"}
    if trees:  # first, for what is below them to be known
        if offline:
            _refuse_offline([plan.name for plan in plans])
        _fetch_by_id(plans, repo, report, remote, refs, partial(remote.fetch_trees, repo, trees), progress)
    before = lacking()
    below = {tree for missing in before.values() for tree in missing.trees}
    if below and _holds_other_commits(repo, plans):  # an upgrade: only what changed below the trees, not all of it
        _fetch_by_id(plans, repo, report, remote, refs, partial(remote.fetch_trees, repo, below), progress)
        before = lacking()
    read_too = set(lacked) - trees
    if not before and not read_too:
        return
    if offline:
        _refuse_offline(list(before) or [plan.name for plan in plans])
    asked = Missing(asks=set(read_too))
    for missing in before.values():
        asked.update(missing)
    _fetch_by_id(plans, repo, report, remote, refs, partial(remote.fetch_blobs, repo, asked.asks, config.max_file_size), progress)
    for name, still in sorted(lacking().items()):
        withheld = sorted((path, blob) for blob, path in still.blobs.items() if not asked.asked_by_id(blob))  # below a wanted tree
        if withheld:
            from .store.materialize import size_text

            path, blob = withheld[0]
            raise UnsafeTreeError(
                f"{path} is larger than max-file-size ({size_text(config.max_file_size)}): "
                f"{remote.display} left it out of the fetch for its size.",
                f"raise max-file-size in the config if this file is expected; if it is small, blob {blob} may be unreadable on the server",
            )
        object_id, path = min({**still.blobs, **still.trees}.items(), key=lambda item: item[1])
        raise FetchError(
            f"{remote.display} did not send {path} ({object_id[:12]}), which {name} needs.",
            "check the URL and your network, then run `gitimport sync` again",
        )
    for object_id in sorted(lacked):
        if not holds_object(repo.object_store, object_id):
            raise FetchError(
                f"{remote.display} did not send {lacked[object_id]} {object_id}, which materialization reads.",
                "check the URL and your network, then run `gitimport sync` again",
            )


def _holds_other_commits(repo: Repo, plans: list[_Plan]) -> bool:
    """Whether the repository holds commits other than ``plans``': then a tree it lacks may hold blobs it has.

    Below a module's root, a tree the repository lacks is asked for whole,
    with its blobs, in the one blob request: right for a cold cache, where
    none of them is there.  After an upgrade most of them are (the file
    changed, its neighbours did not), so the trees are asked for first,
    without blobs, and then only the blobs missing: one request more, much
    less sent.
    """
    from .remote.repo import pinned_commits

    return bool(pinned_commits(repo) - {p.commit for p in plans})


def _refuse_offline(names: list[str]) -> NoReturn:
    raise OfflineError(f"Offline mode, but {', '.join(names)} is not in the cache.", "run `gitimport sync` once with the network")


def _fetch_by_id(
    plans: list[_Plan],
    repo: Repo,
    report: SyncReport,
    remote: Remote,
    refs: RemoteRefs | None,
    fetch: Callable[..., FetchStats | None],
    progress: FetchProgress | None,
) -> None:
    """``fetch`` (:meth:`Remote.fetch_blobs` or :meth:`Remote.fetch_trees`); the whole commits where the server cannot."""
    from .remote.progress import watching_fetch

    with watching_fetch(remote.display, repo.path, progress) as on_message:
        stats = fetch(progress=on_message)
        if stats is None:  # the server cannot send objects by id: the whole commits, as before partial fetches
            stats = remote.fetch(repo, {p.commit for p in plans if p.commit}, refs, progress=on_message, whole=True)
    _count_fetch(report, remote.display, stats)


def _count_fetch(report: SyncReport, display: str, stats: FetchStats) -> None:
    if not stats.skipped:
        report.count_fetch(display, stats.objects, stats.bytes, stats.how)


def _tag_objects(plans: list[_Plan], refs: RemoteRefs | None, repo: Repo) -> dict[str, str]:
    """Annotated tag objects named by the refs of modules that must be signed (name -> tag id).

    From ls-remote when we have it, else from the ref the cache kept at the
    last fetch, so a signature on a tag can be checked again offline.
    """
    from .remote.repo import kept_tag

    tags: dict[str, str] = {}
    for plan in plans:
        name = plan.spec.ref if plan.spec.ref.startswith("refs/tags/") else f"refs/tags/{plan.spec.ref}"
        advertised = refs.advertised.get(name) if refs is not None else None
        if advertised is None:
            advertised = kept_tag(repo, name[len("refs/tags/") :])
        if advertised and advertised != plan.commit:
            tags[plan.name] = advertised
    return tags


def _verify_signatures(plans: list[_Plan], tags: dict[str, str], repo: Repo, config: Config) -> None:
    """``require-signed``: the commit, or the tag its ref names, is signed by a trusted key."""
    if not plans:
        return
    if config.trusted_signers is None:
        raise ConfigError(
            f"require-signed is on for {', '.join(p.name for p in plans)}, but no trusted-signers file is configured.",
            'set trusted-signers = "PATH" to an SSH allowed-signers file (OpenPGP key blocks may follow)',
        )
    from .remote.repo import keep_tag
    from .remote.signatures import SignatureVerifier

    with SignatureVerifier(config.trusted_signers) as verifier:
        for plan in plans:
            assert plan.commit is not None
            tag = tags.get(plan.name)
            tag_name = plan.spec.ref.removeprefix("refs/tags/") if tag else None
            verifier.verify(repo.object_store, plan.commit, tag, what=plan.name, tag_name=tag_name)
            if tag and tag_name:
                keep_tag(repo, tag_name, tag)


def _contact_spelling(plans: list[_Plan]) -> RepoURL:
    """Of the spellings of one repository, the one to contact: one that carries credentials, if any."""
    from .project.spec import redact_url

    with_credentials = [p.spec.repo for p in plans if redact_url(p.spec.repo.fetch) != p.spec.repo.fetch]
    return with_credentials[0] if with_credentials else plans[0].spec.repo


def _commit_ref(ref: str) -> Resolved:
    from .remote.fetch import Resolved

    return Resolved(ref, "commit")


def _cached(cache: Cache, plan: _Plan) -> bool:
    """The module's tree, bound to its locked ``commit:path``, and its distribution record are in the cache."""
    from .store.binding import serves
    from .store.metadata import dist_pointer

    entry = plan.entry
    return (
        entry is not None
        and serves(cache.locked_tree(plan.name, entry), entry)
        and dist_pointer(cache.root, plan.spec.repo.identity, entry.commit, entry.path).is_file()
    )


def _report_moved_tag(plan: _Plan, refs: RemoteRefs, warn: Reporter) -> None:
    entry = plan.entry
    assert entry is not None
    current = refs.peeled.get(f"refs/tags/{entry.ref}")
    if current and current != entry.commit:
        warn(
            f"warning: tag {entry.ref!r} of {plan.name} moved from {entry.commit[:12]} to {current[:12]}; "
            f"keeping {entry.commit[:12]} (run `gitimport sync --upgrade {plan.name}` to follow it)"
        )


def _materialize(plan: _Plan, repo: Repo, config: Config, cache: Cache, lock_url: str, fresh: bool) -> ModuleOutcome:
    from .store.generated import unbuilt_imports
    from .store.layout import root_name
    from .store.materialize import Limits, materialize
    from .store.metadata import ensure_distribution

    assert plan.commit is not None
    entry = plan.entry
    if not fresh and entry is not None:
        return ModuleOutcome(plan.name, entry, plan.action)
    root = _root(plan, repo)
    kept = entry if not plan.resolve else None
    if kept is not None and (root.object != kept.object or root.path != kept.path):
        raise IntegrityError(
            f"{plan.name}: commit {kept.commit[:12]} holds {root.object[:12]} at {root.path!r}, "
            f"but the lock says {kept.object[:12]} at {kept.path!r}.",
            "the lock file was edited or the repository was rewritten; restore the lock or run `gitimport sync --upgrade`",
        )
    name = root_name(root.path, plan.name)
    expected = kept.digest if kept else None
    notes: list[str] = []  # what metadata could not read, materialization left out, the build would make
    project, built = _read_project(plan, repo, config, root, notes)
    generated = built.hashes()
    if kept is not None and generated != dict(kept.generated):
        raise IntegrityError(
            f"{plan.name}: the files its build writes at commit {kept.commit[:12]} are {_listed(generated)}, "
            f"but the lock says {_listed(kept.generated)}.",
            "the lock file was edited, or written by another gitimport version; restore it, or run `gitimport sync --upgrade`",
        )
    location = cache.tree(root.object, name, generated)
    if location.complete:
        digest = _cached_digest(location)
        if expected is not None and digest != expected:
            raise IntegrityError(
                f"{plan.name}: the cached tree has digest {digest}, but the lock says {expected}.",
                "run `gitimport verify`, then `gitimport sync --repair`",
            )
    else:
        limits = Limits(config.max_file_size, config.max_tree_size)
        materialized = materialize(repo.object_store, cache, root, name, limits, expected_digest=expected, generated=built.files)
        digest = materialized.digest
        notes += materialized.notes
        notes += unbuilt_imports(location, root, plan.commit)
    from .store.binding import record_origin

    record_origin(str(location.entry), plan.commit, root.path)  # find_root walked commit:path to it
    new_entry = LockEntry(
        spec=plan.spec.redacted,
        url=lock_url,
        ref=plan.spec.ref,
        commit=plan.commit,
        path=root.path,
        kind=root.kind,
        object=root.object,
        digest=digest,
        generated=generated,
    )
    ensure_distribution(cache.root, project, plan.spec.repo.identity, new_entry.ref, new_entry.commit, new_entry.path)
    action = plan.action if plan.resolve else "restored"
    if plan.action == "upgraded" and entry is not None and entry.commit == plan.commit:
        action = "unchanged"
    return ModuleOutcome(plan.name, new_entry, action, ref_kind=plan.ref_kind, materialized=True, notes=notes)


def _read_project(plan: _Plan, repo: Repo, config: Config, root: Root, notes: list[str]) -> tuple[ProjectMetadata | None, BuildFiles]:
    """What materialization reads of the commit beyond the tree: the project's metadata and the files its build writes."""
    from .store.metadata import find_project

    assert plan.commit is not None
    project = find_project(repo.object_store, plan.commit, root.path, plan.spec.ref, notes)
    built = _build_files(plan, repo, config, root, project)
    notes += built.notes
    return project, built


def objects_read(config: Config, name: str, spec: Spec, entry: LockEntry, repo: Repo) -> set[str]:
    """Every object sync reads of ``entry``'s commit to materialize it, its tree's included (``cache export``).

    The same readers run as in a sync, over a store that records what they
    read, so a tree mirror's archives hold exactly what sync will ask of them.
    """
    from .store.objects import RecordingRepo

    plan = _Plan(name, spec, entry, resolve=False, action="unchanged", commit=entry.commit)
    recording = RecordingRepo(repo)
    _whole_distributions([plan], recording.as_repo(), config)
    _read_project(plan, recording.as_repo(), config, _root(plan, recording.as_repo()), [])
    return recording.read


def _build_files(plan: _Plan, repo: Repo, config: Config, root: Root, project: ProjectMetadata | None) -> BuildFiles:
    """The files ``project``'s build would write below ``root`` (docs/import-fidelity.md#files-written-at-build-time)."""
    from .store.generated import build_files
    from .store.metadata import version_from_ref

    assert plan.commit is not None
    version = project.version if project else version_from_ref(plan.spec.ref, plan.commit)
    project_dir = project.project_dir if project else None
    return build_files(repo.object_store, plan.commit, root, version, project_dir, plan.spec.ref, config.max_file_size)


def _listed(generated: Mapping[str, str]) -> str:
    return ", ".join(f"{path} ({digest[7:19]})" for path, digest in sorted(generated.items())) or "none"


def _cached_digest(location: TreeLocation) -> str:
    from .store.cache import read_manifest

    return str(read_manifest(location).get("digest"))


def _repair(plan: _Plan, cache: Cache, warn: Reporter) -> None:
    """Drop a cached tree that fails verification, and the stored bytecode it links, so both are made again.

    A tree that is not bound to the lock's ``commit:path`` fails too: it is
    materialized again from that commit, which refuses a lock whose
    ``object`` the commit does not hold.
    """
    entry = plan.entry
    if entry is None:
        return
    location = cache.locked_tree(plan.name, entry)
    if not location.entry.exists():
        return
    problems = verify_locked(location, entry, recompile=True)
    if problems:
        from .store.bytecode import forget_stored_bytecode

        warn(f"repairing {plan.name}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        forget_stored_bytecode(cache, location)
        atomic.remove(location.entry)


def _repair_repository(plans: list[_Plan], cache: Cache, warn: Reporter) -> None:
    """Drop a bare repository that lost or damaged an object a locked module needs: it is fetched again when needed."""
    from .remote.repo import existing_repository, has_repository
    from .store.objects import read_all

    repo_dir = cache.repo_dir(plans[0].spec.repo.identity)
    if not has_repository(repo_dir):
        return
    with cache.lock(repo_dir.name):
        try:
            with existing_repository(repo_dir) as repo:
                for plan in plans:
                    if plan.entry is not None:
                        read_all(repo.object_store, plan.entry.commit, plan.entry.path)
        except DamagedRepositoryError as damage:
            warn(f"repairing {plans[0].spec.repo.normalized}: {damage.message} (the repository is fetched again when needed)")
            atomic.remove(repo_dir)


def relative_lock_url(spec: Spec, lockfile: Path) -> str:
    """A local repository's URL relative to the lock's folder (docs/lock-file.md#urls-in-the-lock)."""
    if not spec.repo.is_local or spec.repo.normalized.startswith(("file://", "/")):
        return spec.repo.normalized
    relative = os.path.relpath(spec.repo.fetch, lockfile.parent).replace(os.sep, "/")
    return relative if relative.startswith("..") else f"./{relative}"
