"""Many processes at once, and processes killed at any point: nothing is lost (issue 5, items 7 and 8)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet
from support.servers import Server

from gitimport.project.lock import read_lock
from gitimport.store import layout

PROCESSES = 8


def modules(url: str) -> dict[str, str]:
    return {
        "helper": f"{url}@v1:tools/helper.py",
        "mylib": f"{url}@v2:src",
        "rootmod": f"{url}@v10:lib",
        "nsdir": f"{url}@v1:nsdir",
    }


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_eight_syncs_at_once_on_a_cold_shared_cache(tmp_path: Path, git_http_backend_server: Server, project: Project) -> None:
    url = git_http_backend_server.repo_url("toolbox")
    projects = []
    for i in range(PROCESSES):
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        each = Project(folder, project.cache)
        each.configure(modules(url))
        projects.append(each)

    running = [start([sys.executable, "-m", "gitimport", "sync", "-q"], p.root, p.env()) for p in projects]
    results = [(proc.wait(timeout=300), proc.stderr.read() if proc.stderr else "") for proc in running]

    assert all(code == 0 for code, _ in results), results
    locks = {p.lock_path.read_text() for p in projects}
    assert len(locks) == 1  # every process wrote the same lock
    assert projects[0].cli("verify").code == 0
    assert git_http_backend_server.fetches("toolbox") <= 2  # the repository lock serializes fetches; the rest find the objects
    assert not any((project.cache / layout.TMP).iterdir())


def test_eight_importers_at_once_on_a_half_filled_cache(project: Project, git_http_backend_server: Server) -> None:
    project.configure(modules(git_http_backend_server.repo_url("toolbox")))
    assert project.cli("sync").code == 0
    trees = sorted((project.cache / layout.TREES).iterdir())
    for tree in trees[: len(trees) // 2]:
        shutil.rmtree(tree)
    shutil.rmtree(project.root / "__pycache__")
    code = "import helper, mylib, rootmod, nsdir.inner.mod; print(helper.VERSION, mylib.VERSION, rootmod.VERSION)"
    command = [sys.executable, "-m", "gitimport", "run", "--", sys.executable, "-c", code]

    running = [start(command, project.root, project.env()) for _ in range(PROCESSES)]
    outputs = [
        (proc.wait(timeout=300), proc.stdout.read() if proc.stdout else "", proc.stderr.read() if proc.stderr else "") for proc in running
    ]

    assert all(rc == 0 and out.split() == ["1", "2", "3"] for rc, out, _ in outputs), outputs
    assert project.cli("verify").code == 0


def test_lock_wait_names_the_holder(project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitimport.store.cache import Cache

    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    cache = Cache(project.cache)
    repo_key = cache.repo_dir(f"file://{fixture_repos['toolbox'].path}").name
    monkeypatch.setenv("GITIMPORT_LOCK_TIMEOUT", "0.5")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time; from gitimport.store.cache import Cache; from pathlib import Path\nwith Cache(Path({str(project.cache)!r})).lock({repo_key!r}):\n    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = project.cli("sync")
    finally:
        holder.kill()
        holder.wait()

    assert result.code == 1
    assert "Waited 0.5 s for the cache lock" in result.err and f"process {holder.pid}" in result.err
    assert project.lock_text() is None


KILL_DELAYS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sync_killed_at_any_point_leaves_lock_and_cache_consistent(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("git-http-backend", mutable_repos.root)
    url = server.repo_url("toolbox")
    project.configure(modules(url))
    assert project.cli("sync").code == 0
    old_lock = project.lock_text()
    # An upgrade makes every later sync do real work: ls-remote, fetch, materialize, write the lock.
    project.configure({name: spec.replace("@v1:", "@main:").replace("@v2:", "@dev:") for name, spec in modules(url).items()})
    interrupted = []  # the delays at which the kill found the sync still running
    for delay in KILL_DELAYS:
        shutil.rmtree(project.cache, ignore_errors=True)
        (project.lock_path).write_text(old_lock or "")
        proc = start([sys.executable, "-m", "gitimport", "sync", "-q"], project.root, project.env())
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)  # a no-op if the sync has already exited
        if proc.wait() == -signal.SIGKILL:
            interrupted.append(delay)
        lock_now = project.lock_text()
        assert lock_now == old_lock or read_lock(project.lock_path).modules["helper"].ref == "main"  # old or new, never torn

        result = project.cli("sync")
        assert result.code == 0, (delay, result.err)
        assert project.cli("verify").code == 0, delay
        leftovers = [p for p in (project.cache / layout.TMP).iterdir()] + list(project.root.glob(".gitimport.lock.*.tmp"))
        assert leftovers == [], (delay, leftovers)
    assert interrupted, "every kill came after the sync had exited: no sync was interrupted, so nothing was tested"
