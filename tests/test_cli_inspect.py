"""The listings: `list`, `status`, `outdated`, `show`, `which`, `why`, `verify`, as text and as --json (docs/commands.md)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet, add_commit, set_tag
from support.servers import Server

from gitimport.store import layout


@pytest.fixture
def synced(project: Project, mutable_repos: FixtureSet) -> Project:
    """helper at tag v1, mylib at tag v2 and rootmod on branch main, all from a toolbox copy we may change."""
    url = mutable_repos["toolbox"].path
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v2:src", "rootmod": f"{url}@main:lib"})
    assert project.cli("sync").code == 0
    return project


@pytest.fixture
def installed_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution `helper` 1.2 on the target interpreter's sys.path."""
    site = tmp_path / "site-packages"
    (site / "helper-1.2.dist-info").mkdir(parents=True)
    (site / "helper.py").write_text("VERSION = 'installed'\n")
    (site / "helper-1.2.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: helper\nVersion: 1.2\n")
    (site / "helper-1.2.dist-info" / "RECORD").write_text("helper.py,,\nhelper-1.2.dist-info/METADATA,,\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


# list ----------------------------------------------------------------------------


def test_list_json_gives_full_commits_and_cache_state(synced: Project, mutable_repos: FixtureSet) -> None:
    shutil.rmtree(synced.cache / layout.TREES)

    result = synced.cli("list", "--json")

    items = json.loads(result.out)
    assert [item["name"] for item in items] == ["helper", "mylib", "rootmod"]
    assert items[0] == {
        "name": "helper",
        "spec": f"{mutable_repos['toolbox'].path}@v1:tools/helper.py",
        "commit": mutable_repos["toolbox"].tags["v1"],
        "kind": "module",
        "cached": False,
    }


# status ----------------------------------------------------------------------------


def test_status_of_a_synced_project_is_all_ok(synced: Project) -> None:
    result = synced.cli("status", "--check")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["helper", "mylib", "rootmod"]
    assert all(line.endswith("ok") for line in lines[:3])
    assert lines[-1] == "Everything is up to date."


def test_status_check_exits_3_on_a_moved_tag(synced: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    set_tag(repo.path, "v1", repo.by_tree["c3"])

    result = synced.cli("status", "--check")

    assert result.code == 3
    assert f"tag v1 moved to {repo.by_tree['c3'][:12]}" in result.out and "--upgrade helper" in result.out
    assert result.err.startswith("error: 1 module out of date: helper.") and "hint:" in result.err


def test_status_without_check_reports_but_exits_0(synced: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    set_tag(repo.path, "v1", repo.by_tree["c3"])

    result = synced.cli("status")

    assert result.code == 0
    assert "moved" in result.out and result.out.splitlines()[-1] == "1 module out of date."


def test_status_notes_a_branch_that_moved_on_without_failing_check(synced: Project, mutable_repos: FixtureSet) -> None:
    new = add_commit(mutable_repos["toolbox"].path, {"lib/rootmod.py": b"VERSION = 'new'\n"}, "change rootmod")

    result = synced.cli("status", "--check")

    assert result.code == 0
    assert f"rootmod: main is now at {new[:12]}" in result.out


def test_status_contacts_each_repository_once(project: Project, git_http_backend_server: Server) -> None:
    url = git_http_backend_server.repo_url("toolbox")
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v2:src"})
    project.cli("sync")
    git_http_backend_server.clear()

    assert project.cli("status").code == 0

    assert [r.command for r in git_http_backend_server.requests].count("ls-refs") == 1
    assert git_http_backend_server.fetches() == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("unlocked", "not in the lock"),
        ("changed", "spec changed since the lock"),
        ("uncached", "not in the cache"),
        ("unconfigured", "in the lock but no longer configured"),
    ],
)
def test_status_names_what_is_out_of_date(synced: Project, mutable_repos: FixtureSet, change: str, expected: str) -> None:
    url = mutable_repos["toolbox"].path
    modules = {"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v2:src", "rootmod": f"{url}@main:lib"}
    if change == "unlocked":
        modules["toplevel"] = f"{url}@v1"
    elif change == "changed":
        modules["mylib"] = f"{url}@v1:src"
    elif change == "uncached":
        shutil.rmtree(synced.cache / layout.TREES)
    else:
        del modules["rootmod"]
    synced.configure(modules)

    result = synced.cli("status", "--check")

    assert result.code == 3
    assert expected in result.out


def test_status_json(synced: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    set_tag(repo.path, "v2", repo.by_tree["c3"], annotated=True)

    result = synced.cli("status", "--json")

    data = json.loads(result.out)
    assert data["ok"] is False and data["remotes_checked"] is True and data["unreachable"] == []
    mylib = next(m for m in data["modules"] if m["name"] == "mylib")
    assert mylib["ok"] is False and mylib["commit"] == repo.tags["v2"]
    assert mylib["problems"] == [f"tag v2 moved to {repo.by_tree['c3'][:12]} (run `gitimport sync --upgrade mylib` to follow it)"]
    assert result.code == 0


def test_status_reports_a_pinned_name_that_shadows_an_installed_distribution(synced: Project, installed_helper: Path) -> None:
    result = synced.cli("status")

    assert result.code == 0
    assert f"helper: pinned, shadows installed helper 1.2 ({installed_helper / 'helper.py'})" in result.out


def test_status_asks_the_interpreter_given_with_python(synced: Project, installed_helper: Path, tmp_path: Path) -> None:
    import sys

    isolated = tmp_path / "python-without-pythonpath"
    isolated.write_text(f'#!/bin/sh\nunset PYTHONPATH\nexec {sys.executable} "$@"\n')
    isolated.chmod(0o755)

    default = synced.cli("status")
    other = synced.cli("status", "--python", str(isolated))

    assert "shadows installed helper 1.2" in default.out
    assert other.code == 0 and "shadows" not in other.out


def test_status_with_a_python_that_does_not_run_exits_1(synced: Project, tmp_path: Path) -> None:
    result = synced.cli("status", "--python", str(tmp_path / "no-such-python"))

    assert result.code == 1 and "no-such-python" in result.err and "--python" in result.err


def test_status_offline_does_not_contact_the_remote(project: Project, git_http_backend_server: Server) -> None:
    project.configure({"helper": f"{git_http_backend_server.repo_url('toolbox')}@v1:tools/helper.py"})
    project.cli("sync")
    git_http_backend_server.clear()

    result = project.cli("status", "--offline", "--check")

    assert result.code == 0
    assert git_http_backend_server.requests == []
    assert "moved tags were not checked" in result.out


def test_status_with_an_unreachable_remote_exits_1_after_reporting(synced: Project, mutable_repos: FixtureSet) -> None:
    shutil.rmtree(mutable_repos["toolbox"].path)

    result = synced.cli("status")

    assert result.code == 1
    assert "helper" in result.out
    assert "could not check the remote" in result.err and "hint:" in result.err


# outdated ----------------------------------------------------------------------------


def test_outdated_lists_newer_version_tags(synced: Project) -> None:
    result = synced.cli("outdated")

    assert result.code == 0, result.err
    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert lines["helper"].split() == ["helper", "v1", "latest", "v10", "newer:", "v2,", "v10"]
    assert lines["mylib"].split()[-2:] == ["newer:", "v10"]
    assert lines["rootmod"].endswith("not a version tag")


def test_outdated_json_of_one_module(synced: Project) -> None:
    result = synced.cli("outdated", "mylib", "--json")

    assert json.loads(result.out) == [{"name": "mylib", "ref": "v2", "current": "2", "latest": "v10", "newer": ["v10"]}]


def test_outdated_compares_versions_not_strings(synced: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    set_tag(repo.path, "v9.1", repo.by_tree["c3"])
    set_tag(repo.path, "v11.0rc1", repo.by_tree["c3"])  # a pre-release: not offered for a final release

    result = synced.cli("outdated", "helper", "--json")

    assert json.loads(result.out)[0]["newer"] == ["v2", "v9.1", "v10"]


def test_outdated_of_an_unknown_module_exits_2(synced: Project) -> None:
    result = synced.cli("outdated", "nosuch")

    assert result.code == 2 and "nosuch" in result.err and "hint:" in result.err


# show, which ----------------------------------------------------------------------------


def test_show_prints_the_full_commit_and_its_author_date_and_subject(synced: Project, mutable_repos: FixtureSet) -> None:
    result = synced.cli("show", "mylib")

    fields = dict(line.split(None, 1) for line in result.out.splitlines())
    assert fields["commit"] == mutable_repos["toolbox"].tags["v2"]
    assert fields["author"] == "Fixture <fixture@example.com>"
    assert fields["date"] == "2023-11-14T22:14:20+00:00"
    assert fields["subject"] == "toolbox 2"
    assert (fields["path"], fields["kind"]) == ("src/mylib", "package")
    assert fields["distribution"] == "toolbox 2.0.0"
    assert fields["cache"] == synced.cli("which", "mylib").out.strip()


def test_show_json(synced: Project, mutable_repos: FixtureSet) -> None:
    data = json.loads(synced.cli("show", "helper", "--json").out)

    assert data["commit"] == mutable_repos["toolbox"].tags["v1"]
    assert data["object"] and data["digest"].startswith("sha256:") and data["cached"] is True
    assert data["distribution"] == {"name": "toolbox", "version": "1.0.0"}


def test_show_without_the_bare_repository_still_shows_the_lock(synced: Project, mutable_repos: FixtureSet) -> None:
    shutil.rmtree(synced.cache / layout.REPOS)

    data = json.loads(synced.cli("show", "helper", "--json").out)

    assert data["commit"] == mutable_repos["toolbox"].tags["v1"] and data["author"] is None


def test_show_of_an_unlocked_module_exits_2(synced: Project) -> None:
    result = synced.cli("show", "nosuch")

    assert result.code == 2 and result.out == "" and "not a locked module" in result.err


def test_which_prints_only_a_path(synced: Project) -> None:
    out = synced.cli("which", "helper").out

    assert out.count("\n") == 1 and Path(out.strip()).is_file() and Path(out.strip()).name == "helper.py"


# why ----------------------------------------------------------------------------


def test_why_a_pinned_module(synced: Project, mutable_repos: FixtureSet) -> None:
    result = synced.cli("why", "mylib")

    assert result.code == 0, result.err
    first = result.out.splitlines()[0]
    assert first.startswith("mylib: served by gitimport from ") and first.endswith("/mylib/__init__.py")
    assert mutable_repos["toolbox"].tags["v2"][:12] in result.out


def test_why_a_submodule_inside_a_pinned_package(synced: Project) -> None:
    data = json.loads(synced.cli("why", "mylib.sub.deep", "--json").out)

    assert data["served_by"] == "gitimport" and data["origin"].endswith(os.path.join("mylib", "sub", "deep.py"))
    assert data["pinned"]["module"] == "mylib"


def test_why_a_pinned_name_that_is_also_installed_says_gitimport_wins(synced: Project, installed_helper: Path) -> None:
    result = synced.cli("why", "helper")

    assert "helper: served by gitimport" in result.out
    assert f"it wins over installed helper 1.2 ({installed_helper / 'helper.py'})" in result.out
    assert "before the path finder" in result.out


def test_why_a_name_only_on_sys_path(synced: Project, installed_helper: Path) -> None:
    synced.configure({})

    data = json.loads(synced.cli("why", "helper", "--json").out)

    assert data["served_by"] == "sys.path" and data["origin"] == str(installed_helper / "helper.py")
    assert data["other"]["distribution"] == "helper" and data["other"]["version"] == "1.2"


def test_why_a_pinned_name_that_a_built_in_module_wins_over(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"sys": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")

    data = json.loads(project.cli("why", "sys", "--json").out)

    assert data["served_by"] == "built-in"
    assert any("wins" in reason for reason in data["reasons"])


def test_why_of_a_name_nothing_provides_exits_2(synced: Project) -> None:
    result = synced.cli("why", "no_such_module_anywhere")

    assert result.code == 2 and "Nothing would import 'no_such_module_anywhere'" in result.err and "hint:" in result.err


# verify ----------------------------------------------------------------------------


def test_verify_json_reports_a_modified_file(synced: Project) -> None:
    core = Path(synced.cli("which", "mylib").out.strip()) / "core.py"
    os.chmod(core, 0o644)
    core.write_text("tampered = True\n")

    result = synced.cli("verify", "--json")

    data = json.loads(result.out)
    assert result.code == 1
    assert data["ok"] is False and data["modules"]["helper"] == []
    assert data["modules"]["mylib"] == [f"{core} was modified"]
    assert result.err.startswith("error: Verification failed for mylib.")
