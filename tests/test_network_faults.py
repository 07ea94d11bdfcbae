"""A hostile server: transient faults are retried, lasting ones give one clear error (issue 5, item 9).

Each test checks the outcome a user sees and that lock and cache are unchanged
on failure.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from support.hostile import Fault, hostile_front
from support.project import Project
from support.servers import Server

from gitimport.project.lock import read_lock
from gitimport.store import layout


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    import gitimport.remote.fetch

    monkeypatch.setattr(gitimport.remote.fetch, "RETRY_BACKOFF_SECONDS", 0.05)


def sync_through(project: Project, server: Server, fault: Fault, *extra: str, ports: Iterable[int] = (0,)) -> tuple[int, str]:
    with hostile_front(server.url.rstrip("/"), fault, ports) as front:
        project.configure({"helper": f"{front}/toolbox@v1:tools/helper.py"}, settings="\n".join(extra))
        result = project.cli("sync")
    return result.code, result.err


@pytest.mark.parametrize("kind", ["status-500", "status-429", "close-mid-pack"])
def test_a_transient_fault_is_retried(project: Project, git_http_backend_server: Server, kind: str) -> None:
    fault = Fault(kind, times=1)

    code, err = sync_through(project, git_http_backend_server, fault)

    assert code == 0, err
    assert fault.damaged == 1
    assert read_lock(project.lock_path).modules["helper"].ref == "v1"
    assert project.cli("verify").code == 0


def test_a_stall_longer_than_the_timeout_is_retried(project: Project, git_http_backend_server: Server) -> None:
    fault = Fault("stall", times=1, seconds=3)

    code, err = sync_through(project, git_http_backend_server, fault, "timeout = 1")

    assert code == 0, err
    assert fault.damaged == 1


@pytest.mark.parametrize(
    ("kind", "message"),
    [("status-500", "500"), ("status-429", "429"), ("close-mid-pack", ""), ("corrupt-pack", "")],
)
def test_a_lasting_fault_fails_cleanly(project: Project, git_http_backend_server: Server, kind: str, message: str) -> None:
    fault = Fault(kind, times=-1)

    code, err = sync_through(project, git_http_backend_server, fault, "retries = 2")

    assert code == 1, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and lines[-1].startswith("hint: ") and len(lines) == 2, err
    assert message in err
    assert project.lock_text() is None
    trees = project.cache / layout.TREES
    assert not trees.exists() or not any(trees.iterdir())
    assert not (project.cache / layout.REPOS).exists() or not any((project.cache / layout.REPOS).iterdir())
    assert fault.damaged >= 3  # the first attempt and its retries


@pytest.mark.parametrize(("kind", "message"), [("status-429", "HTTP 429"), ("status-500", "HTTP 500")])
def test_a_fault_is_named_by_its_status_not_by_digits_of_the_url(
    project: Project, git_http_backend_server: Server, kind: str, message: str
) -> None:
    """A port such as 40404 in the URL once made a 429 read as "No git repository" (a CI flake, one port in a few hundred)."""
    fault = Fault(kind, times=-1)

    code, err = sync_through(project, git_http_backend_server, fault, "retries = 1", ports=range(40400, 40500))

    assert code == 1, err
    assert "No git repository" not in err and message in err, err
    assert fault.damaged >= 2  # retried: a 429 or a 500 is transient whatever the port


def test_a_lasting_stall_times_out_with_a_clear_error(project: Project, git_http_backend_server: Server) -> None:
    fault = Fault("stall", times=-1, seconds=3)

    code, err = sync_through(project, git_http_backend_server, fault, "timeout = 0.5", "retries = 1")

    assert code == 1
    assert "Timed out" in err or "timed out" in err
    assert project.lock_text() is None


def test_bad_timeout_setting_is_a_usage_error(project: Project, git_http_backend_server: Server) -> None:
    code, err = sync_through(project, git_http_backend_server, Fault("status-500", times=0), 'timeout = "soon"')

    assert code == 2 and "'timeout' must be a positive number" in err
