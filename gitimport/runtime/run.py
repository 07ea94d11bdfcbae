"""``gitimport run``: run a command with the finder active in every Python it starts.

The finder reaches child interpreters through the environment: ``GITIMPORT_RUN=1``
switches on ``gitimport-run.pth`` (installed in site-packages with the package),
and ``GITIMPORT_CONFIG`` carries the absolute config path so a child that
changes folder still finds it.  Both survive ``-I``, ``-E``, ``-m``, spawn and
forkserver workers, which read ``.pth`` files but not ``PYTHONPATH``.  The
launchers of pinned console and gui scripts come first on ``PATH``.  This
module never syncs and writes nothing to stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from ..errors import UsageError
from ..project.config import Config
from ..project.discovery import ENV_CONFIG, ENV_RUN


def child_environment(config: Config, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that makes every Python child install the finder."""
    env = dict(os.environ if base is None else base)
    env[ENV_RUN] = "1"
    if config.path is not None:
        env[ENV_CONFIG] = str(config.path)
    from .scripts import ensure_launchers

    launchers = ensure_launchers(config, sys.executable)
    if launchers is not None:
        env["PATH"] = os.pathsep.join([launchers, *filter(None, [env.get("PATH")])])
    return env


def command_line(argv: Sequence[str]) -> list[str]:
    """A ``.py`` file is run with the current interpreter, anything else as given."""
    if not argv:
        raise UsageError("`gitimport run` needs a command to run.", "for example: gitimport run -- python -c 'import mylib'")
    if argv[0].endswith(".py") and os.path.isfile(argv[0]):
        return [sys.executable, *argv]
    return list(argv)


def run(config: Config, argv: Sequence[str]) -> int:
    """Replace this process with the command (POSIX) or wait for it; return its status."""
    args = command_line(argv)
    env = child_environment(config)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if os.name == "posix":
            os.execvpe(args[0], args, env)
        return subprocess.call(args, env=env)
    except FileNotFoundError:
        raise UsageError(f"Command not found: {args[0]!r}.", "check the command after `gitimport run --`") from None
    except PermissionError:
        raise UsageError(f"Command is not executable: {args[0]!r}.", "check its permissions") from None
