"""`sync --jobs N`: repositories synced in worker processes give what `--jobs 1` gives (docs/commands.md#gitimport-sync).

The first half syncs fixture repositories from real loopback servers with
`--jobs 1` and `--jobs 4` and compares what a user sees: the lock, the
summary, the error and its exit code, the warnings and the progress events;
and Ctrl-C in the middle.  The second half drives
:func:`gitimport.workers.map_in_processes` with small work functions of this
module (a worker imports it to run them): order, errors, forwarding, a
worker killed mid-item, an interrupt, the environment.
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

import gitimport.sync
import gitimport.workers
from gitimport.errors import GitImportError, MissingObjectError, RefNotFoundError, SignatureError
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
    """The ``jobs`` of each sync that used worker processes (one that ran here, or in threads, adds nothing)."""
    started: list[int] = []
    real = gitimport.workers.map_in_processes

    def counting(work: Any, items: Any, jobs: int, *args: Any, **kwargs: Any) -> Any:
        started.append(jobs)
        return real(work, items, jobs, *args, **kwargs)

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


def test_two_repositories_with_work_sync_in_threads_as_with_jobs_1(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    url = git_http_backend_server.url
    project.configure({"helper": f"{url}/toolbox@v1:tools/helper.py", "othermod": f"{url}/other@v1"})
    serial = project.cli("sync")
    serial_lock = project.lock_text()
    forget(project)

    parallel = project.cli("sync", "--jobs", "4")

    assert pools == []
    assert (parallel.code, parallel.out, parallel.err) == (serial.code, serial.out, serial.err)
    assert project.lock_text() == serial_lock


def test_one_repository_with_work_runs_in_this_process(project: Project, git_http_backend_server: Server, pools: list[int]) -> None:
    url = git_http_backend_server.url
    project.configure(modules(url))
    assert project.cli("sync", "-q").code == 0
    project.configure(modules(url, mylib=f"{url}/toolbox@v1:src"))

    result = project.cli("sync", "--jobs", "8")

    assert result.code == 0, result.err
    assert pools == []
    assert " changed" in result.out


def test_a_script_without_a_main_guard_is_not_run_again_in_the_workers(project: Project, git_http_backend_server: Server) -> None:
    project.configure(modules(git_http_backend_server.url))
    script = project.root / "sync_script.py"  # spawn and forkserver would run it again, as __mp_main__, in every worker
    script.write_text(
        "from gitimport.project.config import load_config\n"
        "from gitimport.sync import sync\n"
        "print('script ran')\n"
        "print(len(sync(load_config(), jobs=2).modules), 'modules')\n"
    )

    result = subprocess.run(
        [sys.executable, str(script)], cwd=project.root, env=project.env(GITIMPORT_LOCK_TIMEOUT="5"), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"script ran\n{len(MODULES)} modules\n"


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


def _ctrl_c_heard() -> None:
    """SIGINT back to its default in a child, as an interactive shell gives a command it starts.

    A test suite run as a background job (``pytest &`` in a script) starts
    with SIGINT ignored, every child inherits that, and Python installs no
    KeyboardInterrupt handler where it finds SIGINT ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="lists processes in /proc")
def test_ctrl_c_stops_the_workers_and_leaves_lock_and_cache_consistent(project: Project, git_http_backend_server: Server) -> None:
    fault = Fault("stall", times=-1, seconds=10)  # long enough that a loaded machine delivers the Ctrl-C first
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
            preexec_fn=_ctrl_c_heard,
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


# An item is (what, folder, after): it marks ``folder/what`` when it starts.  The
# first item runs in this process (map_in_processes works too): with ``after``,
# it waits until those items have started, so they run in workers.


def in_a_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def wait_for(folder: str, names: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 60
    while not all(Path(folder, name).exists() for name in names):
        assert time.monotonic() < deadline, f"{names} never started"  # an item that is never run is a broken test, not a slow one
        time.sleep(0.02)


Task = tuple[str, str, tuple[str, ...]]


def behave(item: Task, warn: Callable[[str], None], progress: Any) -> str:
    what, folder, after = item
    Path(folder, what).touch()
    wait_for(folder, after)
    if what.startswith("chatty"):
        warn(f"{what}: one")
        if progress is not None:
            progress(FetchEvent(what, received=0))
            progress(FetchEvent(what, message=b"Counting objects: 100% (3/3)"))
            progress(FetchEvent(what, done=True))
        warn(f"{what}: two")
    elif what == "missing-blob":
        raise MissingObjectError("a blob is missing.", "fetch it", "0" * 40)
    elif what == "unsigned":
        raise SignatureError("not signed.", "sign it", reason="unsigned", signer=None, trusted_signers=Path("/x"))
    elif what == "unpicklable":
        raise ValueError(lambda: None)
    elif what == "die":
        assert in_a_worker(), "the test would kill pytest"
        os.kill(os.getpid(), signal.SIGKILL)
    elif what.startswith("env:"):
        return os.environ.get(what[4:], "")
    elif what.startswith("where"):
        return "worker" if in_a_worker() else "here"
    elif what == "slow":
        time.sleep(0.5)
    return what


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path)


def run(items: list[Task], jobs: int = 2, progress: bool = True) -> tuple[list[str], list[str], list[FetchEvent]]:
    warnings: list[str] = []
    events: list[FetchEvent] = []
    results = gitimport.workers.map_in_processes(
        behave, items, jobs, warnings.append, events.append if progress else None, [f"repo{n}" for n in range(len(items))]
    )
    return results, warnings, events


def test_this_process_works_and_jobs_minus_one_workers_work_too(folder: str) -> None:
    items = [("first", folder, ("where", "where2")), ("where", folder, ()), ("where2", folder, ("where",))]

    results, _, _ = run(items, jobs=3)  # "first" waits until both others have started: they run in the two workers

    assert results == ["first", "worker", "worker"]


def test_results_come_in_the_order_of_the_items(folder: str) -> None:
    items = [(f"item{n}", folder, ()) for n in range(8)]

    assert run(items, jobs=4)[0] == [f"item{n}" for n in range(8)]


def test_warnings_and_progress_are_forwarded_in_order_per_item(folder: str) -> None:
    items = [("chatty-a", folder, ("chatty-b", "chatty-c")), ("chatty-b", folder, ()), ("chatty-c", folder, ())]

    results, warnings, events = run(items, jobs=3)

    assert results == ["chatty-a", "chatty-b", "chatty-c"]
    for item in results:
        assert [w for w in warnings if w.startswith(item)] == [f"{item}: one", f"{item}: two"]
        assert [e for e in events if e.url == item] == [
            FetchEvent(item, received=0),
            FetchEvent(item, message=b"Counting objects: 100% (3/3)"),
            FetchEvent(item, done=True),
        ]


def test_without_a_progress_callback_the_worker_gets_none(folder: str) -> None:
    items = [("first", folder, ("chatty-b",)), ("chatty-b", folder, ())]

    _, warnings, events = run(items, progress=False)

    assert events == [] and warnings == ["chatty-b: one", "chatty-b: two"]


def test_the_first_error_in_item_order_is_raised_with_its_class_message_and_attributes(folder: str) -> None:
    items = [("first", folder, ("missing-blob", "unsigned")), ("missing-blob", folder, ("unsigned",)), ("unsigned", folder, ())]

    with pytest.raises(MissingObjectError) as raised:
        run(items, jobs=3)

    error = raised.value
    assert (error.message, error.hint, error.object_id, error.exit_code) == ("a blob is missing.", "fetch it", "0" * 40, 1)
    assert "In the worker process" in str(error.__cause__) and "raise MissingObjectError" in str(error.__cause__)


def test_an_error_that_does_not_pickle_comes_back_as_a_runtime_error(folder: str) -> None:
    with pytest.raises(RuntimeError, match=r"^ValueError: "):
        run([("first", folder, ("unpicklable",)), ("unpicklable", folder, ())])


def test_no_item_after_a_failure_is_started(folder: str) -> None:
    items = [("ok", folder, ()), ("unsigned", folder, ()), ("later", folder, ()), ("last", folder, ())]

    with pytest.raises(SignatureError) as raised:
        run(items, jobs=1)

    assert raised.value.reason == "unsigned" and raised.value.trusted_signers == Path("/x")
    assert sorted(p.name for p in Path(folder).iterdir()) == ["ok", "unsigned"]


def test_a_worker_killed_at_work_fails_its_item(folder: str) -> None:
    items = [("first", folder, ("die",)), ("die", folder, ()), ("after", folder, ())]

    with pytest.raises(GitImportError) as raised:
        run(items)

    assert raised.value.message == "The worker process that synced repo1 ended unexpectedly (killed by SIGKILL)."
    assert "--jobs 1" in (raised.value.hint or "")
    assert run([("first", folder, ("again",)), ("again", folder, ())])[0] == ["first", "again"]  # the next pool is fine


def test_workers_see_the_environment_as_it_is_now(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run([("first", folder, ("env:HOME",)), ("env:HOME", folder, ())])  # the fork server runs now, with the environment of its start
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    monkeypatch.setenv("GITIMPORT_TEST_WORKER", "now")

    assert run([("first", folder, ("env:GITIMPORT_TEST_WORKER",)), ("env:GITIMPORT_TEST_WORKER", folder, ())])[0] == ["first", "now"]


@pytest.fixture
def ctrl_c_heard() -> Iterator[None]:
    """This process raises KeyboardInterrupt on SIGINT for the test, even where the suite runs with SIGINT ignored (see :func:`_ctrl_c_heard`)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_heard")
def test_an_interrupt_here_stops_the_workers(folder: str) -> None:
    import threading

    items = [("first", folder, ("sleeper",)), ("sleeper", folder, ("never",))]
    threading.Timer(1.0, lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)).start()
    started = time.monotonic()

    with pytest.raises(KeyboardInterrupt):
        run(items)

    assert time.monotonic() - started < 30  # the worker waiting for "never" was stopped, not waited for
    import multiprocessing

    assert [p for p in multiprocessing.active_children() if p.name == "gitimport-sync"] == []


def test_without_workers_this_process_syncs_everything(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot(self: object) -> None:
        raise OSError(97, "Address family not supported by protocol")

    monkeypatch.setattr(gitimport.workers._Pool, "_start_worker", cannot)

    results, warnings, _ = run([("slow", folder, ()), ("where", folder, ())], jobs=4)

    assert results == ["slow", "here"]
    assert warnings == [
        "warning: sync --jobs could not start worker processes ([Errno 97] Address family not supported by protocol); "
        "syncing here, one repository at a time"
    ]


def test_workers_are_started_by_the_fork_server_where_there_is_one() -> None:
    if sys.platform == "win32":
        assert gitimport.workers.start_method() == "spawn"
    else:
        assert gitimport.workers.start_method() == "forkserver"


def test_every_preloaded_module_exists() -> None:
    import importlib.util

    assert [name for name in gitimport.sync.REPOSITORY_MODULES if importlib.util.find_spec(name) is None] == []


def test_sync_options_and_config_pickle(project: Project, git_http_backend_server: Server) -> None:
    import pickle

    project.configure(modules(git_http_backend_server.url))
    config = load_config(project.config_path)

    assert pickle.loads(pickle.dumps(config)) == config
    assert pickle.loads(pickle.dumps(SyncOptions(upgrade=frozenset({"a"})))) == SyncOptions(upgrade=frozenset({"a"}))


IMPORTS_BY_THREAD = """
import sys, threading
seen = {}
def record(event, args):
    if event == "import" and args[0] not in sys.modules:
        seen.setdefault(threading.current_thread().name, set()).add(args[0])
sys.addaudithook(record)
from gitimport.cli.main import main
code = main(sys.argv[1:])
loaded = {name for thread, names in seen.items() if thread != "MainThread" for name in names if name in sys.modules}
print(sorted(loaded), file=sys.stderr)  # what a thread imported for the first time (not optional imports that failed)
sys.exit(code)
"""


def test_threads_start_with_the_work_imported(project: Project, git_http_backend_server: Server, tmp_path: Path) -> None:
    """Two threads importing urllib3 for the first time at once raise _DeadlockError on Python 3.9 (seen in CI with
    a tree mirror): everything a repository's sync imports is imported before the threads start."""
    url = git_http_backend_server.url
    project.configure({"helper": f"{url}/toolbox@v1:tools/helper.py", "othermod": f"{url}/other@v1"})
    script = tmp_path / "imports_by_thread.py"
    script.write_text(IMPORTS_BY_THREAD)

    result = subprocess.run(
        [sys.executable, str(script), "sync", "--jobs", "2"], cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr
