"""The ``gitimport`` command line: the top layer, over sync, finder and cache.

Each command is a small function that turns arguments into one call of the
layer below and prints the result: aligned tables for people, ``--json`` for
programs, progress on stderr only when stderr is a terminal.  Errors are
printed as one sentence and a ``hint:`` line on stderr, with the exit codes of
DESIGN §7; a traceback only with ``--verbose``.  Command modules are imported
inside the handlers, so ``gitimport --help`` and a no-op sync stay cheap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__
from .display import human_bytes, plural, print_json, table
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_OUT_OF_DATE, EXIT_USAGE, GitImportError, UsageError

if TYPE_CHECKING:
    from .config import Config
    from .progress import TerminalProgress
    from .sync import SyncReport

EXAMPLES = {
    "sync": (
        "examples:\n  gitimport sync\n"
        "  gitimport sync --locked        # in CI: fail (exit 3) if the lock is out of date\n"
        "  gitimport sync --upgrade mylib\n"
        "  gitimport sync --jobs 4        # four repositories at a time"
    ),
    "add": (
        "examples:\n  gitimport add mylib 'https://github.com/org/repo@v1.2.0:src'\n"
        "  gitimport add helpers github:org/tools@main:helpers.py"
    ),
    "remove": "example:\n  gitimport remove mylib",
    "run": "examples:\n  gitimport run -- python -c 'import mylib'\n  gitimport run script.py\n  gitimport run -- pytest -q",
    "list": "example:\n  gitimport list --json",
    "status": "examples:\n  gitimport status\n  gitimport status --check      # in CI: exit 3 when anything is out of date",
    "outdated": "examples:\n  gitimport outdated\n  gitimport outdated mylib --json",
    "show": "example:\n  gitimport show mylib",
    "which": "example:\n  gitimport which mylib",
    "why": "examples:\n  gitimport why mylib\n  gitimport why mylib.core --python .venv/bin/python",
    "verify": "example:\n  gitimport verify",
    "gc": "examples:\n  gitimport gc --dry-run\n  gitimport gc",
    "cache": "examples:\n  gitimport cache dir\n  gitimport cache size --json\n  gitimport cache clean",
    "cache dir": 'example:\n  ls "$(gitimport cache dir)"',
    "cache size": "examples:\n  gitimport cache size\n  gitimport cache size --json",
    "cache clean": "example:\n  gitimport cache clean      # then `gitimport sync` rebuilds what this project needs",
    "vendor": "examples:\n  gitimport vendor _vendor\n  gitimport vendor _vendor --force   # replace the modules already there",
}


_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _options_after_command(argv: list[str]) -> list[str]:
    """Move ``-q``, ``-v`` and ``--config PATH`` written before the command to after it.

    argparse gives a subcommand's own defaults precedence over options parsed
    before it, so ``gitimport -q sync`` would silently lose ``-q``.
    """
    hoisted: list[str] = []
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] not in ("-h", "--help", "--version", "--"):
        taken = 2 if argv[index] == "--config" else 1
        if argv[index] not in _GLOBAL_FLAGS and not argv[index].startswith("--config"):
            return argv
        hoisted += argv[index : index + taken]
        index += taken
    if not hoisted or index >= len(argv):
        return argv
    return [argv[index], *hoisted, *argv[index + 1 :]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(_options_after_command(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "handler", None):
        (getattr(args, "subparser", None) or parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = args.handler(args)
        return result
    except GitImportError as exc:
        _print_error(exc.message, exc.hint)
        if args.verbose:
            _print_traceback()
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("Interrupted.", "the lock and the cache are left as they were before the interrupted step")
        return 130
    except BrokenPipeError:  # `gitimport list | head`: the reader left; that is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug: still one sentence, traceback on request
        _print_error(f"Internal error: {type(exc).__name__}: {exc}.", "run again with --verbose and report the traceback")
        if args.verbose:
            _print_traceback()
        return EXIT_FAILURE


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


def _print_error(message: str, hint: str | None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def _warn(message: str) -> None:
    print(_warning(message), file=sys.stderr)


def _warning(message: str) -> str:
    return message if message.startswith(("warning:", "repairing ")) else f"warning: {message}"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks and details")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print only errors and warnings")
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file (default: GITIMPORT_CONFIG or discovery)")
    parser = argparse.ArgumentParser(
        prog="gitimport",
        description="Import Python code from exact, verified git commits.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gitimport {__version__}")
    parser.set_defaults(verbose=False, quiet=False, config=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str,
        handler: Callable[[argparse.Namespace], int] | None,
        help_text: str,
        group: argparse._SubParsersAction[argparse.ArgumentParser] | None = None,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = (group or commands).add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=EXAMPLES.get(f"cache {name}" if group is not None else name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    def json_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--json", action="store_true", help="print JSON")

    def python_flag(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument("--python", metavar="PATH", help=f"{what} this interpreter (default: the one running gitimport)")

    sync = command("sync", cmd_sync, "Resolve refs, write the lock, fetch and materialize modules.")
    sync.add_argument("--locked", action="store_true", help="fail with exit 3 if the lock would change")
    sync.add_argument("--frozen", action="store_true", help="use the lock as is; never change it")
    sync.add_argument("--offline", action="store_true", help="never touch the network")
    sync.add_argument("--upgrade", nargs="*", metavar="NAME", help="re-resolve refs (all modules, or the NAMEs given)")
    sync.add_argument("--repair", action="store_true", help="re-materialize cached trees that fail verification")
    sync.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N", help="sync N repositories at a time (default: 1)")
    python_flag(sync, "check requirements against")
    sync.add_argument("script", nargs="?", type=Path, help="a script whose PEP 723 block holds [tool.gitimport]")

    add = command("add", cmd_add, "Add a module to the config (or change its spec), after syncing it.")
    add.add_argument("name", help="the module name to import, e.g. mylib or acme.tools")
    add.add_argument("spec", help="REPO@REF[:PATH]")

    remove = command("remove", cmd_remove, "Remove a module from the config and the lock.")
    remove.add_argument("name")

    run = command("run", cmd_run, "Run a command with pinned modules importable in every Python process it starts.")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command (use -- before it)")

    json_flag(command("list", cmd_list, "List configured modules with their locked commits."))

    status = command("status", cmd_status, "Show what is out of date: lock, cache, moved tags, shadowed installs.")
    status.add_argument("--check", action="store_true", help="exit 3 when anything is out of date")
    status.add_argument("--offline", action="store_true", help="do not contact the remotes (moved tags are not checked)")
    python_flag(status, "look for shadowed installed modules in")
    json_flag(status)

    outdated = command("outdated", cmd_outdated, "List newer version tags of each module's repository.")
    outdated.add_argument("names", nargs="*", metavar="NAME", help="only these modules")
    json_flag(outdated)

    show = command("show", cmd_show, "Show everything known about one locked module.")
    show.add_argument("name")
    json_flag(show)

    which = command("which", cmd_which, "Print the materialized path of a module.")
    which.add_argument("name")

    why = command("why", cmd_why, "Explain which finder serves an import of a name, and why.")
    why.add_argument("name", metavar="MODULE", help="any dotted module name, e.g. mylib.core")
    python_flag(why, "ask")
    json_flag(why)

    json_flag(command("verify", cmd_verify, "Re-hash every locked module in the cache."))

    gc = command("gc", cmd_gc, "Remove cache entries that no known lock file references.")
    gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    cache = command("cache", None, "Show or remove the cache.")
    cache.set_defaults(subparser=cache)
    cache_commands = cache.add_subparsers(title="cache commands", metavar="COMMAND")
    command("dir", cmd_cache_dir, "Print the cache folder.", cache_commands)
    json_flag(command("size", cmd_cache_size, "Print the size of the cache.", cache_commands))
    command("clean", cmd_cache_clean, "Remove the whole cache (the next sync rebuilds what it needs).", cache_commands)

    vendor = command("vendor", cmd_vendor, "Copy the locked modules as plain files into a folder.")
    vendor.add_argument("dir", type=Path, metavar="DIR")
    vendor.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _config(args: argparse.Namespace) -> Config:
    from .config import load_config

    return load_config(args.config)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)


def _require_config(config: Config) -> None:
    if config.path is None:
        raise UsageError(
            "No gitimport configuration found in this folder or above it.",
            "create one with `gitimport add NAME SPEC`, or write gitimport.toml with a [modules] table",
        )


# sync, add, remove ------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    scripts = [Path(n) for n in args.upgrade or [] if n.endswith(".py") and Path(n).is_file()]
    if scripts and args.script is None:  # `sync --upgrade script.py`: argparse gave the script to --upgrade
        args.script = scripts[0]
        args.upgrade = [n for n in args.upgrade if Path(n) != scripts[0]]
    if _nothing_to_sync(args):
        return EXIT_OK
    from .config import load_config
    from .sync import SyncOptions, sync

    config = load_config(args.script) if args.script else _config(args)
    if config.shadowed is not None:
        _warn(f"{config.path} takes precedence over [tool.gitimport] in {config.shadowed}")
    options = SyncOptions(
        locked=args.locked,
        frozen=args.frozen,
        offline=args.offline,
        upgrade=frozenset(args.upgrade) if args.upgrade is not None else None,
        repair=args.repair,
    )
    progress = _terminal_progress(args)
    warn = _warn if progress is None else lambda message: progress.print(_warning(message))
    try:
        report = sync(config, options, warn=warn, progress=progress, jobs=args.jobs)
    finally:
        if progress is not None:
            progress.close()
    _say(args, f"Synced {plural(len(report.modules), 'module')} from {config.path}")
    _print_report(args, report)
    _warn_unmet_requirements(config, args.python)
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

    from .finder import discover_config, ready_module_count

    path = str(args.config) if args.config else os.environ.get("GITIMPORT_CONFIG") or discover_config()
    count = ready_module_count(os.path.abspath(path)) if path else None
    if count is None:
        return False
    _say(args, f"Nothing to do: {plural(count, 'module')} locked and cached ({path})")
    return True


def _terminal_progress(args: argparse.Namespace) -> TerminalProgress | None:
    """A status line on stderr while fetching, only for a person watching a terminal."""
    if args.quiet or not sys.stderr.isatty():
        return None
    from .progress import TerminalProgress

    return TerminalProgress(sys.stderr)


def _print_report(args: argparse.Namespace, report: SyncReport) -> None:
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
        _say(args, f"  {line}")
    if args.verbose:
        for outcome in outcomes:
            entry = outcome.entry
            _say(args, f"  {outcome.name}: commit {entry.commit}, {entry.path or '/'} = {entry.object}, {entry.digest}")
    for url, (objects, size) in sorted(report.fetched.items()):
        _say(args, f"Fetched {url}: {plural(objects, 'object')}, {human_bytes(size)}")
    for name in report.removed:
        _say(args, f"Removed {name} from the lock")
    if report.lock_written:
        _say(args, f"Wrote {report.lockfile}")


def _warn_unmet_requirements(config: Config, python: str | None) -> None:
    """Name what pinned packages need but the target interpreter lacks (DESIGN §8)."""
    from .finder import build_table
    from .requirements import unmet_requirements

    dists = build_table(config)[2]
    for unmet in unmet_requirements([dist_info for dist_info, _ in dists.values()], python):
        found = f"{unmet.found} is installed" if unmet.found else "it is not installed"
        _warn(f"{unmet.distribution} requires {unmet.requirement!r}, but {found} for {python or sys.executable}")


def cmd_add(args: argparse.Namespace) -> int:
    from .edit import add_module

    config = _config(args)
    if config.shadowed is not None:
        _warn(f"{config.path} takes precedence over [tool.gitimport] in {config.shadowed}")
    added = add_module(config, args.name, args.spec, warn=_warn)
    if added.created:
        _say(args, f"Created {added.config_path}")
    if added.unchanged:
        _say(args, f"{args.name} is already in {added.config_path} with this spec")
    elif added.replaced is not None:
        _say(args, f"Changed {args.name} in {added.config_path} (was {added.replaced})")
    else:
        _say(args, f"Added {args.name} to {added.config_path}")
    _print_report(args, added.report)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from .edit import remove_module

    config = _config(args)
    lock_changed = remove_module(config, args.name)
    where = f"{config.path} and {config.lockfile}" if lock_changed else f"{config.path}"
    _say(args, f"Removed {args.name} from {where}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .run import run

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    script = _script_argument(argv)
    return run(load_config(script) if script else _config(args), argv)


def _script_argument(argv: list[str]) -> Path | None:
    """The PEP 723 script a command runs: ``script.py …`` or ``python script.py …``."""
    from .config import script_with_config

    candidates = argv[:1]
    if argv and Path(argv[0]).name.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        candidates = argv[1:2]
    for candidate in candidates:
        if candidate.endswith(".py"):
            return script_with_config(Path(candidate))
    return None


# listings ---------------------------------------------------------------------


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
        print_json(items)
        return EXIT_OK
    for line in table(rows):
        print(line)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from .status import project_status

    config = _config(args)
    _require_config(config)
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
        _warn(f"could not check the remote: {message}")
    stale = [m.name for m in status.modules if m.problems]
    if stale and args.check:
        _print_error(
            f"{plural(len(stale), 'module')} out of date: {', '.join(stale)}.",
            "run `gitimport sync` (or `gitimport sync --upgrade NAME` to follow a moved tag) and commit the lock",
        )
        return EXIT_OUT_OF_DATE
    if status.unreachable:
        _print_error("Some remotes could not be asked for their refs.", "check the network and the URLs, or pass --offline")
        return EXIT_FAILURE
    if not args.json:
        print(f"{plural(len(stale), 'module')} out of date." if stale else "Everything is up to date.")
    return EXIT_OK


def cmd_outdated(args: argparse.Namespace) -> int:
    from .status import outdated_modules

    config = _config(args)
    _require_config(config)
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


def cmd_show(args: argparse.Namespace) -> int:
    from .show import show_module

    info = show_module(_config(args), args.name)
    if args.json:
        print_json(info)
        return EXIT_OK
    dist = info["distribution"]
    rows = [(key, "-" if info[key] is None else str(info[key])) for key in info if key not in ("cached", "distribution")]
    rows[rows.index(("cache_path", str(info["cache_path"])))] = (
        "cache",
        f"{info['cache_path']}" + ("" if info["cached"] else " (not cached)"),
    )
    if isinstance(dist, dict):
        rows.append(("distribution", f"{dist['name']} {dist['version']}"))
    for line in table(rows):
        print(line)
    return EXIT_OK


def cmd_which(args: argparse.Namespace) -> int:
    from .cache import Cache
    from .show import locked_module

    config = _config(args)
    _spec, entry = locked_module(config, args.name)
    location = Cache(config.cache_dir).tree(entry.object, entry.root_name(args.name))
    if not location.manifest.is_file():
        raise GitImportError(f"{args.name!r} is locked but not in the cache.", "run `gitimport sync`")
    print(location.path)
    return EXIT_OK


def cmd_why(args: argparse.Namespace) -> int:
    from .show import why
    from .spec import validate_module_name

    answer = why(_config(args), validate_module_name(args.name), args.python)
    if args.json:
        print_json(answer.as_json())
        return EXIT_OK
    print(f"{answer.name}: served by {answer.served_by} from {answer.origin}")
    for reason in answer.reasons:
        print(f"  {reason}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .cache import Cache, verify_tree
    from .lock import read_lock

    config = _config(args)
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    results = {
        name: verify_tree(cache.tree(entry.object, entry.root_name(name)), entry.digest, recompile=True)
        for name, entry in lock.modules.items()
    }
    if args.json:
        print_json({"ok": not any(results.values()), "modules": results})
    else:
        for name, problems in results.items():
            print(f"{name}: {'ok' if not problems else 'FAILED'}")
            for problem in problems:
                print(f"  {problem}")
    if any(results.values()):
        bad = [n for n, p in results.items() if p]
        raise GitImportError(f"Verification failed for {', '.join(bad)}.", "run `gitimport sync --repair` to restore them")
    return EXIT_OK


# cache maintenance ------------------------------------------------------------


def cmd_gc(args: argparse.Namespace) -> int:
    from .gc import Project, collect_garbage

    config = _config(args)
    current = [Project(config.lockfile, config.base_dir)] if config.lockfile is not None else []
    result = collect_garbage(config.cache_dir, current, dry_run=args.dry_run)
    for lockfile in result.forgotten:
        _say(args, f"{'Would forget' if args.dry_run else 'Forgot'} {lockfile} (it no longer exists)")
    for path in result.removed:
        _say(args, f"  {path.relative_to(config.cache_dir).as_posix()}")
    verb = "Would remove" if args.dry_run else "Removed"
    kept = f"kept what {plural(len(result.projects), 'lock file')} reference{'s' if len(result.projects) == 1 else ''}"
    freed = f"{human_bytes(result.freed)} {'would be freed' if args.dry_run else 'freed'}"
    _say(args, f"{verb} {plural(len(result.removed), 'cache entry', 'cache entries')} ({freed}); {kept}")
    return EXIT_OK


def cmd_cache_dir(args: argparse.Namespace) -> int:
    print(_config(args).cache_dir)
    return EXIT_OK


def cmd_cache_size(args: argparse.Namespace) -> int:
    from .gc import cache_sections

    root = _config(args).cache_dir
    sections = cache_sections(root)
    total = sum(sections.values())
    if args.json:
        print_json({"cache_dir": str(root), "bytes": total, "sections": sections})
        return EXIT_OK
    print(f"{human_bytes(total)} in {root}")
    for line in table([(name, human_bytes(size)) for name, size in sections.items()]):
        print(f"  {line}")
    return EXIT_OK


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from .gc import clean_cache

    root = _config(args).cache_dir
    if not root.exists():
        _say(args, f"Nothing to remove: {root} does not exist")
        return EXIT_OK
    freed = clean_cache(root)
    _say(args, f"Removed {root} ({human_bytes(freed)} freed)")
    return EXIT_OK


def cmd_vendor(args: argparse.Namespace) -> int:
    from .vendor import MANIFEST, vendor

    config = _config(args)
    _require_config(config)
    written = vendor(config, args.dir, force=args.force)
    _say(args, f"Vendored {plural(len(written), 'module')} into {args.dir}")
    for line in table([(item.name, item.path, item.commit[:12]) for item in written]):
        _say(args, f"  {line}")
    _say(args, f"Wrote {args.dir / MANIFEST}")
    return EXIT_OK
