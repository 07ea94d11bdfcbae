"""Console and gui scripts of pinned distributions under ``gitimport run`` (issue 11, point 4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.project import Project


@pytest.fixture
def synced(scripts_project: Project) -> Project:
    return scripts_project


def decoy_path(tmp_path: Path) -> str:
    """A folder holding another ``hello-gi``, first on the caller's PATH."""
    folder = tmp_path / "decoy"
    folder.mkdir()
    decoy = folder / "hello-gi"
    decoy.write_text("#!/bin/sh\necho DECOY-RAN\n")
    decoy.chmod(0o755)
    return os.pathsep.join([str(folder), os.environ.get("PATH", "")])


def test_run_serves_a_console_script_from_the_pinned_commit(synced: Project) -> None:
    run = synced.run("hello-gi", "one", "two")

    assert run.returncode == 0, run.stderr
    assert str(synced.cache) in run.stdout
    assert run.stdout.strip().endswith("one two")


def test_a_decoy_earlier_on_path_is_not_run(synced: Project, tmp_path: Path) -> None:
    run = synced.run("hello-gi", env=synced.env(PATH=decoy_path(tmp_path)))

    assert "DECOY-RAN" not in run.stdout
    assert run.stdout.startswith("hellotool "), run.stderr


def test_the_script_exit_status_propagates(synced: Project) -> None:
    assert synced.run("fail-gi").returncode == 7


def test_repeated_runs_reuse_one_launcher_folder(synced: Project) -> None:
    synced.run("hello-gi")
    synced.run("hello-gi")

    assert len(list((synced.cache / "scripts-v1").iterdir())) == 1


def test_which_script_names_distribution_module_and_launcher(synced: Project) -> None:
    result = synced.cli("which", "--script", "hello-gi-gui")

    assert result.code == 0, result.err
    name, distribution, target, launcher = result.out.split()
    assert (name, distribution, target) == ("hello-gi-gui:", "hellotool", "hellotool.cli:main")
    assert Path(launcher).read_text().startswith("#!")


def test_which_script_of_an_unknown_name_errors_with_a_hint(synced: Project) -> None:
    result = synced.cli("which", "--script", "nope-gi")

    assert result.code == 2
    assert "No pinned distribution provides a script named 'nope-gi'." in result.err
    assert "hint:" in result.err


def test_a_launcher_loads_nothing_before_the_scripts_own_module(synced: Project) -> None:
    """The launcher is gitimport run's, so its cost lands on every command: no ``import re`` as pip 23 and 24 wrote."""
    result = synced.cli("which", "--script", "hello-gi")
    launcher = Path(result.out.split()[-1])

    lines = [line.strip() for line in launcher.read_text().splitlines() if line.strip().startswith(("import", "from"))]

    assert lines == ["import sys", "from hellotool.cli import main"], lines
    assert synced.run("hello-gi", "x").stdout.strip().endswith("x")
