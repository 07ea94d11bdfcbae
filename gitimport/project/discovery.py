"""Which config file a process uses, and which environment variables change what it says.

This is the one discovery (docs/configuration.md#where-the-configuration-is-found):
the command line, ``sync``, the finder's warm path and its cold path all call
:func:`find_config_file`, so they can never disagree about the project they
are in.  It runs on the warm import path of every interpreter started under
``gitimport run``, so it uses ``os`` alone: a ``pyproject.toml`` that mentions
gitimport is parsed (to tell a ``[tool.gitimport]`` table from, say, a
dependency on gitimport) only when the caller cannot vouch for it, and the
finder vouches for a file from the runtime snapshot computed from its exact
bytes.  Even :mod:`gitimport.errors` is imported only when there is an error to raise.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

CONFIG_NAME = "gitimport.toml"
PYPROJECT_NAME = "pyproject.toml"
DEFAULT_LOCK_NAME = "gitimport.lock"

ENV_CONFIG = "GITIMPORT_CONFIG"
ENV_CACHE_DIR = "GITIMPORT_CACHE_DIR"
ENV_OFFLINE = "GITIMPORT_OFFLINE"
ENV_FROZEN = "GITIMPORT_FROZEN"
ENV_VERIFY = "GITIMPORT_VERIFY"
ENV_TIMEOUT = "GITIMPORT_TIMEOUT"
ENV_RETRIES = "GITIMPORT_RETRIES"
ENV_TREE_MIRRORS = "GITIMPORT_TREE_MIRRORS"
#: Seconds a process waits for a cache lock another process holds (not a setting of the config).
ENV_LOCK_TIMEOUT = "GITIMPORT_LOCK_TIMEOUT"
#: Set to 1 in a process tree under ``gitimport run``: ``gitimport-run.pth`` installs the finder.
ENV_RUN = "GITIMPORT_RUN"
#: Every variable that changes what a loaded configuration says, the ones
#: platformdirs reads for the default cache folder included.  The runtime
#: snapshot is keyed by their values, so it is recomputed when one changes.
SETTINGS_ENVIRONMENT = (
    ENV_CACHE_DIR,
    ENV_OFFLINE,
    ENV_FROZEN,
    ENV_VERIFY,
    ENV_TIMEOUT,
    ENV_RETRIES,
    "XDG_CACHE_HOME",
    "HOME",
    "LOCALAPPDATA",
)


def find_config_file(
    start: "str | os.PathLike[str] | None" = None,
    vouches: "Callable[[str, bytes], bool] | None" = None,
    *,
    main_script: bool = False,
) -> "tuple[str | None, str | None]":
    """Locate the config file: ``GITIMPORT_CONFIG``, else walk up from ``start`` (default: the current folder).

    ``vouches(path, data)`` may answer True when the caller knows that
    ``path`` with exactly the bytes ``data`` has the table, saving a parse.
    With ``main_script`` (``gitimport.install()`` asks for it), the script
    this interpreter runs comes before the walk when its PEP 723 block has a
    ``[tool.gitimport]`` table, as under ``gitimport run script.py``.

    The first folder that holds a ``gitimport.toml``, or a ``pyproject.toml``
    with a ``[tool.gitimport]`` table, wins; in one folder ``gitimport.toml``
    wins.  Returns the file's absolute path and, when a ``gitimport.toml``
    wins over a ``pyproject.toml`` with the table in the same folder, that
    ``pyproject.toml`` (sync warns about it).

    Raises:
      ConfigError: ``GITIMPORT_CONFIG`` names no file, or a ``pyproject.toml``
        on the way is not valid TOML.
    """
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        path = os.path.abspath(os.path.expanduser(explicit))
        if not os.path.isfile(path):
            from ..errors import ConfigError

            raise ConfigError(
                f"{ENV_CONFIG} names {path}, which is not a file.",
                f"point {ENV_CONFIG} at a gitimport.toml, a pyproject.toml or a script, or unset it",
            )
        return path, None
    script = _running_script(vouches) if main_script else None
    if script is not None:
        return script, None
    folder = os.path.abspath(os.fspath(start) if start else os.getcwd())
    while True:
        config = os.path.join(folder, CONFIG_NAME)
        pyproject = os.path.join(folder, PYPROJECT_NAME)
        if os.path.isfile(config):
            return config, pyproject if has_gitimport_table(pyproject, vouches) else None
        if has_gitimport_table(pyproject, vouches):
            return pyproject, None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None, None
        folder = parent


def _running_script(vouches: "Callable[[str, bytes], bool] | None") -> "str | None":
    """The ``__main__`` script, when it is a ``.py`` file whose PEP 723 block has a ``[tool.gitimport]`` table."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    path = os.path.abspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if b"tool.gitimport" not in data:
        return None
    if vouches is not None and vouches(path, data):
        return path
    from pathlib import Path

    from .config import script_with_config

    return path if script_with_config(Path(path)) else None


def has_gitimport_table(pyproject: str, vouches: "Callable[[str, bytes], bool] | None" = None) -> bool:
    """True when ``pyproject`` is a file with a ``[tool.gitimport]`` table, in any TOML spelling.

    A file that never mentions gitimport is not read further; one that does
    is parsed, unless ``vouches`` knows its exact bytes.
    """
    try:
        with open(pyproject, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    if b"gitimport" not in data:
        return False
    if vouches is not None and vouches(pyproject, data):
        return True
    from ..errors import ConfigError
    from ._toml import parse_toml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    tool = parse_toml(text, pyproject, ConfigError).get("tool", {})
    return isinstance(tool, dict) and isinstance(tool.get("gitimport"), dict)
