"""Which requirements of pinned distributions the target interpreter does not meet.

A pinned package's ``[project].dependencies`` are not installed by gitimport
(it imports code, it does not manage environments), so when one is missing the
user would otherwise meet an ImportError deep inside the package.  ``sync``
names them up front, with the requirement string.  The interpreter checked is
the one that will run the code: ``--python PATH``, default the current one;
another interpreter is asked for its environment through a stdlib-only script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from ..errors import GitImportError

_PROBE = """
import importlib.metadata as md, json, os, platform, sys
env = {
    "implementation_name": sys.implementation.name,
    "implementation_version": platform.python_version(),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
installed = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name:
        installed.setdefault(name, dist.version)
print(json.dumps({"environment": env, "installed": installed}))
"""


@dataclass(frozen=True)
class Unmet:
    distribution: str
    requirement: str
    found: str | None  # the installed version that does not fit, or None when absent
    dist_info: str  # the .dist-info folder that requires it

    def sentence(self, python: str | None) -> str:
        """What ``sync`` warns of and ``status`` notes, in one wording."""
        found = f"{self.found} is installed" if self.found else "it is not installed"
        return f"{self.distribution} requires {self.requirement!r}, but {found} for {python or sys.executable}"


def unmet_requirements(dist_infos: list[str], python: str | None = None) -> list[Unmet]:
    """Requirements (without extras) of the given .dist-info folders that are not satisfied."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    environment, installed = _target(python)
    pinned = {canonicalize_name(name): version for name, version in (_name_version(d) for d in dist_infos)}
    available = {canonicalize_name(name): version for name, version in installed.items()}
    available.update(pinned)
    unmet = []
    for dist_info in dist_infos:
        name, _ = _name_version(dist_info)
        for text in _requires(dist_info):
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({**environment, "extra": ""}):
                continue
            version = available.get(canonicalize_name(requirement.name))
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                unmet.append(Unmet(name, text, version, dist_info))
    return unmet


def _target(python: str | None) -> tuple[dict[str, str], dict[str, str]]:
    if python is None or os.path.abspath(python) == os.path.abspath(sys.executable):  # venvs are symlinks: compare paths
        from importlib import metadata

        from packaging.markers import default_environment

        installed: dict[str, str] = {}
        for dist in metadata.distributions():
            if dist.metadata["Name"]:
                installed.setdefault(dist.metadata["Name"], dist.version)
        return {key: str(value) for key, value in default_environment().items()}, installed
    try:
        probe = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
        data = json.loads(probe.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise GitImportError(f"Cannot ask {python} for its installed packages: {exc}.", "check the path given to --python") from None
    return data["environment"], data["installed"]


def _headers(dist_info: str) -> Message:
    with open(Path(dist_info) / "METADATA", encoding="utf-8") as handle:
        return HeaderParser().parse(handle)


def _name_version(dist_info: str) -> tuple[str, str]:
    headers = _headers(dist_info)
    return str(headers["Name"]), str(headers["Version"])


def _requires(dist_info: str) -> list[str]:
    return [str(value) for value in _headers(dist_info).get_all("Requires-Dist") or [] if "extra ==" not in str(value)]
