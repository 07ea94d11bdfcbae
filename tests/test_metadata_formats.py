"""Every common metadata format gives a pinned package the metadata pip would install (issue 11, point 2).

Each format is a tag of the ``formats`` fixture repository (fixtures/README.md),
served over loopback HTTP and synced for real; what a package declares is then
read back through ``importlib.metadata`` in a fresh interpreter under
``gitimport run``, as a library or a tool such as pytest would read it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from support.project import Project, Result
from support.repos import FixtureSet, add_commit
from support.servers import Server

from gitimport.state import snapshot_path
from gitimport.store import layout

#: The module each tag pins, as ``name = "URL@TAG:PATH"`` minus the URL.
MODULES = {
    "cfgplugin": "cfg:src",
    "poetrytool": "poetry",
    "poetrytwo": "poetry2",
    "flitmod": "flit",
    "flitnew": "flit-project:src",
    "dynpkg": "setuptools-dynamic:src",
    "hatchpkg": "hatch",
}


def sync(project: Project, url: str, modules: dict[str, str]) -> Result:
    project.configure({name: f"{url}@{ref_path}" for name, ref_path in modules.items()})
    result = project.cli("sync")
    assert result.code == 0, result.err
    return result


@pytest.fixture
def synced(project: Project, http_server: Server) -> tuple[Project, Result]:
    """Every well-formed format of the ``formats`` repository, synced into one project."""
    return project, sync(project, http_server.repo_url("formats"), MODULES)


@pytest.fixture
def formats(synced: tuple[Project, Result]) -> Project:
    return synced[0]


def metadata_of(project: Project, code: str) -> object:
    """``code`` evaluated with ``md`` = importlib.metadata in a fresh interpreter under ``gitimport run``."""
    run = project.python(f"import importlib.metadata as md, json\nprint(json.dumps({code}))")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def entry_points_of(project: Project, distribution: str) -> list[list[str]]:
    code = f"sorted([e.group, e.name, e.value] for e in md.distribution({distribution!r}).entry_points)"
    return metadata_of(project, code)  # type: ignore[return-value]


# --- setup.cfg --------------------------------------------------------------------------------------


def test_setup_cfg_version_attr_is_read_from_the_literal_in_the_source(formats: Project) -> None:
    assert metadata_of(formats, "md.version('cfg-plugin')") == "4.2.0"


def test_setup_cfg_version_file_is_read_from_the_file(project: Project, http_server: Server) -> None:
    sync(project, http_server.repo_url("formats"), {"cfgplugin": "cfg-file:src"})

    assert metadata_of(project, "md.version('cfg-plugin')") == "4.3.0"


def test_setup_cfg_install_requires_file_is_read_from_the_file(project: Project, http_server: Server) -> None:
    sync(project, http_server.repo_url("formats"), {"cfgplugin": "cfg-file:src"})

    assert metadata_of(project, "md.requires('cfg-plugin')") == ["packaging>=20", "cfg-file-missing-requirement"]


def test_setup_cfg_requirements_and_extras_read_as_setuptools_writes_them(formats: Project) -> None:
    data = metadata_of(formats, "[md.requires('Cfg_Plugin'), md.metadata('cfg-plugin').get_all('Provides-Extra')]")

    assert data == [
        ["packaging>=20", "cfg-missing-requirement>=2.0", 'sphinx>=7; extra == "docs"', 'pytest>=8; extra == "test"'],
        ["docs", "test"],
    ]


def test_setup_cfg_summary_and_requires_python(formats: Project) -> None:
    data = metadata_of(formats, "[md.metadata('cfg-plugin')[key] for key in ('Summary', 'Requires-Python')]")

    assert data == ["A setup.cfg project like pytest-timeout", ">=3.8"]


def test_setup_cfg_entry_points_keep_the_case_of_groups_and_names(formats: Project) -> None:
    assert entry_points_of(formats, "cfg-plugin") == [
        ["CamelGroup", "Mixed_Name", "cfgplugin:THING"],
        ["console_scripts", "cfg-Tool", "cfgplugin.cli:main"],
        ["console_scripts", "cfg-fail", "cfgplugin.cli:fail"],
        ["pytest11", "cfg_plugin", "cfgplugin.plugin"],
    ]


def test_pytest_loads_a_plugin_declared_in_setup_cfg(formats: Project) -> None:
    (formats.root / "test_nothing.py").write_text("def test_nothing():\n    pass\n")

    run = formats.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_nothing.py")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "cfg-plugin loaded from setup.cfg's pytest11 entry point" in run.stdout


def test_run_serves_a_console_script_declared_in_setup_cfg(formats: Project) -> None:
    run = formats.run("cfg-Tool", "one", "two")

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("cfg-tool ") and str(formats.cache) in run.stdout
    assert run.stdout.strip().endswith("one two")


def test_a_setup_cfg_script_exit_status_propagates(formats: Project) -> None:
    assert formats.run("cfg-fail").returncode == 5


# --- Poetry ---------------------------------------------------------------------------------------


def test_poetry_name_version_summary_and_python(formats: Project) -> None:
    data = metadata_of(formats, "[md.metadata('poetry_tool')[key] for key in ('Name', 'Version', 'Summary', 'Requires-Python')]")

    assert data == ["poetry-tool", "1.4.0", "A Poetry 1 project", ">=3.8,<4.0"]


def test_poetry_dependencies_become_pep_508_requirements(formats: Project) -> None:
    requires = metadata_of(formats, "[r for r in md.requires('poetry-tool') if 'extra ==' not in r]")

    assert requires == [
        "packaging>=20",
        "poetry-missing-dependency>=1.2,<1.3",
        "caret-zero>=0.2.3,<0.3.0; (sys_platform != 'win32') and (python_version >= \"3.8\")",
        "either>=1.2,<3.0",
        "exact==1.2.3",
        "wild==2.*",
        "gitdep @ git+https://example.com/gitdep.git@v1.0",
        "localdep",
        'windows-only; sys_platform == "win32"',
    ]


def test_poetry_optional_dependencies_appear_only_under_their_extras(formats: Project) -> None:
    data = metadata_of(
        formats, "[md.metadata('poetry-tool').get_all('Provides-Extra'), [r for r in md.requires('poetry-tool') if 'extra ==' in r]]"
    )

    assert data == [["cli"], ['rich[jupyter]>=10.0,<11.0; extra == "cli"', 'click; extra == "cli"']]


def test_poetry_scripts_and_plugins_are_entry_points(formats: Project) -> None:
    assert entry_points_of(formats, "poetry-tool") == [
        ["console_scripts", "poetry-tool", "poetrytool.cli:main"],
        ["poetry.demo", "demo", "poetrytool:plugin"],
    ]


def test_run_serves_a_poetry_script(formats: Project) -> None:
    run = formats.run("poetry-tool", "arg")

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("poetry-tool ") and run.stdout.strip().endswith("arg")


def test_which_script_names_the_poetry_distribution(formats: Project) -> None:
    result = formats.cli("which", "--script", "poetry-tool")

    assert result.code == 0, result.err
    assert result.out.split()[:3] == ["poetry-tool:", "poetry_tool", "poetrytool.cli:main"]


def test_poetry_2_project_table_wins_and_the_version_comes_from_tool_poetry(formats: Project) -> None:
    data = metadata_of(formats, "[md.metadata('poetry-two')[key] for key in ('Name', 'Version', 'Summary')] + [md.requires('poetry-two')]")

    assert data == ["poetry-two", "2.2.0", "Poetry 2 reads [project] first", ["packaging>=20", "poetry-two-missing>=3.1,<4.0"]]


# --- flit -----------------------------------------------------------------------------------------


def test_old_flit_metadata_takes_version_and_summary_from_the_module(formats: Project) -> None:
    data = metadata_of(formats, "[md.metadata('flit-legacy')[key] for key in ('Name', 'Version', 'Summary', 'Requires-Python')]")

    assert data == ["flit-legacy", "0.7.1", "A single-module project built by old flit.", ">=3.7"]


def test_old_flit_requirements_and_extras(formats: Project) -> None:
    assert metadata_of(formats, "md.requires('flit-legacy')") == ["packaging>=20", "flit-missing-dependency", 'pytest>=7; extra == "test"']


def test_old_flit_scripts_and_entrypoints(formats: Project) -> None:
    assert entry_points_of(formats, "flit-legacy") == [
        ["console_scripts", "flit-hello", "flitmod:main"],
        ["flit.demo", "demo", "flitmod:main"],
    ]


def test_flit_core_project_with_a_dynamic_version_reads_it_from_the_module(formats: Project) -> None:
    data = metadata_of(formats, "[md.version('flitnew'), md.metadata('flitnew')['Summary']]")

    assert data == ["2.0.1", "A flit_core project whose version and summary live in the module."]


# --- dynamic versions in [project] --------------------------------------------------------------------


def test_setuptools_dynamic_version_attr_honours_package_dir(formats: Project) -> None:
    assert metadata_of(formats, "md.version('dynpkg')") == "5.6.7"


def test_setuptools_dynamic_dependencies_come_from_the_requirements_file(formats: Project) -> None:
    assert metadata_of(formats, "md.requires('dynpkg')") == ["packaging>=20", "dynpkg-missing-dependency>=1"]


def test_hatch_version_path_is_read_with_hatch_default_pattern(formats: Project) -> None:
    assert metadata_of(formats, "md.version('hatchpkg')") == "8.1.0"


def test_pdm_file_version_source(project: Project, http_server: Server) -> None:
    sync(project, http_server.repo_url("formats"), {"pdmpkg": "pdm"})

    assert metadata_of(project, "md.version('pdmpkg')") == "3.3.3"


def test_a_custom_hatch_pattern_is_not_run_and_the_version_comes_from_the_ref(
    project: Project, http_server: Server, fixture_repos: FixtureSet
) -> None:
    result = sync(project, http_server.repo_url("formats"), {"hatchpkg": "hatch-pattern"})

    assert "Note: hatchpkg: pyproject.toml: [tool.hatch.version] pattern is a custom regular expression, not run" in result.out
    assert metadata_of(project, "md.version('hatchpkg')") == f"0+g{fixture_repos['formats'].tags['hatch-pattern'][:12]}"


# --- the requirements check -------------------------------------------------------------------------


def test_sync_names_unmet_requirements_of_every_format(synced: tuple[Project, Result]) -> None:
    err = synced[1].err

    for distribution, requirement in [
        ("Cfg_Plugin", "cfg-missing-requirement>=2.0"),
        ("poetry-tool", "poetry-missing-dependency>=1.2,<1.3"),
        ("poetry-two", "poetry-two-missing>=3.1,<4.0"),
        ("flit-legacy", "flit-missing-dependency"),
        ("dynpkg", "dynpkg-missing-dependency>=1"),
    ]:
        assert f"{distribution} requires {requirement!r}, but it is not installed" in err


def test_sync_does_not_name_optional_or_other_platform_requirements(synced: tuple[Project, Result]) -> None:
    err = synced[1].err

    assert "requires 'packaging" not in err  # installed
    assert "rich" not in err and "click" not in err and "sphinx" not in err  # extras nobody asked for
    assert "windows-only" not in err  # its marker does not apply here


# --- what cannot be read ----------------------------------------------------------------------------


def test_a_broken_setup_cfg_leaves_the_module_importable_and_says_why(project: Project, http_server: Server) -> None:
    result = sync(project, http_server.repo_url("formats"), {"brokencfg": "broken-cfg"})

    assert "Note: brokencfg: setup.cfg: cannot be parsed (File contains no section headers); no distribution metadata" in result.out
    assert project.python("import brokencfg; print(brokencfg.VALUE)").stdout == "1\n"


def test_a_version_attr_that_is_not_a_literal_falls_back_to_the_ref(
    project: Project, http_server: Server, fixture_repos: FixtureSet
) -> None:
    result = sync(project, http_server.repo_url("formats"), {"badattr": "bad-attr"})

    assert "Note: badattr: setup.cfg: version attr: badattr.__version__ is not a literal string in badattr/__init__.py" in result.out
    assert metadata_of(project, "md.version('badattr')") == f"0+g{fixture_repos['formats'].tags['bad-attr'][:12]}"


def test_a_poetry_dependency_in_an_unknown_form_is_left_out_with_a_note(project: Project, http_server: Server) -> None:
    result = sync(project, http_server.repo_url("formats"), {"badpoetry": "bad-poetry"})

    assert "Note: badpoetry: pyproject.toml: [tool.poetry.dependencies] weird = 3 is not a form gitimport reads" in result.out
    assert metadata_of(project, "md.requires('bad-poetry')") == ["packaging>=20", "bad-poetry-missing>=1.0,<2.0"]


def test_a_metadata_file_larger_than_the_cap_is_not_read(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["formats"]
    huge = b"[project]\nname = 'huge'\n" + b"#" * (5 * 1024 * 1024)
    commit = add_commit(repo.path, {"pyproject.toml": huge}, "a pyproject.toml of 5 MiB")

    result = sync(project, str(repo.path), {"poetrytwo": commit})

    assert "Note: poetrytwo: pyproject.toml: is larger than 4 MiB and is not read" in result.out
    assert metadata_of(project, "[d.metadata['Name'] for d in md.distributions()].count('huge')") == 0


def test_metadata_that_would_forge_lines_or_escape_the_launcher_folder_is_left_out(project: Project, http_server: Server) -> None:
    result = sync(project, http_server.repo_url("formats"), {"hostile": "hostile"})

    assert "Note: hostile: the project at the repository root: version '1.0\\nRequires-Dist: forged-by-version' is not" in result.out
    assert metadata_of(project, "[md.version('hostile').startswith('0+g'), md.requires('hostile')]") == [True, ["packaging>=20"]]
    assert project.run("hostile-ok").stdout == "hostile-ok\n"
    assert not list(project.cache.rglob("escape"))


# --- caches of an earlier gitimport --------------------------------------------------------------------


def test_the_first_sync_after_an_upgrade_writes_metadata_an_earlier_cache_lacks(project: Project, http_server: Server) -> None:
    """An earlier gitimport read no Poetry metadata: its cache has a ``dists-v1/`` and a snapshot of another version."""
    sync(project, http_server.repo_url("formats"), {"poetrytool": "poetry"})
    shutil.rmtree(project.cache / layout.DISTS)
    os.remove(snapshot_path(str(project.config_path)))
    (project.cache / "dists-v1" / "modules").mkdir(parents=True)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert metadata_of(project, "md.version('poetry-tool')") == "1.4.0"
    assert project.cli("gc").code == 0 and not (project.cache / "dists-v1").exists()
