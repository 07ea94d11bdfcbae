"""``gitimport status`` and ``outdated``: how the config, the lock, the cache and the remotes agree.

``status`` reads the config, the lock and the cache, asks each repository for
its refs once (``ls-remote``) to find tags that moved since the lock, and asks
the target interpreter which pinned names it could also import by itself, and
which requirements of the pinned distributions it lacks.
``outdated`` asks each repository once for its tags and compares them with the
locked ref as versions.  Neither changes anything: no lock, no cache, no fetch
of objects.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import EXIT_OK, FetchError, GitImportError, OfflineError, OutOfDateError, UsageError
from ...project.config import Config
from ...project.lock import LockEntry, read_lock
from ...project.spec import RepoURL, Spec, is_commit_id
from ...store.binding import serves
from ...store.cache import Cache
from ..output import load_config_of, plural, print_json, require_config, table, warn

if TYPE_CHECKING:
    from packaging.version import Version

    from ...remote.fetch import RemoteRefs


@dataclass
class ModuleStatus:
    """One module: what is out of date (``problems``) and what is worth knowing (``notes``)."""

    name: str
    spec: str | None  # None: in the lock but no longer configured
    ref: str
    commit: str | None  # the locked commit, when the lock entry matches the spec
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shadows: dict[str, str | None] | None = None

    @property
    def state(self) -> str:
        return "; ".join(self.problems) if self.problems else "ok"

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "spec": self.spec,
            "ref": self.ref,
            "commit": self.commit,
            "ok": not self.problems,
            "problems": self.problems,
            "notes": self.notes,
            "shadows": self.shadows,
        }


@dataclass
class Status:
    modules: list[ModuleStatus]
    unreachable: list[str]  # remotes that could not be asked, with the reason
    remotes_checked: bool = True  # False in offline mode

    @property
    def out_of_date(self) -> bool:
        return any(m.problems for m in self.modules)


def project_status(config: Config, *, offline: bool = False, python: str | None = None) -> Status:
    """The status of every configured or locked module (status contacts the remotes: docs/commands.md#gitimport-status)."""
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    modules: list[ModuleStatus] = []
    current: dict[str, tuple[Spec, LockEntry]] = {}
    for name, spec in config.modules.items():
        entry = lock.get(name)
        status = ModuleStatus(name, spec.redacted, spec.ref, None)
        if entry is None:
            status.problems.append("not in the lock")
        elif entry.spec != spec.redacted:
            status.problems.append("spec changed since the lock")
        else:
            status.commit = entry.commit
            current[name] = (spec, entry)
            location = cache.locked_tree(name, entry)
            if not location.complete:
                status.problems.append("not in the cache")
            elif not serves(location, entry):
                status.problems.append(f"its cached tree was not materialized from commit {entry.commit[:12]} (run `gitimport sync`)")
        modules.append(status)
    for name in sorted(set(lock.modules) - set(config.modules)):
        entry = lock.modules[name]
        modules.append(ModuleStatus(name, None, entry.ref, entry.commit, problems=["in the lock but no longer configured"]))
    by_name = {m.name: m for m in modules}
    unreachable: list[str] = []
    if not (offline or config.offline):
        for repo, members in _group(current.items()).items():
            try:
                refs = list_refs(repo, config)
            except GitImportError as exc:
                unreachable.append(exc.message)
                continue
            for name, (_spec, entry) in members:
                _check_ref(by_name[name], entry, refs)
    _check_shadowing(modules, python)
    _check_requirements(by_name, _distributions(config, current), python)
    return Status(sorted(modules, key=lambda m: m.name), unreachable, remotes_checked=not (offline or config.offline))


def _group(items: Iterable[tuple[str, tuple[Spec, LockEntry]]]) -> dict[RepoURL, list[tuple[str, tuple[Spec, LockEntry]]]]:
    groups: dict[str, tuple[RepoURL, list[tuple[str, tuple[Spec, LockEntry]]]]] = {}
    for name, (spec, entry) in items:
        if is_commit_id(spec.ref):
            continue  # a commit id never moves
        groups.setdefault(spec.repo.identity, (spec.repo, []))[1].append((name, (spec, entry)))
    return {repo: members for repo, members in groups.values()}


def list_refs(repo: RepoURL, config: Config) -> RemoteRefs:
    """One ls-remote; offline mode refuses it."""
    if config.offline:
        raise OfflineError(f"Offline mode: {repo.normalized} was not contacted.", "run without offline mode to check the remote")
    from ...remote.fetch import Remote

    return Remote(repo, config).ls_remote()


def _check_ref(status: ModuleStatus, entry: LockEntry, refs: RemoteRefs) -> None:
    """A moved tag is a problem (docs/lock-file.md#moved-tags); a branch that moved on is only worth a note."""
    ref = entry.ref
    tag = ref if ref.startswith("refs/tags/") else f"refs/tags/{ref}"
    tagged = refs.peeled.get(tag)
    if tagged is not None:
        if tagged != entry.commit:
            status.problems.append(f"tag {ref} moved to {tagged[:12]} (run `gitimport sync --upgrade {status.name}` to follow it)")
        return
    now = refs.peeled.get(ref if ref.startswith("refs/") or ref == "HEAD" else f"refs/heads/{ref}")
    if now is None:
        status.notes.append(f"{ref} is no longer on the remote")
    elif now != entry.commit:
        status.notes.append(
            f"{ref} is now at {now[:12]} (`gitimport sync --upgrade {status.name}` follows it if it descends from the locked commit)"
        )


def _check_shadowing(modules: list[ModuleStatus], python: str | None) -> None:
    """Note pinned top-level names that the target interpreter could import by itself."""
    from ...target.interpreter import find_without_gitimport

    names = [m.name for m in modules if m.spec is not None and "." not in m.name]
    found = find_without_gitimport(names, python)
    for status in modules:
        other = found.get(status.name)
        if other is None or other.kind == "namespace":
            continue
        status.shadows = {"origin": other.origin, "distribution": other.distribution, "version": other.version, "kind": other.kind}
        if other.kind in ("built-in", "frozen") or other.preloaded:
            status.notes.append(f"pinned, but {other.describe()} wins: it is imported before gitimport's finder is asked")
        else:
            status.notes.append(f"pinned, shadows {other.describe()}")


def _distributions(config: Config, current: dict[str, tuple[Spec, LockEntry]]) -> dict[str, list[str]]:
    """The .dist-info folder of each cached distribution that locked modules belong to, and those modules."""
    from ...store.metadata import recorded_distribution

    members: dict[str, list[str]] = {}
    for name, (spec, entry) in sorted(current.items()):
        dist_info = recorded_distribution(config.cache_dir, spec.repo.identity, entry.commit, entry.path)
        if dist_info:
            members.setdefault(dist_info, []).append(name)
    return members


def _check_requirements(by_name: dict[str, ModuleStatus], distributions: dict[str, list[str]], python: str | None) -> None:
    """Note, on each of its modules, what a pinned distribution requires that the target interpreter lacks.

    ``sync`` warns of it once, when it writes the lock; ``status`` is where
    a user looks again later, after the environment changed.  A note, not a
    problem: the lock and the cache are not out of date because of it.
    """
    if not distributions:
        return
    from ...target.requirements import unmet_requirements

    for unmet in unmet_requirements(sorted(distributions), python):
        for name in distributions[unmet.dist_info]:
            by_name[name].notes.append(unmet.sentence(python))


@dataclass
class Outdated:
    """Newer version tags for one module."""

    name: str
    ref: str
    current: str | None  # the locked ref read as a version, if it is one
    latest: str | None  # the newest version tag of the repository
    newer: list[str]

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "ref": self.ref, "current": self.current, "latest": self.latest, "newer": self.newer}


def outdated_modules(config: Config, names: Iterable[str] | None = None) -> list[Outdated]:
    """Compare each module's ref with its repository's version tags (one ls-remote per repository).

    Tags are read as versions (``v1.2.0`` and ``1.2.0`` alike, with
    ``packaging.version``); pre-releases count only when the current ref is one.

    Raises:
      OfflineError, FetchError, PolicyError: a remote that cannot be asked.
    """
    from packaging.version import InvalidVersion, Version

    wanted = sorted(names) if names is not None else sorted(config.modules)
    repos: dict[str, list[str]] = {}
    for name in wanted:
        repos.setdefault(config.modules[name].repo.identity, []).append(name)
    results: dict[str, Outdated] = {}
    for members in repos.values():
        refs = list_refs(config.modules[members[0]].repo, config)
        tags: dict[str, Version] = {}
        for ref_name in refs.advertised:
            if ref_name.startswith("refs/tags/"):
                version = _as_version(ref_name[len("refs/tags/") :], Version, InvalidVersion)
                if version is not None:
                    tags[ref_name[len("refs/tags/") :]] = version
        for name in members:
            ref = config.modules[name].ref
            current = _as_version(ref[len("refs/tags/") :] if ref.startswith("refs/tags/") else ref, Version, InvalidVersion)
            usable = {t: v for t, v in tags.items() if not v.is_prerelease or (current is not None and current.is_prerelease)}
            newer = sorted((t for t, v in usable.items() if current is not None and v > current), key=lambda t: usable[t])
            latest = max(usable, key=lambda t: usable[t]) if usable else None
            results[name] = Outdated(name, ref, str(current) if current is not None else None, latest, newer)
    return [results[name] for name in wanted]


def _as_version(tag: str, version_type: type[Version], invalid: type[Exception]) -> Version | None:
    text = tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else tag
    if not text[:1].isdigit():
        return None
    try:
        return version_type(text)
    except invalid:
        return None


# the commands -------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config_of(args)
    require_config(config)
    status = project_status(config, offline=args.offline, python=args.python)
    if args.json:
        print_json(
            {
                "ok": not status.out_of_date,
                "remotes_checked": status.remotes_checked,
                "unreachable": status.unreachable,
                "modules": [m.as_json() for m in status.modules],
            }
        )
    else:
        rows = [(m.name, m.ref, m.commit[:12] if m.commit else "-", m.state) for m in status.modules]
        for line in table(rows):
            print(line)
        for module in status.modules:
            for note in module.notes:
                print(f"{module.name}: {note}")
        if not status.remotes_checked:
            print("Remotes not contacted (offline): moved tags were not checked.")
    for message in status.unreachable:
        warn(f"could not check the remote: {message}")
    stale = [m.name for m in status.modules if m.problems]
    if stale and args.check:
        raise OutOfDateError(
            f"{plural(len(stale), 'module')} out of date: {', '.join(stale)}.",
            "run `gitimport sync` (or `gitimport sync --upgrade NAME` to follow a moved tag) and commit the lock",
        )
    if status.unreachable:
        raise FetchError("Some remotes could not be asked for their refs.", "check the network and the URLs, or pass --offline")
    if not args.json:
        print(f"{plural(len(stale), 'module')} out of date." if stale else "Everything is up to date.")
    return EXIT_OK


def cmd_outdated(args: argparse.Namespace) -> int:
    config = load_config_of(args)
    require_config(config)
    unknown = [name for name in args.names if name not in config.modules]
    if unknown:
        raise UsageError(f"{', '.join(unknown)} is not a module of {config.path}.", "list the configured modules with `gitimport list`")
    results = outdated_modules(config, args.names or None)
    if args.json:
        print_json([item.as_json() for item in results])
        return EXIT_OK
    rows = []
    for item in results:
        if item.current is None:
            state = "not a version tag"
        elif item.newer:
            state = f"newer: {', '.join(item.newer)}"
        else:
            state = "up to date"
        rows.append((item.name, item.ref, f"latest {item.latest}" if item.latest else "no version tags", state))
    for line in table(rows):
        print(line)
    return EXIT_OK
