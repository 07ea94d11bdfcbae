"""Cache maintenance and vendoring: `gc`, `cache dir|size|clean`, `vendor DIR`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet

from gitimport.project.lock import read_lock
from gitimport.store import layout


def sync_in(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.root)
    assert project.cli("sync").code == 0


def cache_entries(project: Project, section: str) -> list[str]:
    folder = project.cache / section
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# gc ----------------------------------------------------------------------------


def test_gc_keeps_what_every_known_lock_references(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Project(tmp_path / "other-project", project.cache)
    other.root.mkdir()
    other.configure({"othermod": f"{fixture_repos['other'].path}@v1"})
    sync_in(other, monkeypatch)
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    sync_in(project, monkeypatch)
    before = project.cache_files()

    result = project.cli("gc")

    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "Removed 0 cache entries (0 B freed); kept what 2 lock files reference"
    assert project.cache_files() == before
    assert other.python("import othermod; print(othermod.VERSION)").stdout.strip() == "1"


def test_gc_removes_what_no_lock_references_any_more(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.configure({"helper": f"{url}@v1:tools/helper.py", "othermod": f"{fixture_repos['other'].path}@v1"})
    project.cli("sync")
    othermod_tree = Path(project.cli("which", "othermod").out.strip()).parent.name
    project.cli("remove", "othermod")

    result = project.cli("gc")

    assert result.code == 0, result.err
    assert f"  {layout.TREES}/{othermod_tree}" in result.out
    assert othermod_tree not in cache_entries(project, layout.TREES)
    assert len(cache_entries(project, layout.REPOS)) == 1  # toolbox's bare repository stays
    assert "freed" in result.out.splitlines()[-1] and "Removed 3 cache entries" in result.out
    assert project.cli("verify").code == 0
    assert project.cli("sync", "--offline").code == 0  # nothing the project needs was removed


def test_gc_dry_run_removes_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")
    project.configure({"rootmod": f"{fixture_repos['toolbox'].path}@v2:lib"})
    project.cli("sync")
    before = project.cache_files()

    result = project.cli("gc", "--dry-run")

    assert result.code == 0
    # helper's tree, its distribution and the record linking them; the bare repository serves rootmod
    assert "Would remove 3 cache entries" in result.out and "would be freed" in result.out
    assert project.cache_files() == before


def test_gc_forgets_a_lock_file_that_was_deleted(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = Project(tmp_path / "gone", project.cache)
    gone.root.mkdir()
    gone.configure({"othermod": f"{fixture_repos['other'].path}@v1"})
    sync_in(gone, monkeypatch)
    gone.lock_path.unlink()
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    sync_in(project, monkeypatch)

    result = project.cli("gc")

    assert f"Forgot {gone.lock_path} (it no longer exists)" in result.out
    assert str(gone.lock_path) not in (project.cache / layout.PROJECTS).read_text()
    assert len(cache_entries(project, layout.REPOS)) == 1


def test_gc_removes_pins_whose_tree_it_removes(project: Project, fixture_repos: FixtureSet) -> None:
    commit = fixture_repos["other"].commits[0]
    run = project.python(f"from gitimport.pin import pin; print(pin('{fixture_repos['other'].path}@{commit}', name='othermod').VERSION)")
    assert run.stdout.strip() == "0", run.stderr
    assert cache_entries(project, layout.PINS)

    result = project.cli("gc")

    assert result.code == 0
    assert cache_entries(project, layout.PINS) == [] and cache_entries(project, layout.TREES) == []


# cache dir, size, clean ----------------------------------------------------------------


def test_cache_dir_prints_the_configured_folder(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITIMPORT_CACHE_DIR")
    project.config_path.write_text('cache-dir = "../shared-cache"\n[modules]\n')

    result = project.cli("cache", "dir")

    assert Path(result.out.strip()).resolve() == (tmp_path / "shared-cache").resolve()
    assert result.out.count("\n") == 1


def test_cache_size_is_human_readable(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")

    first = project.cli("cache", "size").out.splitlines()[0]

    assert first.endswith(f" KiB in {project.cache}")


def test_cache_clean_removes_everything_and_sync_rebuilds_it(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")

    result = project.cli("cache", "clean")

    assert result.code == 0
    assert result.out.startswith(f"Removed {project.cache} (") and result.out.rstrip().endswith("freed)")
    assert not project.cache.exists()
    assert project.cli("sync").code == 0 and project.cli("verify").code == 0


def test_cache_clean_of_a_missing_cache(project: Project) -> None:
    result = project.cli("cache", "clean")

    assert result.code == 0 and "Nothing to remove" in result.out


# vendor ----------------------------------------------------------------------------


@pytest.fixture
def vendorable(project: Project, fixture_repos: FixtureSet) -> Project:
    url = fixture_repos["toolbox"].path
    project.configure(
        {
            "anyname": f"{url}@v1:tools/helper.py",
            "mylib": f"{url}@v2:src",
            "acme.tools": f"{url}@v2:tools/helper.py",
            "nsdir": f"{url}@v1:nsdir",
        }
    )
    assert project.cli("sync").code == 0
    return project


def test_vendored_modules_import_from_the_folder_alone(vendorable: Project, tmp_path: Path) -> None:
    target = tmp_path / "vendored"

    result = vendorable.cli("vendor", str(target))

    assert result.code == 0, result.err
    code = "import anyname, mylib, acme.tools, nsdir.portion_a; print(anyname.VERSION, mylib.add(2, 3), acme.tools.VERSION, mylib.__file__)"
    run = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "5", "2", str(target / "mylib" / "__init__.py")]


def test_vendor_writes_plain_files_without_bytecode(vendorable: Project, tmp_path: Path) -> None:
    target = tmp_path / "vendored"

    vendorable.cli("vendor", str(target))

    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if not p.is_dir())
    assert "anyname.py" in files and "mylib/core.py" in files and "acme/tools.py" in files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    assert (target / "mylib" / "core.py").stat().st_mode & 0o200
    assert (target / "mylib" / "link.txt").is_symlink()


def test_vendor_manifest_records_spec_commit_digest_and_path(vendorable: Project, tmp_path: Path, fixture_repos: FixtureSet) -> None:
    target = tmp_path / "vendored"

    vendorable.cli("vendor", str(target))

    manifest = json.loads((target / "gitimport-vendor.json").read_text())
    lock = read_lock(vendorable.lock_path)
    by_name = {item["name"]: item for item in manifest["modules"]}
    assert by_name["anyname"] == {
        "name": "anyname",
        "spec": lock.modules["anyname"].spec,
        "commit": fixture_repos["toolbox"].tags["v1"],
        "digest": lock.modules["anyname"].digest,
        "path": "anyname.py",
    }
    assert by_name["acme.tools"]["path"] == "acme/tools.py" and by_name["mylib"]["path"] == "mylib"


def test_vendor_refuses_a_non_empty_folder_unless_forced(vendorable: Project, tmp_path: Path) -> None:
    target = tmp_path / "vendored"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    refused = vendorable.cli("vendor", str(target))
    assert refused.code == 2 and "is not empty" in refused.err and "--force" in refused.err
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]

    forced = vendorable.cli("vendor", str(target), "--force")
    assert forced.code == 0, forced.err
    assert (target / "keep.txt").read_text() == "mine" and (target / "mylib" / "__init__.py").is_file()


def test_vendor_refuses_a_module_that_fails_verification(vendorable: Project, tmp_path: Path) -> None:
    import os

    core = Path(vendorable.cli("which", "mylib").out.strip()) / "core.py"
    os.chmod(core, 0o644)
    core.write_text("tampered = True\n")

    result = vendorable.cli("vendor", str(tmp_path / "vendored"))

    assert result.code == 1 and "fails verification" in result.err and "--repair" in result.err
    assert not (tmp_path / "vendored").exists()


def test_vendor_of_an_unsynced_project_exits_2(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})

    result = project.cli("vendor", str(tmp_path / "vendored"))

    assert result.code == 2 and "gitimport sync" in result.err
