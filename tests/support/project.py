"""A user's project folder for tests: a config, a private cache, and the CLI.

``Project.cli`` runs ``gitimport`` in-process (fast, exact exit codes and
output); ``Project.python`` runs real interpreters under ``gitimport run``.
Nothing here fakes git: the repositories and servers come from
``support.repos`` and ``support.servers``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gitimport.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


class Project:
    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache

    @property
    def config_path(self) -> Path:
        return self.root / "gitimport.toml"

    @property
    def lock_path(self) -> Path:
        return self.root / "gitimport.lock"

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
        """Every file in the cache except file locks (which a run may create)."""
        if not self.cache.exists():
            return set()
        return {
            str(p.relative_to(self.cache))
            for p in self.cache.rglob("*")
            if (p.is_file() or p.is_symlink()) and "locks-v1" not in p.parts
        }

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITIMPORT_")}
        env["GITIMPORT_CACHE_DIR"] = str(self.cache)
        env.update(extra)
        return env

    def python(self, code: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run ``code`` in a fresh interpreter under ``gitimport run``."""
        return subprocess.run(
            [sys.executable, "-m", "gitimport", "run", "--", sys.executable, "-c", code],
            cwd=self.root,
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=120,
        )
