"""One discovery and one project state: the finder, sync and the command line agree on the project, and gc knows what the state writes.

These are the places where two copies of one rule used to disagree: the
finder's own config discovery, and gc's list of cache folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.project import Project, ok
from support.repos import FixtureSet

from gitimport.store import layout


@pytest.fixture
def nested(project: Project, fixture_repos: FixtureSet) -> tuple[Project, Path]:
    """An outer project (gitimport.toml, synced) and inside it a project whose pyproject.toml writes the table inline."""
    other = fixture_repos["other"].path
    toolbox = fixture_repos["toolbox"].path
    project.configure({"othermod": f"{other}@v1"})
    assert project.cli("sync", "-q").code == 0
    inner = project.root / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text(
        f'[project]\nname = "inner"\n\n[tool]\ngitimport = {{ modules = {{ helper = "{toolbox}@v1:tools/helper.py" }} }}\n',
        encoding="utf-8",
    )
    return project, inner


def test_an_inline_tool_table_is_found_before_a_parent_gitimport_toml(
    nested: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, inner = nested
    monkeypatch.chdir(inner)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert str(inner / "pyproject.toml") in result.out
    assert "Nothing to do" not in result.out  # the outer project's snapshot is not this project's
    assert (inner / "gitimport.lock").is_file()


def test_the_warm_path_finds_the_same_config_as_sync(nested: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    project, inner = nested
    monkeypatch.chdir(inner)
    assert project.cli("sync", "-q").code == 0
    code = "import gitimport; finder = gitimport.install(); import helper; print(finder.config_path); print(helper.VERSION)"

    # plain python, no `gitimport run` (which would pass GITIMPORT_CONFIG): the finder discovers the config itself
    result = project.plain_python(code, cwd=inner)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(inner / "pyproject.toml"), "1"]


def test_a_second_no_op_sync_of_the_inner_project_takes_the_fast_path_with_its_own_config(
    nested: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, inner = nested
    monkeypatch.chdir(inner)
    assert project.cli("sync", "-q").code == 0

    result = project.cli("sync")

    assert result.code == 0
    assert result.out.strip() == f"Nothing to do: 1 module locked and cached ({inner / 'pyproject.toml'})"


def test_a_pyproject_that_only_names_gitimport_as_a_dependency_is_not_a_config(
    project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.configure({"othermod": f"{fixture_repos['other'].path}@v1"})
    inner = project.root / "app"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "app"\ndependencies = ["gitimport"]\n', encoding="utf-8")
    monkeypatch.chdir(inner)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert str(project.config_path) in result.out


def farms(project: Project) -> set[str]:
    folder = project.cache / layout.NAMESPACES
    return {child.name for child in folder.iterdir()} if folder.is_dir() else set()


def test_gc_removes_namespace_farms_that_no_lock_uses(project: Project, fixture_repos: FixtureSet) -> None:
    toolbox = fixture_repos["toolbox"].path
    project.configure({"acme.tools": f"{toolbox}@v1:tools"})
    assert project.cli("sync", "-q").code == 0
    old = farms(project)
    project.configure({"acme.tools": f"{toolbox}@v2:tools"})
    assert project.cli("sync", "-q").code == 0
    current = farms(project) - old
    assert len(old) == 1 and len(current) == 1

    result = project.cli("gc")

    assert result.code == 0, result.err
    assert farms(project) == current
    assert f"{layout.NAMESPACES}/{next(iter(old))}" in result.out


def test_gc_keeps_the_farm_the_lock_uses_and_imports_still_see_the_namespace(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"acme.helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    before = farms(project)

    assert project.cli("gc").code == 0

    assert farms(project) == before
    code = "import pkgutil, acme; print(sorted(m.name for m in pkgutil.iter_modules(acme.__path__)))"
    result = project.python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['helper']\n"


def test_gc_dry_run_lists_an_unused_farm_and_removes_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    toolbox = fixture_repos["toolbox"].path
    project.configure({"acme.tools": f"{toolbox}@v1:tools"})
    assert project.cli("sync", "-q").code == 0
    project.configure({"helper": f"{toolbox}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    unused = farms(project)

    result = project.cli("gc", "--dry-run")

    assert result.code == 0
    assert all(f"{layout.NAMESPACES}/{name}" in result.out for name in unused)
    assert farms(project) == unused and os.path.isdir(project.cache / layout.NAMESPACES)


def test_gc_removes_a_retired_tree_folder_of_an_earlier_layout(project: Project, fixture_repos: FixtureSet) -> None:
    """Trees of an earlier layout were made before links were resolved and trees bound: nothing reads them, gc removes them."""
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    retired = layout.RETIRED[0]
    old = project.cache / retired / "0123456789abcdef0123456789abcdef01234567-helper.py"
    old.mkdir(parents=True)
    (old / "helper.py").write_text("VERSION = 'old'\n")

    result = project.cli("gc")

    assert result.code == 0, result.err
    assert not (project.cache / retired).exists()
    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"
