"""`gitimport add` and `remove`: the config keeps its comments, and nothing is written for a spec that does not resolve."""

from __future__ import annotations

import pytest
from support.project import Project
from support.repos import FixtureSet
from support.servers import Server

from gitimport.errors import PathNotFoundError, RefNotFoundError
from gitimport.project.lock import read_lock

COMMENTED = """\
# Modules of the team.
cache-dir = "../cache"   # shared with the other checkout

[modules]
# the helper, pinned to the first release
helper = "{url}@v1:tools/helper.py"  # do not upgrade yet
"""


def test_add_without_a_config_creates_gitimport_toml_and_the_lock(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path

    result = project.cli("add", "helper", f"{url}@v1:tools/helper.py")

    assert result.code == 0, result.err
    assert project.config_path.read_text() == f'[modules]\nhelper = "{url}@v1:tools/helper.py"\n'
    assert read_lock(project.lock_path).modules["helper"].commit == fixture_repos["toolbox"].tags["v1"]
    assert f"Created {project.config_path}" in result.out and "added" in result.out


def test_add_keeps_comments_and_formatting(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    original = COMMENTED.format(url=url)
    project.config_path.write_text(original)

    result = project.cli("add", "mylib", f"{url}@v2:src")

    assert result.code == 0, result.err
    assert project.config_path.read_text() == original + f'mylib = "{url}@v2:src"\n'
    assert set(read_lock(project.lock_path).modules) == {"mylib"}  # add syncs only the module it adds


def test_add_then_import_works(project: Project, fixture_repos: FixtureSet) -> None:
    project.cli("add", "mylib", f"{fixture_repos['toolbox'].path}@v2:src")

    run = project.python("import mylib; print(mylib.VERSION)")

    assert run.stdout.strip() == "2", run.stderr


def test_add_to_pyproject_toml_writes_tool_gitimport_modules(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    pyproject = project.root / "pyproject.toml"
    original = (
        f'[project]\nname = "app"  # the app\n\n[tool.gitimport.modules]\nhelper = "{url}@v1:tools/helper.py"\n\n[tool.other]\nx = 1\n'
    )
    pyproject.write_text(original)

    result = project.cli("add", "rootmod", f"{url}@v1:lib")

    assert result.code == 0, result.err
    assert pyproject.read_text() == original.replace('tools/helper.py"\n', f'tools/helper.py"\nrootmod = "{url}@v1:lib"\n')
    assert not project.config_path.exists()


def test_add_a_dotted_name_quotes_it(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path

    result = project.cli("add", "acme.tools", f"{url}@v1:tools/helper.py")

    assert result.code == 0, result.err
    assert f'"acme.tools" = "{url}@v1:tools/helper.py"' in project.config_path.read_text()
    assert project.python("import acme.tools; print(acme.tools.VERSION)").stdout.strip() == "1"


def test_add_an_existing_name_changes_its_spec(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.config_path.write_text(COMMENTED.format(url=url))
    project.cli("sync")

    result = project.cli("add", "helper", f"{url}@v2:tools/helper.py")

    assert result.code == 0, result.err
    assert f"Changed helper in {project.config_path} (was {url}@v1:tools/helper.py)" in result.out
    text = project.config_path.read_text()
    assert f'helper = "{url}@v2:tools/helper.py"' in text and "@v1" not in text
    assert "# the helper, pinned to the first release" in text
    assert read_lock(project.lock_path).modules["helper"].commit == fixture_repos["toolbox"].tags["v2"]


def test_add_of_the_same_spec_leaves_the_file_as_written(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    original = f'[modules]\nhelper = {{ git = "{url}", ref = "v1", path = "tools/helper.py" }}  # table form\n'
    project.config_path.write_text(original)

    result = project.cli("add", "helper", f"{url}@v1:tools/helper.py")

    assert result.code == 0, result.err
    assert f"helper is already in {project.config_path} with this spec" in result.out
    assert project.config_path.read_text() == original and project.lock_path.is_file()


def test_add_of_a_ref_that_does_not_exist_writes_nothing(project: Project, git_http_backend_server: Server) -> None:
    url = git_http_backend_server.repo_url("toolbox")
    original = COMMENTED.format(url=url)
    project.config_path.write_text(original)

    result = project.cli("add", "mylib", f"{url}@v99:src")

    assert result.code == RefNotFoundError.exit_code
    assert result.err.startswith("error: Ref 'v99' is not in") and "hint:" in result.err
    assert project.config_path.read_text() == original
    assert project.lock_text() is None


def test_add_of_a_path_that_does_not_exist_writes_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    original = COMMENTED.format(url=url)
    project.config_path.write_text(original)

    result = project.cli("add", "mylib", f"{url}@v1:nosuch")

    assert result.code == PathNotFoundError.exit_code and "PATH 'nosuch'" in result.err
    assert project.config_path.read_text() == original


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        ("mylib", "https://example.com/repo", "no @REF"),
        ("not-valid", "./repo@v1", "not a valid dotted Python identifier"),
        ("mylib", "./repo@v1:../etc", "'..'"),
    ],
)
def test_add_of_bad_input_exits_2_before_any_network(project: Project, name: str, spec: str, message: str) -> None:
    result = project.cli("add", name, spec)

    assert result.code == 2
    assert message in result.err and "hint:" in result.err and "Traceback" not in result.err
    assert not project.config_path.exists() and not project.cache.exists()


def test_add_a_relative_path_from_a_subfolder_is_kept_relative_to_the_config(
    project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture_repos.copy_to(project.root / "repos")
    project.config_path.write_text("[modules]\n")
    sub = project.root / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)

    added = project.cli("add", "helper", "../repos/toolbox@v1:tools/helper.py")

    assert added.code == 0, added.err
    assert 'helper = "./repos/toolbox@v1:tools/helper.py"' in project.config_path.read_text()


def test_remove_deletes_the_module_from_config_and_lock(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    original = COMMENTED.format(url=url)
    project.config_path.write_text(original + f'mylib = "{url}@v2:src"  # keep me\n')
    project.cli("sync")

    result = project.cli("remove", "helper")

    assert result.code == 0, result.err
    assert f"Removed helper from {project.config_path} and {project.lock_path}" in result.out
    text = project.config_path.read_text()
    assert "helper =" not in text and f'mylib = "{url}@v2:src"  # keep me' in text and "# Modules of the team." in text
    assert set(read_lock(project.lock_path).modules) == {"mylib"}
    assert project.cli("sync", "--locked").code == 0


def test_remove_of_a_dotted_key(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.config_path.write_text(f'[modules]\nacme.tools = "{url}@v1:tools/helper.py"\nrootmod = "{url}@v1:lib"\n')
    project.cli("sync")

    result = project.cli("remove", "acme.tools")

    assert result.code == 0, result.err
    assert project.config_path.read_text() == f'[modules]\nrootmod = "{url}@v1:lib"\n'


def test_remove_of_an_unknown_module_exits_2_and_changes_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    original = COMMENTED.format(url=fixture_repos["toolbox"].path)
    project.config_path.write_text(original)

    result = project.cli("remove", "nosuch")

    assert result.code == 2
    assert result.err.startswith("error: 'nosuch' is not a module of") and "hint:" in result.err
    assert project.config_path.read_text() == original


def test_remove_under_frozen_exits_3_and_changes_nothing(
    project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = COMMENTED.format(url=fixture_repos["toolbox"].path)
    project.config_path.write_text(original)
    project.cli("sync")
    lock = project.lock_text()
    monkeypatch.setenv("GITIMPORT_FROZEN", "1")

    result = project.cli("remove", "helper")

    assert result.code == 3
    assert project.config_path.read_text() == original and project.lock_text() == lock


def test_add_refuses_to_edit_a_script(project: Project, fixture_repos: FixtureSet) -> None:
    script = project.root / "tool.py"
    script.write_text('# /// script\n# [tool.gitimport.modules]\n# x = "./r@v1"\n# ///\nprint(1)\n')

    result = project.cli("add", "--config", str(script), "helper", f"{fixture_repos['toolbox'].path}@v1:tools/helper.py")

    assert result.code == 2 and "script" in result.err
    assert "helper" not in script.read_text()


def test_edited_config_is_seen_by_the_next_import(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.cli("add", "helper", f"{url}@v1:tools/helper.py")
    project.cli("add", "rootmod", f"{url}@v2:lib")
    project.cli("remove", "helper")

    run = project.python("import rootmod; print(rootmod.VERSION)\ntry:\n    import helper\nexcept ImportError:\n    print('gone')")

    assert run.stdout.split() == ["2", "gone"], run.stderr
