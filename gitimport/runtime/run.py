"""``gitimport run``: run a command with the finder active in every Python it starts.

The finder reaches child interpreters through the environment: ``GITIMPORT_RUN=1``
switches on ``gitimport-run.pth`` (installed in site-packages with the package),
and ``GITIMPORT_CONFIG`` carries the absolute config path so a child that
changes folder still finds it.  Both survive ``-I``, ``-E``, ``-m``, spawn and
forkserver workers, which read ``.pth`` files but not ``PYTHONPATH``.  The
launchers of pinned console and gui scripts come first on ``PATH``.  This
module never syncs and writes nothing to stdout.

``gitimport run`` starts a second interpreter, so its own start-up is all it
adds: :func:`run_vouched` serves the common case (a runtime snapshot that
vouches for the config and the lock, launchers already written) with the
modules an interpreter loads anyway plus the snapshot reader, and must stay
that light: no argparse, no TOML, no dataclasses, no pathlib.
"""

import os
import sys

from ..project.discovery import ENV_CONFIG, ENV_RUN
from ..store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..project.config import Config


def launcher_folder(cache_dir: str, lock: "bytes | None", python: str) -> str:
    """Where a project's launchers for ``python`` live: keyed by the lock (``lock`` is its fingerprint), the interpreter and the cache.

    The fast path hands in the fingerprint the runtime snapshot was just
    checked against, so the lock file is read once per ``gitimport run``.
    """
    from ..state import fingerprint_of

    key = fingerprint_of((lock or b"") + b"\0" + os.fsencode(python) + b"\0" + os.fsencode(cache_dir))
    assert key is not None
    return os.path.join(cache_dir, layout.SCRIPTS, key.hex())


def child_environment(config: "Config", base: "dict[str, str] | None" = None) -> "dict[str, str]":
    """The environment that makes every Python child install the finder."""
    from .scripts import ensure_launchers

    launchers = ensure_launchers(config, sys.executable)
    return _environment(str(config.path) if config.path is not None else None, launchers, base)


def _environment(config_path: "str | None", launchers: "str | None", base: "dict[str, str] | None" = None) -> "dict[str, str]":
    env = dict(os.environ if base is None else base)
    env[ENV_RUN] = "1"
    if config_path is not None:
        env[ENV_CONFIG] = config_path
    if launchers is not None:
        env["PATH"] = os.pathsep.join([launchers, *filter(None, [env.get("PATH")])])
    return env


def command_line(argv: "Sequence[str]") -> "list[str]":
    """A ``.py`` file is run with the current interpreter, anything else as given."""
    if not argv:
        from ..errors import UsageError

        raise UsageError("`gitimport run` needs a command to run.", "for example: gitimport run -- python -c 'import mylib'")
    if argv[0].endswith(".py") and os.path.isfile(argv[0]):
        return [sys.executable, *argv]
    return list(argv)


def run(config: "Config", argv: "Sequence[str]") -> int:
    """Replace this process with the command (POSIX) or wait for it; return its status."""
    args = command_line(argv)
    return _start(args, child_environment(config))


def _start(args: "list[str]", env: "dict[str, str]") -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if os.name == "posix":
            os.execvpe(args[0], args, env)
        import subprocess

        return subprocess.call(args, env=env)
    except (FileNotFoundError, PermissionError) as missing:
        from ..errors import UsageError

        if isinstance(missing, FileNotFoundError):
            raise UsageError(f"Command not found: {args[0]!r}.", "check the command after `gitimport run --`") from None
        raise UsageError(f"Command is not executable: {args[0]!r}.", "check its permissions") from None


def run_vouched(argv: "Sequence[str]") -> None:
    """``gitimport run [--] COMMAND…`` without loading the configuration, when the runtime snapshot vouches for it.

    Replaces this process with the command (POSIX only), or returns when the
    full path must decide: an option before the command, a ``.py`` script
    (its PEP 723 block is the config), no config, a snapshot that does not
    vouch for today's config, lock and environment or that is not complete,
    launchers not written yet, or a command that does not start.  Whatever
    it cannot do, the full path does, with the same result.
    """
    from ..project.discovery import find_config_file
    from ..state import read_snapshot, vouches

    command = list(argv[1:] if argv[:1] == ["--"] else argv)
    if os.name != "posix" or not command or (command[0].startswith("-") and argv[:1] != ["--"]):
        return
    if any(word.endswith(".py") for word in command[:2]):  # `script.py …` or `python script.py …`: the script's own block
        return
    try:
        config_path, _shadowed = find_config_file(None, vouches)
    except Exception:  # a broken config: the full path says what is wrong
        return
    snapshot = read_snapshot(config_path) if config_path else None
    if snapshot is None or not snapshot.get("complete"):
        return
    folder = launcher_folder(snapshot["cache"], snapshot["lock"], sys.executable)  # read_snapshot checked it against the lock
    try:
        launchers = folder if os.listdir(folder) else None
    except OSError:  # not written yet
        return
    try:
        _start(command, _environment(config_path, launchers))
    except Exception:
        return
