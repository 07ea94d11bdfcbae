"""The finder's cold path, run in a process of its own.

Bringing a module into the cache takes gitimport's own machinery: dulwich,
urllib3, packaging, platformdirs, tomli.  Run in the importing process, those
imports would be answered by the finder too, so a project that pins a module
of the same name (an older urllib3, a packaging of its own) would have its
copy run inside gitimport's sync: fetched code running while gitimport
fetches and verifies, and an incompatible version breaking every later cold
import.  So :func:`prepare` starts ``python -m gitimport.runtime.coldpath`` with
the same interpreter and flags, without ``GITIMPORT_RUN`` (no finder there),
and reads one line of JSON back: the module's row and the project's
distributions, or an error's message and hint.  Warnings reach stderr as
they come.  The importing process imports only the standard library here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..project.discovery import ENV_RUN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..project.config import Config
    from ..state import Dists, Row

_INTERNAL_HINT = "check the cache folder, then run `gitimport sync`"


def prepare(config_path: str | None, name: str, served: Row | None) -> tuple[Row, Dists]:
    """Bring ``name`` into the cache (sync it) in a child process; its row and the project's distributions.

    ``served`` is the row the finder serves ``name`` from already, if any (a
    ``pin()`` that no config names, whose tree has gone from the cache since).

    Raises:
      GitImportError: what the child reported, with its hint.
    """
    answer = _ask({"config": config_path, "module": name, "served": served})
    kind, root, entry = answer["row"]
    dists = {key: (dist_info, tuple(tuple(member) for member in members)) for key, (dist_info, members) in answer["dists"].items()}
    return (kind, root, entry), dists


def lock_pin(config_path: str | None, spec: str, base: str, name: str, allow_unreachable: bool) -> dict[str, Any]:
    """Resolve, fetch and materialize a ``pin()`` spec in a child process; the fields of its lock entry.

    ``spec`` may carry a token, so it goes to the child on its standard input, never on its command line.

    Raises:
      GitImportError: what the child reported, with its hint.
    """
    request = {"config": config_path, "pin": spec, "base": base, "name": name, "allow_unreachable": allow_unreachable}
    entry: dict[str, Any] = _ask(request)["entry"]
    return entry


def _ask(request: dict[str, Any]) -> dict[str, Any]:
    """Run the child with ``request`` as JSON on its standard input; its JSON answer, or its error raised."""
    from ..errors import GitImportError

    environment = {key: value for key, value in os.environ.items() if key != ENV_RUN}
    command = [sys.executable, *_interpreter_flags(), "-m", __name__]
    done = subprocess.run(command, env=environment, input=json.dumps(request).encode(), stdout=subprocess.PIPE, check=False)
    try:
        answer: dict[str, Any] = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise GitImportError(f"the cold path ended with exit status {done.returncode} and no answer", _INTERNAL_HINT) from None
    if "error" in answer:
        raise GitImportError(answer["error"], answer.get("hint"))
    return answer


def _interpreter_flags() -> list[str]:
    """The flags of this interpreter that change what the child imports or compiles."""
    flags = ["-O"] * sys.flags.optimize
    if sys.flags.isolated:
        flags.append("-I")
    elif sys.flags.ignore_environment:
        flags.append("-E")
    if sys.flags.no_user_site and not sys.flags.isolated:
        flags.append("-s")
    return flags


def _bring(config: Config, name: str, served: Row | None) -> Row:
    """Sync ``name`` when its lock entry or tree is not ready; its row.

    Bytecode is none of the cold path's business: the importing process
    writes a module's ``.pyc`` on its first import (docs/how-it-works.md#bytecode).

    Raises:
      GitImportError: ``name`` is a ``pin()`` that no config holds, and its tree has gone from the cache.
    """
    from ..errors import GitImportError
    from ..project.lock import read_lock
    from ..state import table_row
    from ..store.binding import serves
    from ..store.cache import Cache
    from ..sync import sync

    spec = config.modules.get(name)
    if spec is None and served is not None:
        raise GitImportError(f"{name!r} was pinned, but its files are no longer in the cache.", "call pin() again to fetch them")
    entry = read_lock(config.lockfile).get(name)
    cache = Cache(config.cache_dir)
    if spec is None or entry is None or entry.spec != spec.redacted or not serves(cache.locked_tree(name, entry), entry):
        report = sync(config, only=[name], warn=lambda message: print(message, file=sys.stderr))
        entry = next(outcome.entry for outcome in report.modules if outcome.name == name)
    return table_row(entry, name, str(config.cache_dir))


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    """The child's work: one module of the config (``module``) or one ``pin()`` spec (``pin``)."""
    from dataclasses import asdict, replace
    from pathlib import Path

    from ..project.config import load_config
    from ..project.spec import parse_spec
    from ..state import ProjectState
    from ..sync import lock_one

    config = load_config(Path(request["config"]) if request["config"] else None)
    if "module" in request:
        served = tuple(request["served"]) if request["served"] else None
        row = _bring(config, request["module"], served)
        return {"row": row, "dists": ProjectState.load(config).dists}
    spec = replace(parse_spec(request["pin"], Path(request["base"])), allow_unreachable=request["allow_unreachable"])
    entry = lock_one(config, request["name"], spec, warn=lambda message: print(message, file=sys.stderr))
    return {"entry": asdict(entry)}


def main() -> int:
    """The child: a JSON request on stdin, one line of JSON on stdout."""
    from ..errors import GitImportError

    try:
        answer = _answer(json.loads(sys.stdin.read()))
    except GitImportError as exc:
        answer = {"error": exc.message, "hint": exc.hint}
    except Exception as exc:  # every failure reaches the importer as an ImportError (docs/how-it-works.md#the-cold-path)
        answer = {"error": f"{type(exc).__name__}: {exc}", "hint": _INTERNAL_HINT}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
