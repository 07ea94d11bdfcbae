"""The shared cache keeps to itself: it is marked, it removes only what it made, and edits of a project do not race.

- ``cache clean`` must never remove a folder gitimport did not make (a
  ``cache-dir`` pointed at a home folder), and sync must never mark one as
  its own;
- eight ``gitimport add`` at once must leave eight modules in the config and
  eight entries in the lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet

from gitimport.project.config import load_config
from gitimport.project.lock import read_lock
from gitimport.store import layout

SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"


def every_file(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` (lock and holder files included), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture
def fake_home(tmp_path: Path) -> Path:
    """A folder that is someone's home: a shell profile, a project, nothing of gitimport's."""
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    (home / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")
    (home / "work" / "notes.txt").write_text("do not lose me\n")
    return home


# CACHEDIR.TAG -------------------------------------------------------------------------


def test_cache_clean_refuses_a_folder_gitimport_did_not_create(project: Project, fake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(fake_home))
    before = every_file(fake_home)

    result = project.cli("cache", "clean")

    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), result.err
    assert f"The cache folder {fake_home} holds files gitimport did not create (.bashrc, work)" in lines[0]
    assert "cache-dir" in lines[1] and "GITIMPORT_CACHE_DIR" in lines[1]
    assert every_file(fake_home) == before
    assert sorted(p.name for p in fake_home.iterdir()) == [".bashrc", "work"]


def test_sync_neither_writes_into_nor_marks_a_folder_gitimport_did_not_create(
    project: Project, fake_home: Path, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(fake_home))
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 2 and "holds files gitimport did not create" in result.err, result.err
    assert sorted(p.name for p in fake_home.iterdir()) == [".bashrc", "work"]  # no tag, no repos-v1, nothing
    assert project.lock_text() is None
    assert project.cli("cache", "clean").code == 2 and (fake_home / ".bashrc").is_file()


def test_gc_refuses_a_folder_gitimport_did_not_create(project: Project, fake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fake_home / layout.TREES / "photos").mkdir(parents=True)  # a name gc collects, in a folder that is not a cache
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(fake_home))
    before = every_file(fake_home)

    for args in (("gc",), ("gc", "--dry-run")):
        result = project.cli(*args)
        assert result.code == 2 and "holds files gitimport did not create" in result.err, result.err

    assert every_file(fake_home) == before and (fake_home / layout.TREES / "photos").is_dir()


def test_a_cache_gitimport_created_is_tagged_and_cache_clean_removes_it(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0

    tag = (project.cache / layout.TAG).read_text(encoding="utf-8")
    assert tag.splitlines()[0] == SIGNATURE and "gitimport" in tag.splitlines()[1]
    result = project.cli("cache", "clean")

    assert result.code == 0, result.err
    assert result.out.startswith(f"Removed {project.cache} (")
    assert not project.cache.exists()


def test_an_empty_folder_named_as_cache_dir_is_tagged_and_used(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    project.cache.mkdir()
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})

    assert project.cli("sync").code == 0

    assert (project.cache / layout.TAG).read_text(encoding="utf-8").startswith(SIGNATURE)


def test_a_cache_of_an_earlier_gitimport_without_a_tag_is_adopted(project: Project, fixture_repos: FixtureSet) -> None:
    """Every entry is a name of the layout: the folder is gitimport's, so it is tagged on first use, and cleaned."""
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    (project.cache / layout.TAG).unlink()  # as an earlier gitimport left it
    assert set(os.listdir(project.cache)) <= set(layout.ENTRIES)

    assert project.cli("sync").code == 0
    assert project.cli("sync", "--upgrade").code == 0  # takes the repository's lock: the cache is written to

    assert (project.cache / layout.TAG).is_file()
    (project.cache / layout.TAG).unlink()
    assert project.cli("cache", "clean").code == 0 and not project.cache.exists()


def test_cache_clean_leaves_a_file_someone_put_in_a_tagged_cache(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    (project.cache / "README.txt").write_text("mine\n")

    result = project.cli("cache", "clean")

    assert result.code == 0, result.err
    assert sorted(os.listdir(project.cache)) == [layout.TAG, "README.txt"]
    assert "kept what gitimport did not create: README.txt" in result.out
    assert project.cli("sync").code == 0 and project.cli("verify").code == 0


# Concurrent add -------------------------------------------------------------------------

PROCESSES = 8


def test_eight_adds_at_once_keep_every_module_in_the_config_and_the_lock(project: Project, fixture_repos: FixtureSet) -> None:
    toolbox, other = fixture_repos["toolbox"].path, fixture_repos["other"].path
    specs = [f"{toolbox}@v1:tools/helper.py", f"{toolbox}@v2:src", f"{toolbox}@v10:lib", f"{other}@v1:othermod.py"] * 2
    project.config_path.write_text("# the team's modules\n[modules]\n")
    command = [sys.executable, "-m", "gitimport", "add", "-q"]

    running = [
        subprocess.Popen(
            [*command, f"m{i}", spec], cwd=project.root, env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for i, spec in enumerate(specs)
    ]
    results = [(proc.wait(timeout=300), proc.stderr.read() if proc.stderr else "") for proc in running]

    assert all(code == 0 for code, _ in results), results
    names = {f"m{i}" for i in range(PROCESSES)}
    assert set(load_config(project.config_path).modules) == names
    assert set(read_lock(project.lock_path).modules) == names
    assert project.config_path.read_text().startswith("# the team's modules\n")
    assert project.cli("sync", "--locked").code == 0 and project.cli("verify").code == 0


def test_the_project_lock_is_re_entrant_in_one_process_and_exclusive_between_processes(project: Project) -> None:
    from gitimport.store.cache import project_lock

    take = f"from pathlib import Path\nfrom gitimport.store.cache import project_lock\nheld = project_lock(Path({str(project.cache)!r}), Path({str(project.config_path)!r}))\n"
    nested = "import time\nwith held:\n    with project_lock(Path({0!r}), Path({1!r})):\n        print('held', flush=True)\n        time.sleep(30)\n"
    holder = subprocess.Popen(
        [sys.executable, "-c", take + nested.format(str(project.cache), str(project.config_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"  # taken twice in one process: no deadlock
        waiter = subprocess.run(
            [sys.executable, "-c", take + "with held:\n    pass\n"],
            env={**os.environ, "GITIMPORT_LOCK_TIMEOUT": "0.5"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()

    assert waiter.returncode != 0 and f"held by process {holder.pid}" in waiter.stderr
    with project_lock(project.cache, project.config_path), project_lock(project.cache, project.config_path):
        pass  # free again once the holder is gone


def test_syncs_and_adds_at_once_keep_every_module(project: Project, fixture_repos: FixtureSet) -> None:
    """A plain sync reads the config again under the project's lock, so it never drops a module an `add` just wrote."""
    toolbox = fixture_repos["toolbox"].path
    project.configure({"base": f"{toolbox}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    commands = [command for i in range(4) for command in (["add", "-q", f"m{i}", f"{toolbox}@v2:src"], ["sync", "-q", "--upgrade"])]
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "gitimport", *command],
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]

    assert all(process.wait(timeout=300) == 0 for process in running), [p.stderr.read() for p in running if p.stderr]
    assert set(read_lock(project.lock_path).modules) == {"base", "m0", "m1", "m2", "m3"}
    assert set(load_config(project.config_path).modules) == {"base", "m0", "m1", "m2", "m3"}
