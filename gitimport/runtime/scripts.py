"""Launchers for the console and gui scripts of pinned distributions (`gitimport run`).

`gitimport run -- CMD` puts a folder of launchers first on PATH, so a script
name that a pinned distribution declares runs the pinned code, not another
copy found on PATH.  A launcher is the script pip writes: `#!<target python>`,
import module:attr, `sys.exit(attr())`; the finder is active in it because
`gitimport run` exports GITIMPORT_RUN.  The folder is keyed by the lock's bytes
and the interpreter, built in a staging folder and renamed into place, and
reused as it is; nothing here runs fetched code.
"""

from __future__ import annotations

import os
from configparser import ConfigParser
from dataclasses import dataclass

from .. import atomic
from ..errors import UsageError
from ..project.config import Config
from ..project.lock import read_lock
from ..store import layout
from .run import launcher_folder

#: The entry point groups that become launchers.
GROUPS = ("console_scripts", "gui_scripts")

#: A pinned script's launcher, as pip 25 and later write an entry point's: pip 23 and 24 began with
#: ``import re`` (to strip a Windows ``.exe``/``-script.pyw`` from ``argv[0]``, which a POSIX launcher
#: never has), and under ``gitimport run`` that cost lands on every command.
_LAUNCHER = """#!{python}
import sys
from {module} import {head}
if __name__ == '__main__':
    sys.exit({call}())
"""


@dataclass(frozen=True)
class Script:
    """One declared script: its name, the distribution and `module:attr` it runs."""

    name: str
    distribution: str
    module: str
    attr: str


def pinned_scripts(config: Config) -> dict[str, Script]:
    """Every script the pinned distributions of the lock declare, by name."""
    from ..store.metadata import recorded_distribution

    scripts: dict[str, Script] = {}
    for entry in read_lock(config.lockfile).modules.values():
        dist_info = recorded_distribution(config.cache_dir, entry.url, entry.commit, entry.path)
        if dist_info is not None:
            scripts.update(_declared(dist_info))
    return scripts


def _declared(dist_info: str) -> dict[str, Script]:
    """The scripts in one .dist-info's entry_points.txt (read as importlib.metadata reads it)."""
    parser = ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(os.path.join(dist_info, "entry_points.txt"), encoding="utf-8")
    distribution = os.path.basename(dist_info).split("-", 1)[0]  # <name>-<version>.dist-info
    found: dict[str, Script] = {}
    for group in GROUPS:
        if parser.has_section(group):
            for name, value in parser.items(group):
                module, _, attr = value.split("[")[0].strip().partition(":")
                found[name] = Script(name, distribution, module.strip(), attr.strip() or "main")
    return found


def launcher_text(script: Script, python: str) -> str:
    """What pip writes for one entry point, for the interpreter ``python`` (on POSIX, where these launchers run)."""
    head = script.attr.split(".")[0]
    return _LAUNCHER.format(python=python, module=script.module, head=head, call=script.attr)


def ensure_launchers(config: Config, python: str) -> str | None:
    """The folder of launchers for the pinned scripts, written once; None when there are none.

    A lock without scripts gets an empty folder, so the next ``gitimport run``
    knows without reading the lock (:func:`gitimport.runtime.run.run_vouched`).
    """
    folder = _folder(config, python)
    if not os.path.isdir(folder):
        scripts = pinned_scripts(config)
        if not scripts and not os.path.isfile(os.path.join(config.cache_dir, layout.TAG)):
            return None  # nothing to launch, and no cache to write into (only Cache.create makes one)
        try:
            staging = atomic.new_staging_folder(folder)
            for script in scripts.values():
                atomic.write_text(os.path.join(staging, script.name), launcher_text(script, python), mode=0o755)
            atomic.publish_folder(staging, folder)
        except PermissionError:
            if scripts:
                raise UsageError(
                    f"The cache {config.cache_dir} is read-only, and the launchers of the pinned scripts "
                    f"({', '.join(sorted(scripts))}) are not in it yet.",
                    "run `gitimport run -- python -c pass` once as the cache's owner, then share it",
                ) from None
            return None  # nothing to launch: a read-only cache serves imports all the same
    return folder if os.listdir(folder) else None


def _folder(config: Config, python: str) -> str:
    from ..state import fingerprint_of, read_bytes

    lock = fingerprint_of(read_bytes(str(config.lockfile) if config.lockfile is not None else None))
    return launcher_folder(str(config.cache_dir), lock, python)


def which_script(config: Config, name: str, python: str) -> tuple[Script, str]:
    """The script ``name`` and its launcher path; a UsageError when no pinned distribution declares it."""
    script = pinned_scripts(config).get(name)
    if script is None:
        raise UsageError(
            f"No pinned distribution provides a script named {name!r}.",
            "check the name in the distribution's [project.scripts], then run `gitimport sync`",
        )
    folder = ensure_launchers(config, python)
    return script, os.path.join(folder or _folder(config, python), name)
