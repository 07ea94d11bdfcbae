"""What the target interpreter would import without gitimport, asked in a fresh process.

``status`` warns when a pinned name shadows an installed distribution, and
``why`` explains which of the two wins; both must look at the interpreter that
will run the code (``--python PATH``, default the running one) with its own
``sys.path``, and without gitimport's finder.  So a small stdlib-only script
runs in that interpreter, with ``GITIMPORT_RUN`` removed from its environment,
and reports for each name: where the path finder finds it, which
distribution provides it, and whether a built-in, frozen or already-imported
module would win over any ``sys.meta_path`` finder.  The script finds specs
but never imports the modules themselves (a dotted name imports its parents,
as Python would).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from ..errors import GitImportError
from ..project.discovery import ENV_RUN

_PROBE = r"""
import sys
preloaded = set(sys.modules)
import importlib.machinery, importlib.util, json


def owners():
    import importlib.metadata as md
    found = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        tops = (dist.read_text("top_level.txt") or "").split()
        for file in ([] if tops else dist.files or []):
            first = file.parts[0] if file.parts else ""
            if first.endswith((".dist-info", ".egg-info", ".data", ".pth")) or first in ("..", "__pycache__", ""):
                continue
            if len(file.parts) == 1 and not first.endswith(".py"):
                continue
            tops.append(first[:-3] if first.endswith(".py") else first)
        for top in tops:
            found.setdefault(top, (name, dist.version))
    return found


def probe(names):
    result, dists = {}, None
    for name in names:
        if name in sys.builtin_module_names:
            result[name] = {"kind": "built-in", "origin": "built-in"}
            continue
        if importlib.machinery.FrozenImporter.find_spec(name) is not None:
            result[name] = {"kind": "frozen", "origin": "frozen", "preloaded": name in preloaded}
            continue
        try:
            spec = importlib.machinery.PathFinder.find_spec(name) if "." not in name else importlib.util.find_spec(name)
        except Exception:
            spec = None
        if spec is None:
            continue
        locations = list(spec.submodule_search_locations or [])
        origin = spec.origin if spec.origin not in (None, "namespace") else (locations[0] if locations else "")
        if dists is None:
            dists = owners()
        dist = dists.get(name.split(".")[0])
        result[name] = {
            "kind": "namespace" if spec.origin in (None, "namespace") else "path",
            "origin": origin,
            "distribution": dist[0] if dist else None,
            "version": dist[1] if dist else None,
            "preloaded": name in preloaded,
        }
    return result


print(json.dumps(probe(json.loads(sys.argv[1]))))
"""


@dataclass(frozen=True)
class Found:
    """Where the target interpreter finds a name without gitimport."""

    name: str
    kind: str  # path | namespace | built-in | frozen
    origin: str
    distribution: str | None = None
    version: str | None = None
    preloaded: bool = False  # imported at start-up, before any code of the user runs

    def describe(self) -> str:
        """``installed mylib 1.2 (/…/site-packages/mylib)``, or what else provides it."""
        if self.kind in ("built-in", "frozen"):
            return f"the {self.kind} module {self.name}"
        what = f"installed {self.distribution} {self.version}" if self.distribution else f"{self.name}"
        return f"{what} ({self.origin})"


def find_without_gitimport(names: list[str], python: str | None = None) -> dict[str, Found]:
    """Ask the target interpreter where it finds each name on its own.

    Raises:
      GitImportError: the interpreter cannot be run or answers nonsense.
    """
    if not names:
        return {}
    env = {key: value for key, value in os.environ.items() if key != ENV_RUN}
    command = [python or sys.executable, "-c", _PROBE, json.dumps(names)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        lines = str(getattr(exc, "stderr", None) or exc).strip().splitlines() or [type(exc).__name__]
        raise GitImportError(
            f"Cannot ask {python or sys.executable} what it imports: {lines[-1]}.",
            "check the path given to --python",
        ) from None
    return {name: Found(name=name, **fields) for name, fields in data.items()}
