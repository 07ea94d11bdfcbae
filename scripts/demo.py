"""The demo the README runs first: the oldest example of the idea, made exact.

A repository holding ``server_module.py`` is built from ``fixtures/demo`` and
served over smart HTTP on 127.0.0.1 (``git http-backend`` when git is present,
dulwich's own server otherwise).  A throwaway project maps
``server_module`` to it, ``gitimport sync`` locks tag v1 to its commit, and a
fresh interpreter under ``gitimport run`` imports the module from the cache.
Then the server is stopped and the import still works, from the same commit.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.repos import build_fixture_repo  # noqa: E402
from support.servers import git_http_backend_available, serve_dulwich_http, serve_git_http_backend  # noqa: E402

CLIENT = 'import server_module; print(server_module.greet("World")); print("  from", server_module.__file__)'


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def gitimport(*args: str, cwd: Path, env: dict[str, str]) -> None:
    print(f"$ gitimport {shlex.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "gitimport", *args], cwd=cwd, env=env, check=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gitimport-demo-") as scratch:
        work = Path(scratch)
        repo = build_fixture_repo("demo", work / "repos" / "demo")
        project = work / "project"
        project.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITIMPORT_")}
        env["GITIMPORT_CACHE_DIR"] = str(work / "cache")
        serve = serve_git_http_backend if git_http_backend_available() else serve_dulwich_http
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(serve(work / "repos"))
            url = server.repo_url("demo")
            step(f"A repository served by {server.kind} on {url}")
            print(f"  tag v1 -> commit {repo.tags['v1']}")
            config = f'[modules]\nserver_module = "{url}@v1"\n'
            (project / "gitimport.toml").write_text(config, encoding="utf-8")
            step("gitimport.toml")
            print("  " + config.strip().replace("\n", "\n  "))
            step("Resolve v1, lock it, fetch and verify the files")
            gitimport("sync", cwd=project, env=env)
            step("gitimport.lock")
            print("  " + (project / "gitimport.lock").read_text(encoding="utf-8").strip().replace("\n", "\n  "))
            step("Import it in a fresh interpreter")
            gitimport("run", "--", sys.executable, "-c", CLIENT, cwd=project, env=env)
        step("Server stopped: the same commit still imports, from the verified cache")
        gitimport("run", "--", sys.executable, "-c", CLIENT, cwd=project, env=env)
        gitimport("verify", cwd=project, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
