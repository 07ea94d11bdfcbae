"""The ``gitimport`` command line: the parser, the dispatch, and errors turned into exit codes.

The whole command surface (every subcommand, flag and example) is declared in
:func:`build_parser`; each handler lives in the module of
:mod:`gitimport.cli.commands` for its group and is named as
``"module:function"``, imported only when its command runs, so
``gitimport --help`` and a no-op sync stay cheap.  Errors are printed as one
sentence and a ``hint:`` line on stderr, with the exit codes of
docs/commands.md#exit-codes-and-errors; a traceback only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, GitImportError
from .output import print_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    Handler = Callable[[argparse.Namespace], int]

EXAMPLES = {
    "sync": (
        "examples:\n  gitimport sync\n"
        "  gitimport sync --locked        # in CI: fail (exit 3) if the lock is out of date\n"
        "  gitimport sync --upgrade mylib\n"
        "  gitimport sync --allow-downgrade --upgrade mylib   # follow a force-pushed branch\n"
        "  gitimport sync --jobs 4        # four repositories at a time"
    ),
    "add": (
        "examples:\n  gitimport add mylib 'https://github.com/org/repo@v1.2.0:src'\n"
        "  gitimport add helpers github:org/tools@main:helpers.py\n"
        "  gitimport add --only pytest github:pytest-dev/pytest@8.3.3:src   # without _pytest and py"
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
    "gc": "examples:\n  gitimport gc --dry-run\n  gitimport gc\n  gitimport gc --max-size 2GiB   # least recently used first",
    "cache": "examples:\n  gitimport cache dir\n  gitimport cache size --json\n  gitimport cache export mirror/\n  gitimport cache clean",
    "cache export": (
        "examples:\n  gitimport cache export /srv/gitimport-mirror        # then serve it, and set tree-mirrors\n"
        "  gitimport cache export --all-locks mirror/         # every lock this cache knows"
    ),
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
        result: int = _handler(args.handler)(args)
        return result
    except GitImportError as exc:
        print_error(exc.message, exc.hint)
        if args.verbose:
            _print_traceback()
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("Interrupted.", "the lock and the cache are left as they were before the interrupted step")
        return 130
    except BrokenPipeError:  # `gitimport list | head`: the reader left; that is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a full disk, a file size limit, a read-only folder: the machine, not gitimport
        print_error(*_file_system_error(exc))
        if args.verbose:
            _print_traceback()
        return EXIT_FAILURE
    except Exception as exc:  # a bug: still one sentence, traceback on request
        print_error(f"Internal error: {type(exc).__name__}: {exc}.", "run again with --verbose and report the traceback")
        if args.verbose:
            _print_traceback()
        return EXIT_FAILURE


def _file_system_error(exc: OSError) -> tuple[str, str]:
    """One sentence and a hint for an operating-system error no layer below turned into a GitImportError.

    Every file gitimport writes is written atomically, so the one thing to
    say is what failed and what to do; the errno decides the hint.
    """
    import errno

    where = f" on {exc.filename}" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = "free disk space (or raise the file size limit), then run the command again; no file was left half-written"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "check the permissions of that file and its folder, then run the command again"
    else:
        hint = "check that file and its folder, then run the command again; --verbose shows where it happened"
    return f"The file system failed{where}: {reason}.", hint


def _handler(name: str) -> Handler:
    """The function ``"module:function"`` of :mod:`gitimport.cli.commands`, imported now."""
    from importlib import import_module

    module, _, function = name.partition(":")
    handler: Handler = getattr(import_module(f"{__package__}.commands.{module}"), function)
    return handler


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


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
        handler: str | None,
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

    sync = command("sync", "sync:cmd_sync", "Resolve refs, write the lock, fetch and materialize modules.")
    sync.add_argument("--locked", action="store_true", help="fail with exit 3 if the lock would change")
    sync.add_argument("--frozen", action="store_true", help="use the lock as is; never change it")
    sync.add_argument("--offline", action="store_true", help="never touch the network")
    sync.add_argument("--upgrade", nargs="*", metavar="NAME", help="re-resolve refs (all modules, or the NAMEs given)")
    sync.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="let --upgrade follow a ref to a commit that does not descend from the locked one (a force-push, a rollback)",
    )
    sync.add_argument("--repair", action="store_true", help="re-materialize cached trees that fail verification")
    sync.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N", help="sync N repositories at a time (default: 1)")
    python_flag(sync, "check requirements against")
    sync.add_argument("script", nargs="?", type=Path, help="a script whose PEP 723 block holds [tool.gitimport]")

    add = command("add", "edit:cmd_add", "Add a module to the config (or change its spec), after syncing it.")
    add.add_argument("name", help="the module name to import, e.g. mylib or acme.tools")
    add.add_argument("spec", help="REPO@REF[:PATH]")
    add.add_argument(
        "--only",
        action="store_true",
        help="pin NAME alone, not the other top-level names its distribution ships (written as also = [...] otherwise)",
    )

    remove = command("remove", "edit:cmd_remove", "Remove a module from the config and the lock.")
    remove.add_argument("name")

    run = command("run", "run:cmd_run", "Run a command with pinned modules importable in every Python process it starts.")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command (use -- before it)")

    json_flag(command("list", "inspect:cmd_list", "List configured modules with their locked commits."))

    status = command("status", "status:cmd_status", "Show what is out of date: lock, cache, moved tags, shadowed installs.")
    status.add_argument("--check", action="store_true", help="exit 3 when anything is out of date")
    status.add_argument("--offline", action="store_true", help="do not contact the remotes (moved tags are not checked)")
    python_flag(status, "look for shadowed installed modules in")
    json_flag(status)

    outdated = command("outdated", "status:cmd_outdated", "List newer version tags of each module's repository.")
    outdated.add_argument("names", nargs="*", metavar="NAME", help="only these modules")
    json_flag(outdated)

    show = command("show", "inspect:cmd_show", "Show everything known about one locked module.")
    show.add_argument("name")
    json_flag(show)

    which = command("which", "run:cmd_which", "Print the materialized path of a module.")
    which.add_argument("name")
    which.add_argument("--script", action="store_true", help="NAME is a console or gui script of a pinned distribution")

    why = command("why", "inspect:cmd_why", "Explain which finder serves an import of a name, and why.")
    why.add_argument("name", metavar="MODULE", help="any dotted module name, e.g. mylib.core")
    python_flag(why, "ask")
    json_flag(why)

    json_flag(command("verify", "cache:cmd_verify", "Re-hash every locked module in the cache."))

    gc = command("gc", "cache:cmd_gc", "Remove cache entries that no known lock file references, or the least recently used.")
    gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    gc.add_argument(
        "--max-size",
        metavar="SIZE",
        help='remove the least recently used entries until the cache fits in SIZE ("2GiB", "500 MB"); default: cache-max-size',
    )
    gc.add_argument("--include-locked", action="store_true", help="with a size: remove entries that known locks use too, if needed")

    cache = command("cache", None, "Show, export or remove the cache.")
    cache.set_defaults(subparser=cache)
    cache_commands = cache.add_subparsers(title="cache commands", metavar="COMMAND")
    command("dir", "cache:cmd_cache_dir", "Print the cache folder.", cache_commands)
    json_flag(command("size", "cache:cmd_cache_size", "Print the size of the cache.", cache_commands))
    command("clean", "cache:cmd_cache_clean", "Remove the whole cache (the next sync rebuilds what it needs).", cache_commands)
    export = command("export", "cache:cmd_cache_export", "Write the trees the lock uses as a tree mirror in DIR.", cache_commands)
    export.add_argument("dir", type=Path, metavar="DIR")
    export.add_argument("--all-locks", action="store_true", help="every lock file that uses this cache, not only this project's")
    json_flag(export)

    vendor = command("vendor", "vendor:cmd_vendor", "Copy the locked modules as plain files into a folder.")
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
