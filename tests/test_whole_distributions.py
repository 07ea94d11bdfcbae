"""Whole distributions (issue 11, point 3): a distribution's other top-level names, found, reported and pinned with ``also``.

The fixture ``wholedist`` is shaped like pytest: ``src/`` holds ``wholepkg``,
``_wholepkg`` and ``wholepy.py``, and ``wholepkg`` imports the other two.
Its ``flat-1.0.0`` commit is a flat layout configured in setup.cfg.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dulwich.repo import Repo
from support.project import Project
from support.repos import FixtureSet, add_commit
from support.servers import PRIVATE_TOKEN, PRIVATE_USER, Server

from gitimport.project.lock import read_lock
from gitimport.store.top_level import shipped_names

IMPORT_ALL = "import wholepkg, _wholepkg.core, wholepy; print(wholepkg.VERSION, _wholepkg.core.VERSION, wholepy.VERSION)"


def configure(project: Project, url: str, entry: str) -> None:
    """``[modules]`` holding one line: ``entry`` with ``{url}`` filled in."""
    project.config_path.write_text("[modules]\n" + entry.replace("{url}", url) + "\n", encoding="utf-8")


def also_entry(ref: str = "v1.0.0", also: str = '["_wholepkg", "wholepy"]', path: str = "src") -> str:
    return f'wholepkg = {{ git = "{{url}}", ref = "{ref}", path = "{path}", also = {also} }}'


@pytest.fixture
def url(http_server: Server) -> str:
    return http_server.repo_url("wholedist")


def synced(project: Project, *args: str) -> str:
    result = project.cli("sync", *args)
    assert result.code == 0, result.err
    return result.err


def refused(project: Project, *args: str) -> str:
    """Run the CLI, assert exit 2 and that lock and cache are as they were; return its error output."""
    lock, cache = project.lock_text(), project.cache_files()
    result = project.cli(*args)
    assert result.code == 2, (result.out, result.err)
    assert project.lock_text() == lock
    assert project.cache_files() == cache
    return result.err


# --- sync says what is missing ---------------------------------------------------------------------


def test_sync_of_one_name_says_which_names_the_distribution_also_ships_and_the_line_to_write(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src"})

    err = synced(project)

    assert "Note: wholepkg: its distribution wholedist also ships _wholepkg and wholepy, which no entry pins" in err
    assert f'    wholepkg = {{ git = "{url}", ref = "v1.0.0", path = "src", also = ["_wholepkg", "wholepy"] }}' in err


def test_the_line_sync_suggests_is_a_config_that_imports_every_name(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src"})
    line = synced(project).splitlines()[-1].strip()
    project.config_path.write_text(f"[modules]\n{line}\n", encoding="utf-8")

    assert "Note:" not in synced(project)
    assert project.python(IMPORT_ALL).stdout.split() == ["1", "1", "1"]


def test_a_package_path_is_suggested_as_its_folder(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src/wholepkg"})

    assert 'path = "src", also = ["_wholepkg", "wholepy"]' in synced(project)


def test_names_configured_on_their_own_are_not_reported(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src", "_wholepkg": f"{url}@v1.0.0:src"})

    err = synced(project)

    assert "also ships wholepy, which no entry pins; to pin it" in err
    assert 'also = ["wholepy"]' in err
    assert err.count("Note:") == 1  # one distribution, one note, whichever of its modules was synced


def test_quiet_leaves_the_note_out(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src"})

    assert "Note:" not in synced(project, "-q")


def test_a_name_kept_in_another_folder_gets_a_line_of_its_own(project: Project, tmp_path: Path) -> None:
    config = '[project]\nname = "split"\n[tool.setuptools]\npackages = ["alpha", "beta"]\npackage-dir = {alpha = "lib/alpha", beta = "other/beta"}\n'
    repo, _ = commit_of(tmp_path, {"pyproject.toml": config, "lib/alpha/__init__.py": "", "other/beta/__init__.py": ""})
    repo.close()
    project.configure({"alpha": f"{repo.path}@main:lib"})

    err = synced(project)

    assert "its distribution split also ships beta, which no entry pins; to pin it at the same commit, write:" in err
    assert f'    beta = {{ git = "{repo.path}", ref = "main", path = "other" }}' in err
    assert "also = [" not in err


def test_a_warm_sync_says_nothing_more(project: Project, url: str) -> None:
    project.configure({"wholepkg": f"{url}@v1.0.0:src"})
    synced(project)

    assert "Note:" not in synced(project)


def test_a_module_outside_its_projects_packages_gets_no_note(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})

    assert "Note:" not in synced(project)


def test_a_flat_layout_configured_in_setup_cfg_is_read(project: Project, url: str) -> None:
    project.configure({"flatpkg": f"{url}@flat-1.0.0"})

    err = synced(project)

    assert "its distribution flatdist also ships _flatpkg and flatpy" in err
    assert f'flatpkg = {{ git = "{url}", ref = "flat-1.0.0", also = ["_flatpkg", "flatpy"] }}' in err


# --- the also form ---------------------------------------------------------------------------------


def test_also_imports_every_name_in_a_fresh_interpreter(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)

    run = project.python(IMPORT_ALL)

    assert run.stdout.split() == ["1", "1", "1"], run.stderr


def test_an_import_before_any_sync_locks_the_whole_entry(project: Project, url: str, fixture_repos: FixtureSet) -> None:
    configure(project, url, also_entry())

    run = project.python("import wholepy; print(wholepy.VERSION)")

    assert run.stdout.split() == ["1"], run.stderr
    entries = read_lock(project.lock_path).modules
    assert sorted(entries) == ["_wholepkg", "wholepkg", "wholepy"]
    assert {entry.commit for entry in entries.values()} == {fixture_repos["wholedist"].tags["v1.0.0"]}


def test_also_locks_three_entries_at_one_commit(project: Project, url: str, fixture_repos: FixtureSet) -> None:
    configure(project, url, also_entry())
    synced(project)

    entries = read_lock(project.lock_path).modules

    assert sorted(entries) == ["_wholepkg", "wholepkg", "wholepy"]
    assert {entry.commit for entry in entries.values()} == {fixture_repos["wholedist"].tags["v1.0.0"]}
    assert [entries[n].path for n in sorted(entries)] == ["src/_wholepkg", "src/wholepkg", "src/wholepy.py"]


def test_changing_the_entrys_ref_moves_every_name(project: Project, url: str) -> None:
    configure(project, url, also_entry(ref="v1.0.0"))
    synced(project)
    configure(project, url, also_entry(ref="v2.0.0"))

    synced(project)

    assert project.python(IMPORT_ALL).stdout.split() == ["2", "2", "2"]


def test_upgrade_of_the_entry_moves_its_also_names_with_it(
    project: Project, mutable_repos: FixtureSet, serve: Callable[..., Server]
) -> None:
    server = serve("git-http-backend", mutable_repos.root)
    configure(project, server.repo_url("wholedist"), also_entry(ref="main"))
    synced(project)
    moved = add_commit(
        mutable_repos["wholedist"].path, {"src/_wholepkg/core.py": b'VERSION = "3"\n', "src/wholepy.py": b'VERSION = "3"\n'}, "3"
    )

    out = synced(project, "--upgrade", "wholepkg")

    assert {entry.commit for entry in read_lock(project.lock_path).modules.values()} == {moved}
    assert project.python(IMPORT_ALL).stdout.split() == ["3", "3", "3"], out


def test_upgrade_of_an_also_name_moves_the_whole_entry(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["wholedist"]
    configure(project, str(repo.path), also_entry(ref="main"))
    synced(project)
    moved = add_commit(repo.path, {"src/wholepy.py": b'VERSION = "3"\n'}, "wholedist 3")

    synced(project, "--upgrade", "wholepy")

    assert {entry.commit for entry in read_lock(project.lock_path).modules.values()} == {moved}


def test_a_name_added_to_also_later_is_locked_at_the_entrys_commit(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["wholedist"]
    configure(project, str(repo.path), also_entry(ref="main", also='["_wholepkg"]'))
    synced(project)
    moved = add_commit(repo.path, {"src/wholepy.py": b'VERSION = "3"\n'}, "wholedist 3")
    configure(project, str(repo.path), also_entry(ref="main"))

    synced(project)

    assert {entry.commit for entry in read_lock(project.lock_path).modules.values()} == {moved}


def test_dropping_a_name_from_also_removes_it_from_the_lock(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)
    configure(project, url, also_entry(also='["_wholepkg"]'))

    result = project.cli("sync")

    assert "Removed wholepy from the lock" in result.out
    assert sorted(read_lock(project.lock_path).modules) == ["_wholepkg", "wholepkg"]


# --- bad also values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message", "hint"),
    [
        (also_entry(also='"_wholepkg"'), "'also' must be a list of module names, not '_wholepkg'", 'write also = ["_pytest", "py"]'),
        (also_entry(also='["_wholepkg.core"]'), "'also' names '_wholepkg.core', which is not a top-level module name", "as its own entry"),
        (also_entry(also='["wholepy", "wholepy"]'), "'also' names 'wholepy' twice", "list each other name once"),
        (also_entry(also='["wholepkg"]'), "'also' names 'wholepkg' twice (or the entry's own name)", "list each other name once"),
        (
            also_entry(path="src/wholepy.py"),
            "module 'wholepkg' has 'also', but its PATH 'src/wholepy.py' is a single file",
            'write path = "src"',
        ),
    ],
    ids=["not-a-list", "dotted", "repeated", "own-name", "single-file-path"],
)
def test_a_bad_also_is_refused_before_anything_is_fetched(project: Project, url: str, entry: str, message: str, hint: str) -> None:
    configure(project, url, entry)

    err = refused(project, "sync")

    assert message in err
    assert hint in err.split("hint:", 1)[1]
    assert not project.cache_files()


def test_a_name_both_in_also_and_configured_on_its_own_is_refused(project: Project, url: str) -> None:
    project.config_path.write_text(f'[modules]\n{also_entry().replace("{url}", url)}\nwholepy = "{url}@v1.0.0:src"\n', encoding="utf-8")

    err = refused(project, "sync")

    assert "'wholepy' is configured on its own and also in the 'also' of 'wholepkg'." in err
    assert "hint: keep one: remove the entry 'wholepy', or take 'wholepy' out of 'wholepkg''s also" in err


def test_an_also_name_that_path_does_not_hold_leaves_lock_and_cache_as_they_were(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)
    configure(project, url, also_entry(also='["_wholepkg", "wholepy", "nosuch"]'))

    err = refused(project, "sync")

    assert "wholepkg: PATH 'src' in commit" in err and "holds neither nosuch.py nor a folder nosuch/, which also names." in err
    assert "hint: take the name out of also" in err


def test_also_with_a_package_path_is_refused_with_the_folder_to_name(project: Project, url: str) -> None:
    configure(project, url, also_entry(path="src/wholepkg"))

    err = refused(project, "sync")

    assert "wholepkg: PATH 'src/wholepkg' is a package itself, so it cannot also hold '_wholepkg'." in err
    assert 'hint: write path = "src", the folder that holds wholepkg and every name in also' in err


# --- add and remove --------------------------------------------------------------------------------


def test_add_writes_the_distributions_other_names_as_also(project: Project, url: str) -> None:
    result = project.cli("add", "wholepkg", f"{url}@v1.0.0:src")

    assert result.code == 0, result.err
    assert (
        project.config_path.read_text()
        == f'[modules]\nwholepkg = {{git = "{url}", ref = "v1.0.0", path = "src", also = ["_wholepkg", "wholepy"]}}\n'
    )
    assert "Pinned with it, as also = [_wholepkg, wholepy]" in result.out
    assert "Note:" not in result.err
    assert sorted(read_lock(project.lock_path).modules) == ["_wholepkg", "wholepkg", "wholepy"]
    assert project.python(IMPORT_ALL).stdout.split() == ["1", "1", "1"]


def test_add_only_keeps_the_single_name_and_says_what_is_missing(project: Project, url: str) -> None:
    result = project.cli("add", "--only", "wholepkg", f"{url}@v1.0.0:src")

    assert result.code == 0, result.err
    assert project.config_path.read_text() == f'[modules]\nwholepkg = "{url}@v1.0.0:src"\n'
    assert sorted(read_lock(project.lock_path).modules) == ["wholepkg"]
    assert "also ships _wholepkg and wholepy, which no entry pins" in result.err


def test_add_of_a_name_in_another_entrys_also_is_refused(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)
    config = project.config_path.read_text()

    err = refused(project, "add", "wholepy", f"{url}@v1.0.0:src")

    assert f"'wholepy' is pinned by the 'also' of 'wholepkg' in {project.config_path}." in err
    assert "or run `gitimport add wholepkg SPEC` for the whole entry" in err
    assert project.config_path.read_text() == config


def test_remove_of_the_entry_removes_its_also_names(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)

    result = project.cli("remove", "wholepkg")

    assert result.code == 0, result.err
    assert "(and _wholepkg, wholepy, pinned with it by also)" in result.out
    assert read_lock(project.lock_path).modules == {}
    assert project.config_path.read_text() == "[modules]\n"


def test_remove_of_an_also_name_is_refused(project: Project, url: str) -> None:
    configure(project, url, also_entry())
    synced(project)

    err = refused(project, "remove", "_wholepkg")

    assert "'_wholepkg' is pinned by the 'also' of 'wholepkg'" in err
    assert "hint: take '_wholepkg' out of 'wholepkg''s also in that file, or run `gitimport remove wholepkg` for the whole entry" in err


# --- which names a distribution ships, per build configuration ----------------------------------------


def commit_of(tmp_path: Path, files: dict[str, str]) -> tuple[Repo, str]:
    """A real repository holding ``files``, committed once."""
    path = tmp_path / "repo"
    Repo.init_bare(str(path), mkdir=True).close()
    commit = add_commit(path, {name: text.encode() for name, text in files.items()}, "one commit")
    return Repo(str(path)), commit


PACKAGES = {"lib/alpha/__init__.py": "", "lib/_alpha/__init__.py": "", "lib/beta.py": "", "lib/tests/__init__.py": ""}


@pytest.mark.parametrize(
    ("config", "files", "expected"),
    [
        (
            '[project]\nname = "a"\n[tool.setuptools]\npackages = ["alpha", "_alpha"]\npy-modules = ["beta"]\npackage-dir = {"" = "lib"}\n',
            PACKAGES,
            {"_alpha": "lib/_alpha", "alpha": "lib/alpha", "beta": "lib/beta.py"},
        ),
        (
            '[project]\nname = "a"\n[tool.setuptools.packages.find]\nwhere = ["lib"]\nexclude = ["tests*"]\n',
            PACKAGES,
            {"_alpha": "lib/_alpha", "alpha": "lib/alpha"},
        ),
        (
            '[project]\nname = "a"\n[tool.setuptools.packages.find]\nwhere = ["lib"]\ninclude = ["alpha*"]\n',
            PACKAGES,
            {"alpha": "lib/alpha"},
        ),
        (
            '[project]\nname = "a"\n[tool.hatch.build.targets.wheel]\npackages = ["lib/alpha", "lib/_alpha"]\n',
            PACKAGES,
            {"_alpha": "lib/_alpha", "alpha": "lib/alpha"},
        ),
        (
            '[tool.poetry]\nname = "a"\npackages = [{include = "*alpha", from = "lib"}, {include = "beta.py", from = "lib"}]\n',
            PACKAGES,
            {"_alpha": "lib/_alpha", "alpha": "lib/alpha", "beta": "lib/beta.py"},
        ),
        (
            '[build-system]\nbuild-backend = "flit_core.buildapi"\n[project]\nname = "alpha"\n',
            {"src/alpha/__init__.py": "", "src/_alpha/__init__.py": ""},
            {"alpha": "src/alpha"},
        ),
        (
            '[project]\nname = "alpha"\n',
            {"alpha/__init__.py": "", "docs/conf.py": "", "tests/__init__.py": "", "setup_helpers/x.txt": "", "conftest.py": ""},
            None,  # a flat layout with two top-level packages (alpha, setup_helpers): setuptools refuses to build it
        ),
        (
            '[project]\nname = "alpha"\n',
            {
                "alpha/__init__.py": "",
                "docs/conf.py": "",
                "tests/__init__.py": "",
                "examples/x.py": "",
                "conftest.py": "",
                "noxfile.py": "",
            },
            {"alpha": "alpha"},
        ),
    ],
    ids=["setuptools-lists", "setuptools-find", "setuptools-include", "hatch", "poetry", "flit", "flat-ambiguous", "flat-reserved-names"],
)
def test_shipped_names_follow_the_build_configuration(
    tmp_path: Path, config: str, files: dict[str, str], expected: dict[str, str] | None
) -> None:
    repo, commit = commit_of(tmp_path, {"pyproject.toml": config, **files})
    root = sorted(expected.values())[-1] if expected else "alpha"

    with repo:
        shipped = shipped_names(repo.object_store, commit, root)

    assert (shipped.names if shipped else None) == expected


def test_a_project_configured_by_setup_py_alone_has_no_answer(tmp_path: Path) -> None:
    repo, commit = commit_of(
        tmp_path, {"setup.py": "from setuptools import setup\nsetup(packages=['alpha', 'beta'])\n", "src/alpha/__init__.py": ""}
    )

    with repo:
        assert shipped_names(repo.object_store, commit, "src/alpha") is None


def test_the_nearest_project_above_the_root_is_the_one_read(tmp_path: Path) -> None:
    repo, commit = commit_of(
        tmp_path,
        {
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "packages/inner/pyproject.toml": '[project]\nname = "inner"\n',
            "packages/inner/src/inner/__init__.py": "",
            "packages/inner/src/inner_extra.py": "",
        },
    )

    with repo:
        shipped = shipped_names(repo.object_store, commit, "packages/inner/src/inner")

    assert shipped is not None
    assert (shipped.distribution, shipped.project_dir) == ("inner", "packages/inner")
    assert shipped.names == {"inner": "packages/inner/src/inner", "inner_extra": "packages/inner/src/inner_extra.py"}


def test_add_with_a_token_in_the_url_writes_also_without_it(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("wholedist").replace("http://", f"http://{PRIVATE_USER}:{PRIVATE_TOKEN}@")

    result = project.cli("add", "wholepkg", f"{url}@v1.0.0:src")

    assert result.code == 0, result.err
    assert 'also = ["_wholepkg", "wholepy"]' in project.config_path.read_text()
    assert PRIVATE_TOKEN not in project.config_path.read_text() + result.out + result.err + (project.lock_text() or "")


def test_the_note_for_a_url_with_a_token_writes_the_url_without_it(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("wholedist").replace("http://", f"http://{PRIVATE_USER}:{PRIVATE_TOKEN}@")
    project.configure({"wholepkg": f"{url}@v1.0.0:src"})

    err = synced(project)

    assert f'wholepkg = {{ git = "{private_server.repo_url("wholedist")}", ref = "v1.0.0"' in err
    assert PRIVATE_TOKEN not in err
