"""`sync --jobs N`: repositories synced in worker processes give what `--jobs 1` gives (docs/commands.md#gitimport-sync).

The first half syncs fixture repositories from real loopback servers with
`--jobs 1` and `--jobs 4` and compares what a user sees: the lock, the
summary, the error and its exit code, the warnings and the progress events.
The second half drives :func:`gitimport.workers.map_in_processes` with small
work functions of this module (a worker imports it to run them): order,
errors, forwarding, a worker killed mid-item, the environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from support.hostile import Fault, hostile_front
from support.project import Project
from support.servers import Server

import gitimport.workers
from gitimport.errors import GitImportError, MissingBlobError, RefNotFoundError, SignatureError
from gitimport.project.config import load_config
from gitimport.remote.progress import FetchEvent
from gitimport.store import layout
from gitimport.sync import SyncOptions, SyncReport, sync

MODULES = {
    "helper": "{url}/toolbox@v1:tools/helper.py",
    "mylib": "{url}/toolbox@v2:src",
    "othermod": "{url}/other@v1",
    "hellotool": "{url}/scripts@v1.0.0",
    "wholepkg": "{url}/wholedist@v1.0.0:src",  # its distribution ships names no entry pins: a note in the summary
}


def modules(url: str, **extra: str) -> dict[str, str]:
    return {**{name: spec.format(url=url) for name, spec in MODULES.items()}, **extra}


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of worker processes of each parallel sync (``--jobs 1`` starts none)."""
    started: list[int] = []
    real = gitimport.workers.map_in_processes

    def counting(work: Any, items: Any, processes: int, *args: Any) -> Any:
        started.append(processes)
        return real(work, items, processes, *args)

    monkeypatch.setattr(gitimport.workers, "map_in_processes", counting)
    return started


def forget(project: Project) -> None:
    """No cache, no lock: the next sync starts from nothing."""
    project.lock_path.unlink(missing_ok=True)
    shutil.rmtree(project.cache, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o755), f(p)))


def comparable(report: SyncReport) -> tuple[object, ...]:
    return (report.modules, report.fetched, report.fetched_how, report.history, report.removed, report.lock_written)


def test_jobs_4_gives_the_lock_summary_and_report_of_jobs_1(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    project.configure(modules(git_http_backend_server.url))
    serial = project.cli("sync")
    serial_lock = project.lock_text()
    serial_report = sync(load_config(project.config_path))  # everything cached now: nothing to fetch
    forget(project)

    parallel = project.cli("sync", "--jobs", "4")

    assert pools == [4]
    assert parallel.code == serial.code == 0, parallel.err
    assert project.lock_text() == serial_lock
    assert parallel.out == serial.out  # the table, the notes, what was fetched from where, in the same order
    assert parallel.err == serial.err
    assert sync(load_config(project.config_path), jobs=4).modules == serial_report.modules
    assert pools == [4], "a sync with nothing to fetch or materialize starts no worker"
    assert project.cli("verify").code == 0


def test_the_reports_of_jobs_1_and_jobs_4_are_equal(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    project.configure(modules(git_http_backend_server.url))
    config = load_config(project.config_path)
    serial = sync(config)
    forget(project)

    parallel = sync(config, jobs=4)

    assert pools == [4]
    assert comparable(parallel) == comparable(serial)
    assert [m.materialized for m in parallel.modules] == [True] * len(MODULES)


def test_an_error_in_one_repository_is_reported_as_with_jobs_1(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    url = git_http_backend_server.url
    # groups in name order: helper and mylib (toolbox) succeed, "notag" fails first, "zmissing" fails too
    project.configure(modules(url, notag=f"{url}/other@nosuchref", zmissing=f"{url}/formats@alsonosuchref"))
    serial = project.cli("sync")
    forget(project)

    parallel = project.cli("sync", "--jobs", "4")

    assert pools == [4]
    assert serial.code == parallel.code == RefNotFoundError.exit_code
    assert parallel.err == serial.err
    assert "nosuchref" in parallel.err and "alsonosuchref" not in parallel.err and "hint:" in parallel.err
    assert project.lock_text() is None
    with pytest.raises(RefNotFoundError) as raised:
        sync(load_config(project.config_path), jobs=3)
    assert str(raised.value) == serial.err.strip().removeprefix("error: ")


def tamper_every_tree(project: Project) -> None:
    """Change one source file in every cached tree: `sync --repair` must notice each."""
    for tree in project.tree_entries():
        source = sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts)[0]
        os.chmod(source.parent, 0o755)
        os.chmod(source, 0o644)
        source.write_text(source.read_text() + "\n# tampered\n")


def test_warnings_reach_the_parent_as_with_jobs_1(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    project.configure(modules(git_http_backend_server.url))
    assert project.cli("sync", "-q").code == 0
    tamper_every_tree(project)
    serial = project.cli("sync", "-q", "--repair")
    tamper_every_tree(project)

    parallel = project.cli("sync", "-q", "--repair", "--jobs", "4")

    assert pools == [4]
    assert parallel.code == serial.code == 0, parallel.err
    warnings = sorted(parallel.err.splitlines())  # repositories report in the order they get there
    assert warnings == sorted(serial.err.splitlines())
    assert len([w for w in warnings if w.startswith("repairing ")]) == len(MODULES)
    assert project.cli("verify").code == 0


def test_fetch_progress_reaches_the_parent(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    project.configure(modules(git_http_backend_server.url))
    config = load_config(project.config_path)
    serial: list[FetchEvent] = []
    sync(config, progress=serial.append)
    forget(project)
    parallel: list[FetchEvent] = []

    sync(config, progress=parallel.append, jobs=4)

    assert pools == [4]

    def fetches(events: list[FetchEvent]) -> dict[str, int]:
        """Per URL, the fetches done (each begins with an event of 0 bytes received; the watcher may send more)."""
        urls = sorted({e.url for e in events})
        return {url: sum(e.url == url and e.done for e in events) for url in urls}

    assert fetches(parallel) == fetches(serial)
    assert len(fetches(parallel)) == 4 and all(done > 0 for done in fetches(parallel).values())
    for url in fetches(parallel):
        mine = [e for e in parallel if e.url == url]
        assert mine[0] == FetchEvent(url, received=0) and mine[-1] == FetchEvent(url, done=True)


def test_a_locked_and_cached_project_runs_in_this_process(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    project.configure(modules(git_http_backend_server.url))
    assert project.cli("sync", "-q").code == 0
    requests = len(git_http_backend_server.requests)

    result = project.cli("sync", "-v", "--jobs", "8")  # -v: not the no-op fast path of the command line

    assert result.code == 0, result.err
    assert pools == []
    assert len(git_http_backend_server.requests) == requests


def test_one_repository_with_work_runs_in_this_process(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    url = git_http_backend_server.url
    project.configure(modules(url))
    assert project.cli("sync", "-q").code == 0
    project.configure(modules(url, mylib=f"{url}/toolbox@v1:src"))

    result = project.cli("sync", "--jobs", "8")

    assert result.code == 0, result.err
    assert pools == []
    assert " changed" in result.out


def processes_in_group(group: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="lists processes in /proc")
def test_ctrl_c_stops_the_workers_and_leaves_lock_and_cache_consistent(project: Project, git_http_backend_server: Server) -> None:
    fault = Fault("stall", times=-1, seconds=3)
    with hostile_front(git_http_backend_server.url.rstrip("/"), fault) as front:
        project.configure(modules(front), settings="timeout = 60")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitimport", "sync", "--jobs", "4"],
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a shell gives a command
        )
        deadline = time.monotonic() + 60
        while not fault.damaged and time.monotonic() < deadline:  # a worker is waiting on the stalled server
            time.sleep(0.05)
        assert fault.damaged
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: every process of the group
        _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "Interrupted." in err and "Traceback" not in err
    deadline = time.monotonic() + 10  # the fork server leaves when it sees its parent gone
    while processes_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_in_group(proc.pid) == []
    assert project.lock_text() is None
    project.configure(modules(git_http_backend_server.url))
    assert project.cli("sync", "-q").code == 0
    assert project.cli("verify").code == 0
    assert list((project.cache / layout.TMP).iterdir()) == []


# --------------------------------------------------------------------------
# map_in_processes, with work functions a worker imports from this module
# --------------------------------------------------------------------------


def slow_square(item: int, warn: Callable[[str], None], progress: Any) -> int:
    time.sleep(0.05 * (5 - item))  # the last item finishes first
    return item * item


def chatty(item: str, warn: Callable[[str], None], progress: Any) -> str:
    warn(f"{item}: one")
    if progress is not None:
        progress(FetchEvent(item, received=0))
        progress(FetchEvent(item, message=b"Counting objects: 100% (3/3)"))
        progress(FetchEvent(item, done=True))
    warn(f"{item}: two")
    return item


def failing(item: tuple[str, str], warn: Callable[[str], None], progress: Any) -> str:
    what, folder = item
    Path(folder, what).touch()  # it started
    if what == "missing-blob":
        raise MissingBlobError("a blob is missing.", "fetch it", "0" * 40)
    if what == "unsigned":
        raise SignatureError("not signed.", "sign it", reason="unsigned", signer=None, trusted_signers=Path("/x"))
    if what == "unpicklable":
        raise ValueError(lambda: None)
    if what == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return what


def environment(item: str, warn: Callable[[str], None], progress: Any) -> str | None:
    return os.environ.get(item)


def run(work: Any, items: list[Any], processes: int = 2, progress: bool = True) -> tuple[Any, list[str], list[FetchEvent]]:
    warnings: list[str] = []
    events: list[FetchEvent] = []
    results = gitimport.workers.map_in_processes(
        work, items, processes, warnings.append, events.append if progress else None, [f"repo{n}" for n in range(len(items))]
    )
    return results, warnings, events


def test_results_come_in_the_order_of_the_items() -> None:
    assert run(slow_square, [1, 2, 3, 4], processes=4)[0] == [1, 4, 9, 16]


def test_warnings_and_progress_are_forwarded_in_order_per_item() -> None:
    results, warnings, events = run(chatty, ["a", "b", "c"])

    assert results == ["a", "b", "c"]
    for item in "abc":
        assert [w for w in warnings if w.startswith(item)] == [f"{item}: one", f"{item}: two"]
        assert [e for e in events if e.url == item] == [
            FetchEvent(item, received=0),
            FetchEvent(item, message=b"Counting objects: 100% (3/3)"),
            FetchEvent(item, done=True),
        ]


def test_without_a_progress_callback_the_worker_gets_none() -> None:
    assert run(chatty, ["a"], processes=1, progress=False)[2] == []


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_the_first_error_in_item_order_is_raised_with_its_class_message_and_attributes(started: Path) -> None:
    items = [("ok", str(started)), ("missing-blob", str(started)), ("unsigned", str(started))]

    with pytest.raises(MissingBlobError) as raised:
        run(failing, items, processes=3)

    error = raised.value
    assert (error.message, error.hint, error.object_id, error.exit_code) == ("a blob is missing.", "fetch it", "0" * 40, 1)
    assert "In the worker process" in str(error.__cause__) and "raise MissingBlobError" in str(error.__cause__)


def test_an_error_that_does_not_pickle_comes_back_as_a_runtime_error(started: Path) -> None:
    with pytest.raises(RuntimeError, match=r"^ValueError: "):
        run(failing, [("unpicklable", str(started))], processes=1)


def test_no_item_after_a_failure_is_started(started: Path) -> None:
    items = [("ok", str(started)), ("unsigned", str(started)), ("later", str(started)), ("last", str(started))]

    with pytest.raises(SignatureError) as raised:
        run(failing, items, processes=1)

    assert raised.value.reason == "unsigned" and raised.value.trusted_signers == Path("/x")
    assert sorted(p.name for p in started.iterdir()) == ["ok", "unsigned"]


def test_a_worker_killed_at_work_fails_its_item_and_no_other(started: Path) -> None:
    items = [("ok", str(started)), ("die", str(started)), ("fine", str(started))]

    with pytest.raises(GitImportError) as raised:
        run(failing, items, processes=2)

    assert raised.value.message == "The worker process that synced repo1 ended unexpectedly (killed by SIGKILL)."
    assert "--jobs 1" in (raised.value.hint or "")
    assert gitimport.workers.map_in_processes(failing, items[:1], 2, print, None, ["repo0"]) == ["ok"]  # the next pool is fine


def test_workers_see_the_environment_as_it_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    run(environment, ["HOME", "PATH"])  # the fork server is running now, with the environment of its start
    monkeypatch.setenv("GITIMPORT_TEST_WORKER", "now")

    assert run(environment, ["GITIMPORT_TEST_WORKER", "GITIMPORT_TEST_WORKER"])[0] == ["now", "now"]


def test_workers_are_started_by_the_fork_server_where_there_is_one() -> None:
    if sys.platform == "win32":
        assert gitimport.workers.start_method() == "spawn"
    else:
        assert gitimport.workers.start_method() == "forkserver"


def test_every_preloaded_module_exists() -> None:
    import importlib.util

    assert [name for name in gitimport.workers.PRELOAD if importlib.util.find_spec(name) is None] == []


def test_sync_options_and_config_pickle(project: Project, git_http_backend_server: Server) -> None:
    import pickle

    project.configure(modules(git_http_backend_server.url))
    config = load_config(project.config_path)

    assert pickle.loads(pickle.dumps(config)) == config
    assert pickle.loads(pickle.dumps(SyncOptions(upgrade=frozenset({"a"})))) == SyncOptions(upgrade=frozenset({"a"}))
