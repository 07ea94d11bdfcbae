"""What `gitimport sync` prints: the summary table, -q, -v, --jobs, and progress only on a terminal (docs/commands.md#gitimport-sync)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet
from support.servers import Server

from gitimport.cli.main import EXAMPLES
from gitimport.cli.progress import TerminalProgress
from gitimport.errors import RefNotFoundError
from gitimport.remote.progress import FetchEvent


def two_repositories(project: Project, fixture_repos: FixtureSet, base: str | None = None) -> None:
    toolbox = base + "/toolbox" if base else str(fixture_repos["toolbox"].path)
    other = base + "/other" if base else str(fixture_repos["other"].path)
    project.configure(
        {
            "helper": f"{toolbox}@v1:tools/helper.py",
            "mylib": f"{toolbox}@v2:src",
            "othermod": f"{other}@v1",
        }
    )


def summary_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  ")]


def test_summary_is_an_aligned_table_sorted_by_name(project: Project, fixture_repos: FixtureSet) -> None:
    two_repositories(project, fixture_repos)

    result = project.cli("sync")

    assert result.code == 0, result.err
    rows = summary_rows(result.out)
    assert [row.split()[0] for row in rows] == ["helper", "mylib", "othermod"]
    commit_column = {row.index(row.split()[3]) for row in rows}  # ref, "(tag)", then the commit
    assert len(commit_column) == 1
    assert result.out.splitlines()[0].startswith("Synced 3 modules from ")


def test_quiet_sync_prints_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    two_repositories(project, fixture_repos)

    result = project.cli("sync", "-q")

    assert result.code == 0
    assert result.out == "" and result.err == ""
    assert project.lock_path.is_file()


def test_verbose_sync_prints_full_commits_objects_and_digests(project: Project, fixture_repos: FixtureSet) -> None:
    two_repositories(project, fixture_repos)

    result = project.cli("sync", "-v")

    v1 = fixture_repos["toolbox"].tags["v1"]
    assert f"helper: commit {v1}, tools/helper.py = " in result.out
    assert "sha256:" in result.out


def test_jobs_give_the_same_lock_and_output_order(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    two_repositories(project, fixture_repos)
    serial = project.cli("sync")
    serial_lock = project.lock_text()
    project.lock_path.unlink()
    import shutil

    shutil.rmtree(project.cache)

    parallel = project.cli("sync", "--jobs", "4")

    assert parallel.code == 0, parallel.err
    assert project.lock_text() == serial_lock
    assert summary_rows(parallel.out) == summary_rows(serial.out)
    assert [line for line in parallel.out.splitlines() if line.startswith("Fetched")] == [
        line for line in serial.out.splitlines() if line.startswith("Fetched")
    ]


def test_jobs_fetch_each_repository_once_over_http(project: Project, fixture_repos: FixtureSet, git_http_backend_server: Server) -> None:
    two_repositories(project, fixture_repos, base=git_http_backend_server.url)

    result = project.cli("sync", "-j", "2")

    assert result.code == 0, result.err
    # per repository: the commits and their trees, then the blobs (a partial fetch)
    assert git_http_backend_server.fetches("toolbox") == 2 and git_http_backend_server.fetches("other") == 2


def test_a_failing_repository_under_jobs_leaves_the_lock_alone(project: Project, fixture_repos: FixtureSet) -> None:
    two_repositories(project, fixture_repos)
    project.cli("sync")
    before = project.lock_text()
    text = project.config_path.read_text()
    project.config_path.write_text(text + f'"broken" = "{fixture_repos["other"].path}@nosuchref"\n')

    result = project.cli("sync", "--jobs", "3")

    assert result.code == RefNotFoundError.exit_code
    assert "nosuchref" in result.err and "hint:" in result.err
    assert project.lock_text() == before


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_jobs_must_be_a_positive_number(project: Project, value: str) -> None:
    result = project.cli("sync", "--jobs", value)

    assert result.code == 2
    assert "positive whole number" in result.err


def test_no_progress_when_stderr_is_not_a_terminal(project: Project, fixture_repos: FixtureSet, git_http_backend_server: Server) -> None:
    two_repositories(project, fixture_repos, base=git_http_backend_server.url)

    result = project.cli("sync")

    assert result.code == 0
    assert result.err == ""
    assert "\r" not in result.out


def test_progress_is_drawn_on_a_terminal_and_erased(project: Project, fixture_repos: FixtureSet, git_http_backend_server: Server) -> None:
    pty = pytest.importorskip("pty")
    two_repositories(project, fixture_repos, base=git_http_backend_server.url)
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gitimport", "sync"],
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=secondary,
            text=True,
            timeout=120,
        )
        os.close(secondary)
        terminal = _read_all(primary)
    finally:
        os.close(primary)

    assert done.returncode == 0
    assert "Fetching toolbox" in terminal or "Fetching other" in terminal
    assert "\x1b[K" in terminal and terminal.endswith("\r\x1b[K")  # the line is erased before the summary
    assert "Fetching" not in done.stdout and "\r" not in done.stdout


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO once the other end is closed
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_line_counts_objects_and_bytes() -> None:
    import io

    stream = io.StringIO()
    progress = TerminalProgress(stream, width=200)

    progress(FetchEvent("http://127.0.0.1:1/toolbox", received=0))
    progress(FetchEvent("http://127.0.0.1:1/toolbox", message=b"Counting objects:  50% (10/20)\r"))
    progress(FetchEvent("http://127.0.0.1:1/toolbox", received=3 * 1024))

    assert progress.line() == "Fetching toolbox: 10/20 objects, 3.0 KiB"
    progress(FetchEvent("http://127.0.0.1:1/toolbox", done=True))
    assert progress.line() == ""
    assert stream.getvalue().endswith("\r\x1b[K")


@pytest.mark.parametrize(
    "argv",
    [
        ["sync"],
        ["add"],
        ["remove"],
        ["run"],
        ["list"],
        ["status"],
        ["outdated"],
        ["show"],
        ["which"],
        ["why"],
        ["verify"],
        ["gc"],
        ["cache"],
        ["cache", "dir"],
        ["cache", "size"],
        ["cache", "clean"],
        ["vendor"],
    ],
)
def test_every_command_has_help_with_an_example(project: Project, argv: list[str]) -> None:
    result = project.cli(*argv, "--help")

    out = result.out
    assert result.code == 0
    assert "example" in out and f"gitimport {argv[0]}" in out.split("example", 1)[1]
    assert " ".join(argv) in EXAMPLES


def test_cache_without_a_subcommand_prints_its_help_and_exits_2(project: Project) -> None:
    result = project.cli("cache")

    assert result.code == 2
    assert "dir" in result.err and "clean" in result.err


def test_a_warning_during_progress_is_printed_above_the_status_line() -> None:
    import io

    stream = io.StringIO()
    progress = TerminalProgress(stream, width=200)
    progress(FetchEvent("http://127.0.0.1:1/toolbox", received=0))

    progress.print("warning: tag 'v1' of helper moved")

    assert stream.getvalue().endswith("\r\x1b[Kwarning: tag 'v1' of helper moved\n\r\x1b[KFetching toolbox: connecting, 0 B")
