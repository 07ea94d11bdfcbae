"""``gitimport sync``: bring lock and cache in line with the config, and say what changed.

A no-op sync on a warm cache takes a fast path that reads only the runtime
snapshot (no TOML, no dulwich).  Otherwise the summary is an aligned table of
modules, then what was fetched, removed and written, then what
materialization left out and what the pinned distributions need but the
target interpreter lacks.  ``-v`` adds each module's object ids and each
history check: what it found, and how the history was read.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import EXIT_OK
from ..output import human_bytes, load_config_of, plural, say, table, warn, warning

if TYPE_CHECKING:
    from ...project.config import Config
    from ...state import ProjectState
    from ...sync import SyncReport, Unpinned
    from ..progress import TerminalProgress


def cmd_sync(args: argparse.Namespace) -> int:
    scripts = [Path(n) for n in args.upgrade or [] if n.endswith(".py") and Path(n).is_file()]
    if scripts and args.script is None:  # `sync --upgrade script.py`: argparse gave the script to --upgrade
        args.script = scripts[0]
        args.upgrade = [n for n in args.upgrade if Path(n) != scripts[0]]
    if _nothing_to_sync(args):
        return EXIT_OK
    from ...project.config import load_config
    from ...store.cache import project_lock
    from ...sync import SyncOptions, sync

    def load() -> Config:
        return load_config(args.script) if args.script else load_config_of(args)

    config = load()
    if config.shadowed is not None:
        warn(f"{config.path} takes precedence over [tool.gitimport] in {config.shadowed}")
    options = SyncOptions(
        locked=args.locked,
        frozen=args.frozen,
        offline=args.offline,
        upgrade=frozenset(args.upgrade) if args.upgrade is not None else None,
        repair=args.repair,
        allow_downgrade=args.allow_downgrade,
    )
    progress = _terminal_progress(args)
    report_warning = warn if progress is None else lambda message: progress.print(warning(message))
    try:
        with contextlib.ExitStack() as held:
            if config.path is not None:  # read the config again under the project's lock: a concurrent `add` may have changed it
                held.enter_context(project_lock(config.cache_dir, config.path))
                config = load()
            report = sync(config, options, warn=report_warning, progress=progress, jobs=args.jobs)
    finally:
        if progress is not None:
            progress.close()
    say(args, f"Synced {plural(len(report.modules), 'module')} from {config.path}")
    print_report(args, report)
    if report.state is not None:
        _warn_unmet_requirements(report.state, args.python)
    return EXIT_OK


def _nothing_to_sync(args: argparse.Namespace) -> bool:
    """The no-op fast path: lock and cache complete, as the runtime snapshot proves.

    Nothing is parsed but the snapshot (no TOML, no dulwich), so a CI step that
    runs `gitimport sync` on a warm cache costs little more than starting
    Python.  Anything that could change the outcome takes the full path.
    """
    if args.upgrade is not None or args.repair or args.script or args.python or args.verbose:
        return False
    import os

    from ...project.discovery import find_config_file
    from ...state import ready_modules, vouches
    from ...store.usage import mark_used

    path = os.path.abspath(args.config) if args.config else find_config_file(vouches=vouches)[0]
    ready = ready_modules(path) if path else None
    if ready is None:
        return False
    count, folders = ready
    mark_used(folders)  # for `gc --max-size`: a CI cache synced every run stays recently used
    say(args, f"Nothing to do: {plural(count, 'module')} locked and cached ({path})")
    return True


def _terminal_progress(args: argparse.Namespace) -> TerminalProgress | None:
    """A status line on stderr while fetching, only for a person watching a terminal."""
    if args.quiet or not sys.stderr.isatty():
        return None
    from ..progress import TerminalProgress

    return TerminalProgress(sys.stderr)


def print_report(args: argparse.Namespace, report: SyncReport) -> None:
    """The aligned table of modules, then what was fetched, removed and written."""
    outcomes = sorted(report.modules, key=lambda outcome: outcome.name)
    rows = [
        (
            outcome.name,
            f"{outcome.entry.ref} ({outcome.ref_kind})" if outcome.ref_kind else outcome.entry.ref,
            outcome.entry.commit[:12],
            outcome.entry.kind,
            outcome.action,
        )
        for outcome in outcomes
    ]
    for line in table(rows):
        say(args, f"  {line}")
    if args.verbose:
        for outcome in outcomes:
            entry = outcome.entry
            say(args, f"  {outcome.name}: commit {entry.commit}, {entry.path or '/'} = {entry.object}, {entry.digest}")
        for check in report.history:
            fetched = [f"{plural(check.fetched[0], 'object')}, {human_bytes(check.fetched[1])}"] if check.fetched else []
            say(args, f"  history: {', '.join(check.modules)}: {check.finding} ({', '.join([check.how, *fetched])})")
        for url, hows in sorted(report.fetched_how.items()):
            say(args, f"  fetch: {url}: {'; then '.join(hows)}")
    for url, (objects, size) in sorted(report.fetched.items()):
        say(args, f"Fetched {url}: {plural(objects, 'object')}, {human_bytes(size)}")
    for name in report.removed:
        say(args, f"Removed {name} from the lock")
    for outcome in outcomes:
        for note in outcome.notes:
            say(args, f"Note: {outcome.name}: {note}")
    if report.lock_written:
        say(args, f"Wrote {report.lockfile}")
    for outcome in outcomes:
        if outcome.unpinned is not None and not args.quiet:
            print(f"Note: {outcome.name}: {unpinned_note(outcome.unpinned)}", file=sys.stderr)


def unpinned_note(unpinned: Unpinned) -> str:
    """What a distribution ships that no entry pins, and the config lines that pin it at the same commit."""
    names = " and ".join([", ".join(unpinned.names[:-1]), unpinned.names[-1]] if len(unpinned.names) > 1 else unpinned.names)
    shipper = f"its distribution {unpinned.distribution}" if unpinned.distribution else "its distribution"
    them = "them" if len(unpinned.names) > 1 else "it"
    lines = "".join(f"\n    {line}" for line in unpinned.lines)
    return f"{shipper} also ships {names}, which no entry pins; to pin {them} at the same commit, write:{lines}"


def _warn_unmet_requirements(state: ProjectState, python: str | None) -> None:
    """Name what pinned packages need but the target interpreter lacks (docs/import-fidelity.md)."""
    from ...target.requirements import unmet_requirements

    for unmet in unmet_requirements(state.dist_infos(), python):
        warn(unmet.sentence(python))
