"""The ``gitimport`` command line: the top layer, over sync, finder and cache.

Each command is a small function that turns arguments into one call of the
layer below and prints the result.  Errors are printed as one sentence and a
``hint:`` line on stderr, with the exit codes of DESIGN §7; a traceback only
with ``--verbose``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from . import __version__
from .config import Config, load_config, script_with_config
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, GitImportError

EXAMPLES = {
    "sync": (
        "examples:\n  gitimport sync\n"
        "  gitimport sync --locked        # in CI: fail (exit 3) if the lock is out of date\n"
        "  gitimport sync --upgrade mylib"
    ),
    "run": "examples:\n  gitimport run -- python -c 'import mylib'\n  gitimport run script.py\n  gitimport run -- pytest -q",
    "verify": "example:\n  gitimport verify",
    "which": "example:\n  gitimport which mylib",
    "list": "example:\n  gitimport list --json",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = args.handler(args)
        return result
    except GitImportError as exc:
        _print_error(exc.message, exc.hint)
        if args.verbose:
            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("Interrupted.", "the lock and the cache are left as they were before the interrupted step")
        return 130
    except Exception as exc:  # a bug: still one sentence, traceback on request
        _print_error(f"Internal error: {type(exc).__name__}: {exc}.", "run again with --verbose and report the traceback")
        if args.verbose:
            traceback.print_exc()
        return EXIT_FAILURE


def _print_error(message: str, hint: str | None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks and details")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print only errors")
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file (default: GITIMPORT_CONFIG or discovery)")
    parser = argparse.ArgumentParser(
        prog="gitimport",
        description="Import Python code from exact, verified git commits.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gitimport {__version__}")
    parser.set_defaults(verbose=False, quiet=False, config=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    sync = command("sync", cmd_sync, "Resolve refs, write the lock, fetch and materialize modules.")
    sync.add_argument("--locked", action="store_true", help="fail with exit 3 if the lock would change")
    sync.add_argument("--frozen", action="store_true", help="use the lock as is; never change it")
    sync.add_argument("--offline", action="store_true", help="never touch the network")
    sync.add_argument("--upgrade", nargs="*", metavar="NAME", help="re-resolve refs (all modules, or the NAMEs given)")
    sync.add_argument("--repair", action="store_true", help="re-materialize cached trees that fail verification")
    sync.add_argument("--python", metavar="PATH", help="check requirements against this interpreter (default: the current one)")
    sync.add_argument("script", nargs="?", type=Path, help="a script whose PEP 723 block holds [tool.gitimport]")

    run = command("run", cmd_run, "Run a command with pinned modules importable in every Python process it starts.")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command (use -- before it)")

    listing = command("list", cmd_list, "List configured modules with their locked commits.")
    listing.add_argument("--json", action="store_true", help="print JSON")

    which = command("which", cmd_which, "Print the materialized path of a module.")
    which.add_argument("name")

    verify = command("verify", cmd_verify, "Re-hash every locked module in the cache.")
    verify.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)


def cmd_sync(args: argparse.Namespace) -> int:
    from .sync import SyncOptions, sync

    scripts = [Path(n) for n in args.upgrade or [] if n.endswith(".py") and Path(n).is_file()]
    if scripts and args.script is None:  # `sync --upgrade script.py`: argparse gave the script to --upgrade
        args.script = scripts[0]
        args.upgrade = [n for n in args.upgrade if Path(n) != scripts[0]]
    config = load_config(args.script) if args.script else _config(args)
    if config.shadowed is not None:
        print(f"warning: {config.path} takes precedence over [tool.gitimport] in {config.shadowed}", file=sys.stderr)
    options = SyncOptions(
        locked=args.locked,
        frozen=args.frozen,
        offline=args.offline,
        upgrade=frozenset(args.upgrade) if args.upgrade is not None else None,
        repair=args.repair,
    )
    report = sync(config, options, warn=lambda message: print(message, file=sys.stderr))
    rows = [
        (
            outcome.name,
            f"{outcome.entry.ref} ({outcome.ref_kind})" if outcome.ref_kind else outcome.entry.ref,
            outcome.entry.commit[:12],
            outcome.entry.kind,
            outcome.action,
        )
        for outcome in report.modules
    ]
    _say(args, f"Synced {len(rows)} module{'s' if len(rows) != 1 else ''} from {config.path}")
    for line in _table(rows):
        _say(args, f"  {line}")
    for url, (objects, size) in sorted(report.fetched.items()):
        _say(args, f"Fetched {url}: {objects} objects, {_human_bytes(size)}")
    for name in report.removed:
        _say(args, f"Removed {name} from the lock")
    if report.lock_written:
        _say(args, f"Wrote {report.lockfile}")
    _warn_unmet_requirements(config, args.python)
    return EXIT_OK


def _warn_unmet_requirements(config: Config, python: str | None) -> None:
    """Name what pinned packages need but the target interpreter lacks (DESIGN §8)."""
    from .finder import build_table
    from .requirements import unmet_requirements

    dists = build_table(config)[2]
    for unmet in unmet_requirements([dist_info for dist_info, _ in dists.values()], python):
        found = f"{unmet.found} is installed" if unmet.found else "it is not installed"
        target = python or sys.executable
        print(f"warning: {unmet.distribution} requires {unmet.requirement!r}, but {found} for {target}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from .run import run

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    script = script_with_config(Path(argv[0])) if argv and argv[0].endswith(".py") else None
    return run(load_config(script) if script else _config(args), argv)


def cmd_list(args: argparse.Namespace) -> int:
    from .cache import Cache
    from .lock import read_lock

    config = _config(args)
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    items: list[dict[str, str | bool | None]] = []
    rows: list[tuple[str, ...]] = []
    for name, spec in config.modules.items():
        entry = lock.get(name)
        if entry is not None and entry.spec != spec.redacted:
            entry = None
        cached = entry is not None and cache.has_tree(entry.object, entry.root_name(name))
        items.append(
            {
                "name": name,
                "spec": spec.redacted,
                "commit": entry.commit if entry else None,
                "kind": entry.kind if entry else None,
                "cached": cached,
            }
        )
        rows.append(
            (
                name,
                spec.redacted,
                entry.commit[:12] if entry else "not locked",
                entry.kind if entry else "-",
                "cached" if cached else "not cached",
            )
        )
    if args.json:
        print(json.dumps(items, indent=2))
        return EXIT_OK
    for line in _table(rows):
        print(line)
    return EXIT_OK


def cmd_which(args: argparse.Namespace) -> int:
    from .cache import Cache
    from .errors import UsageError
    from .lock import read_lock

    config = _config(args)
    entry = read_lock(config.lockfile).get(args.name)
    spec = config.modules.get(args.name)
    if entry is None or spec is None or entry.spec != spec.redacted:
        raise UsageError(f"{args.name!r} is not a locked module of {config.path}.", "run `gitimport sync`, or check `gitimport list`")
    location = Cache(config.cache_dir).tree(entry.object, entry.root_name(args.name))
    if not location.manifest.is_file():
        raise GitImportError(f"{args.name!r} is locked but not in the cache.", "run `gitimport sync`")
    print(location.path)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .cache import Cache, verify_tree
    from .lock import read_lock

    config = _config(args)
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    results = {name: verify_tree(cache.tree(entry.object, entry.root_name(name)), entry.digest) for name, entry in lock.modules.items()}
    if args.json:
        print(json.dumps({"ok": not any(results.values()), "modules": results}, indent=2))
    else:
        for name, problems in results.items():
            print(f"{name}: {'ok' if not problems else 'FAILED'}")
            for problem in problems:
                print(f"  {problem}")
    if any(results.values()):
        bad = [n for n, p in results.items() if p]
        raise GitImportError(f"Verification failed for {', '.join(bad)}.", "run `gitimport sync --repair` to restore them")
    return EXIT_OK


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
