"""``gitimport run``: a command with the finder active in every Python it starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..output import load_config_of


def cmd_run(args: argparse.Namespace) -> int:
    from ...project.config import load_config
    from ...runtime.run import run

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    script = _script_argument(argv)
    return run(load_config(script) if script else load_config_of(args), argv)


def _script_argument(argv: list[str]) -> Path | None:
    """The PEP 723 script a command runs: ``script.py …`` or ``python script.py …``."""
    from ...project.config import script_with_config

    candidates = argv[:1]
    if argv and Path(argv[0]).name.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        candidates = argv[1:2]
    for candidate in candidates:
        if candidate.endswith(".py"):
            return script_with_config(Path(candidate))
    return None


def cmd_which(args: argparse.Namespace) -> int:
    """``gitimport which NAME`` (a module's path) or ``--script NAME`` (a pinned script's launcher)."""
    import sys

    from ...runtime.scripts import which_script
    from .inspect import cmd_which as which_module

    if not args.script:
        return which_module(args)

    script, launcher = which_script(load_config_of(args), args.name, sys.executable)
    print(f"{script.name}: {script.distribution} {script.module}:{script.attr} {launcher}")
    return 0
