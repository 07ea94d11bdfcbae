"""``gitimport run`` on its fast path: the runtime snapshot stands in for the config (issue 12, point 6).

The fast path must give the child exactly what the full path gives it, and
give way to the full path whenever the snapshot cannot vouch for today's
config, lock and environment.  Which path ran is read from ``-X importtime``
of the ``gitimport`` process itself (the child is ``sh``, which prints none).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.project import Project
from support.servers import Server

ECHO = "echo RUN=$GITIMPORT_RUN; echo CONFIG=$GITIMPORT_CONFIG; echo PATH=$PATH"


@pytest.fixture
def synced(scripts_project: Project) -> Project:
    return scripts_project


def run_traced(project: Project, *command: str) -> tuple[str, str, int]:
    """``python -X importtime -m gitimport run -- COMMAND``: (stdout, the modules gitimport loaded, exit status)."""
    done = project.execute(sys.executable, "-X", "importtime", "-m", "gitimport", "run", "--", *command)
    return done.stdout, done.stderr, done.returncode


def test_a_vouched_run_loads_neither_the_parser_nor_the_config(synced: Project) -> None:
    synced.run("true")  # the first run writes the launchers

    _out, imports, status = run_traced(synced, "true")

    assert status == 0
    assert "gitimport.runtime.run" in imports
    assert "gitimport.cli.main" not in imports and "gitimport.project.config" not in imports
    assert "argparse" not in imports and "tomllib" not in imports and "dataclasses" not in imports


def test_the_fast_path_gives_the_child_what_the_full_path_gives(synced: Project) -> None:
    first, imports, _ = run_traced(synced, "sh", "-c", ECHO)  # full path: the launchers are written now
    assert "gitimport.cli.main" in imports

    second, imports, _ = run_traced(synced, "sh", "-c", ECHO)

    assert "gitimport.cli.main" not in imports
    assert second == first
    assert f"CONFIG={synced.config_path}" in second and "RUN=1" in second
    assert f"PATH={synced.cache}/scripts-v1/" in second


def test_a_pinned_script_runs_on_the_fast_path(synced: Project) -> None:
    synced.run("true")

    out, imports, status = run_traced(synced, "hello-gi", "fast")

    assert status == 0 and out.strip().endswith("fast")
    assert "gitimport.cli.main" not in imports


def test_an_edited_config_takes_the_full_path(synced: Project) -> None:
    synced.run("true")
    synced.config_path.write_text(synced.config_path.read_text() + "# edited\n")

    _out, imports, status = run_traced(synced, "true")

    assert status == 0
    assert "gitimport.project.config" in imports


def test_a_changed_environment_takes_the_full_path(synced: Project) -> None:
    synced.run("true")

    done = synced.execute(sys.executable, "-X", "importtime", "-m", "gitimport", "run", "--", "true", env=synced.env(GITIMPORT_OFFLINE="1"))

    assert done.returncode == 0
    assert "gitimport.project.config" in done.stderr


def test_a_missing_command_is_reported_by_the_full_path(synced: Project) -> None:
    synced.run("true")

    _out, imports, status = run_traced(synced, "no-such-command-gi")

    assert status == 2
    assert "error: Command not found: 'no-such-command-gi'." in imports


def test_options_before_the_command_take_the_full_path(synced: Project) -> None:
    synced.run("true")

    done = synced.execute(sys.executable, "-X", "importtime", "-m", "gitimport", "run", "--config", str(synced.config_path), "--", "true")

    assert done.returncode == 0
    assert "gitimport.cli.main" in done.stderr


def test_a_lock_without_scripts_still_takes_the_fast_path(project: Project, http_server: Server) -> None:
    project.configure({"server_module": f"{http_server.repo_url('demo')}@v1"})
    assert project.cli("sync").code == 0
    project.run("true")

    out, imports, _ = run_traced(project, "sh", "-c", ECHO)

    assert "gitimport.cli.main" not in imports
    assert "scripts-v1" not in out  # an empty launcher folder is not put on PATH


def test_the_pth_hook_installs_the_finder_in_an_interpreter_the_environment_marks(synced: Project) -> None:
    code = "import sys; print([type(f).__name__ for f in sys.meta_path].count('GitImportFinder'))"

    marked = synced.execute(sys.executable, "-c", code, env=synced.env(GITIMPORT_RUN="1", GITIMPORT_CONFIG=str(synced.config_path)))
    unmarked = synced.execute(sys.executable, "-c", code, env=synced.env(GITIMPORT_CONFIG=str(synced.config_path)))

    assert (marked.stdout.strip(), unmarked.stdout.strip()) == ("1", "0"), marked.stderr


def test_a_broken_config_does_not_stop_a_marked_interpreter_from_starting(synced: Project, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"

    done = synced.execute(sys.executable, "-c", "print('started')", env=synced.env(GITIMPORT_RUN="1", GITIMPORT_CONFIG=str(missing)))

    assert done.returncode == 0 and done.stdout.strip() == "started"
    assert f"gitimport: GITIMPORT_CONFIG names {missing}, which is not a file." in done.stderr
