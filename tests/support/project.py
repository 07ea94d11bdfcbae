"""A user's project folder for tests: a config, a private cache, and the CLI.

``Project.cli`` runs ``gitimport`` in-process (fast, exact exit codes and
output); ``Project.gitimport`` runs it as a subprocess; ``Project.run`` and
``Project.python`` run real interpreters under ``gitimport run``, and
``Project.plain_python`` one that ``gitimport run`` did not start.  Every
subprocess gets :meth:`Project.env`: the test's environment (which conftest
has cleared of ``GITIMPORT_*`` variables) with this project's cache.

Nothing here fakes git: the repositories and servers come from
``support.repos`` and ``support.servers``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from gitimport.cli.main import main
from gitimport.store import layout

TIMEOUT = 120
"""Seconds any one subprocess of a test may take."""


@dataclass
class Result:
    code: int
    out: str
    err: str


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Assert that a subprocess exited 0 (showing its output if not) and return its stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


class Project:
    """A project folder ``root`` whose cache is ``cache``.

    ``url`` is the base URL of a server of the fixture repositories, when the
    project's specs name one: then ``spec("v1:src")`` is the toolbox at v1.
    """

    def __init__(self, root: Path, cache: Path, url: str | None = None) -> None:
        self.root = root
        self.cache = cache
        self.url = url

    @property
    def config_path(self) -> Path:
        return self.root / "gitimport.toml"

    @property
    def lock_path(self) -> Path:
        return self.root / "gitimport.lock"

    def spec(self, ref_path: str, repo: str = "toolbox") -> str:
        """``<url>/<repo>@<ref_path>``: a spec of a fixture repository on this project's server."""
        assert self.url is not None, "this project has no server; name repositories by path"
        return f"{self.url}/{repo}@{ref_path}"

    def configure(self, modules: dict[str, str], settings: str = "") -> None:
        lines = [settings, "[modules]"] + [f'"{name}" = "{spec}"' for name, spec in modules.items()]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def cli(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    def lock_text(self) -> str | None:
        return self.lock_path.read_text(encoding="utf-8") if self.lock_path.exists() else None

    def cache_files(self) -> set[str]:
        """Every file in the cache except file locks and the cache's tag (which any run that takes a lock may create)."""
        if not self.cache.exists():
            return set()
        return {
            str(p.relative_to(self.cache))
            for p in self.cache.rglob("*")
            if (p.is_file() or p.is_symlink()) and layout.LOCKS not in p.parts and p.relative_to(self.cache).parts != (layout.TAG,)
        }

    def tree_entries(self) -> list[Path]:
        """The materialized trees in the cache, one folder per imported root."""
        return sorted((self.cache / layout.TREES).iterdir())

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of this project's subprocesses: the test's own, this cache, and ``extra``."""
        return {**os.environ, "GITIMPORT_CACHE_DIR": str(self.cache), **extra}

    def execute(self, *command: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the project folder (or ``cwd``) with :meth:`env` (or ``env``), capturing its text output."""
        return subprocess.run(
            list(command),
            cwd=cwd or self.root,
            env=self.env() if env is None else env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def gitimport(self, *args: str, cwd: Path | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``python -m gitimport ARGS…`` as a subprocess."""
        return self.execute(sys.executable, "-m", "gitimport", *args, cwd=cwd, env=self.env(**extra_env))

    def run(self, *command: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``gitimport run -- COMMAND…``."""
        return self.execute(sys.executable, "-m", "gitimport", "run", "--", *command, cwd=cwd, env=env)

    def python(self, code: str, *flags: str, python: str = sys.executable, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``code`` (dedented) in a fresh interpreter under ``gitimport run``: ``gitimport run -- python FLAGS -c CODE``."""
        return self.run(python, *flags, "-c", textwrap.dedent(code), env=self.env(**extra_env))

    def plain_python(self, code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``code`` (dedented) in a fresh interpreter that ``gitimport run`` did not start: ``python -c CODE ARGS…``."""
        return self.execute(sys.executable, "-c", textwrap.dedent(code), *args, cwd=cwd)


def other_python() -> str | None:
    """A venv of this checkout with gitimport for another Python version (.venv*, or .ci/run's .venv-ci-*), if any."""
    repo_root = Path(__file__).resolve().parents[2]
    for candidate in sorted(repo_root.glob(".venv*/bin/python")):
        probe = subprocess.run(
            [
                str(candidate),
                "-c",
                "import sys, gitimport; print(sys.version_info[:2] == tuple(map(int, sys.argv[1:])))",
                *map(str, sys.version_info[:2]),
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "False":
            return str(candidate)
    return None
