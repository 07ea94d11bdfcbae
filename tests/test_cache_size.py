"""A cache that stays within a size: `cache size`, `gc --dry-run` and `gc --max-size` (issue 13, point 3).

Sizes count every file once: a tree's files are hard links into the blob and
bytecode stores.  "Last used" is the mtime of an entry, set by sync; the
tests set it by hand where the order matters, as days of use would.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet

from gitimport import atomic
from gitimport.store import layout


def unique_bytes(root: Path, without: str = "") -> int:
    """What the cache holds, every file (hard links included) counted once; ``without`` a top-level folder."""
    seen: dict[tuple[int, int], int] = {}
    for path in root.rglob("*"):
        if without and path.relative_to(root).parts[0] == without:
            continue
        if path.is_symlink() or path.is_file():
            status = path.lstat()
            seen[(status.st_dev, status.st_ino)] = status.st_size
    return sum(seen.values())


def tree_of(project: Project, name: str) -> Path:
    return Path(project.cli("which", name).out.strip()).parent


def age(path: Path, days: float) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


@pytest.fixture
def three_unused_trees(project: Project, fixture_repos: FixtureSet) -> tuple[Project, dict[str, Path]]:
    """helper at v1, v2 and v10, synced one after the other: the first two are left unused, the third is locked."""
    url = fixture_repos["toolbox"].path
    trees = {}
    for ref in ("v1", "v2", "v10"):
        project.configure({"helper": f"{url}@{ref}:tools/helper.py"})
        assert project.cli("sync").code == 0
        trees[ref] = tree_of(project, "helper")
    age(trees["v1"], 30)
    age(trees["v2"], 10)
    return project, trees


def test_cache_size_counts_every_file_once(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"mylib": f"{fixture_repos['toolbox'].path}@v1:src"})
    project.cli("sync")

    data = json.loads(project.cli("cache", "size", "--json").out)

    assert data["bytes"] == unique_bytes(project.cache) == sum(data["sections"].values())
    assert data["sections"][layout.BLOBS] > 0  # the tree's files are shown where their one copy lives


def test_cache_size_says_what_gc_would_free(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, _trees = three_unused_trees

    shown = project.cli("cache", "size")
    data = json.loads(project.cli("cache", "size", "--json").out)
    before = unique_bytes(project.cache, without=layout.LOCKS)  # gc's own file locks come and go
    project.cli("gc")

    assert data["gc"]["entries"] >= 2
    assert data["gc"]["bytes"] == before - unique_bytes(project.cache, without=layout.LOCKS)
    assert "that no known lock file uses" in shown.out.splitlines()[-1]


def test_gc_dry_run_counts_the_store_copies_a_real_gc_frees(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, _trees = three_unused_trees
    dry = project.cli("gc", "--dry-run")
    before = unique_bytes(project.cache, without=layout.LOCKS)

    real = project.cli("gc")

    freed = before - unique_bytes(project.cache, without=layout.LOCKS)
    dry_freed = dry.out.splitlines()[-1].split("(")[1].split(" would be freed")[0]
    real_freed = real.out.splitlines()[-1].split("(")[1].split(" freed")[0]
    assert freed > 0 and dry_freed == real_freed
    assert json.loads(project.cli("cache", "size", "--json").out)["gc"]["bytes"] == 0


def test_max_size_removes_the_least_recently_used_first(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, trees = three_unused_trees
    limit = unique_bytes(project.cache) - 1  # one entry must go; gc counts the lock holders too, whose size varies with the command line

    result = project.cli("gc", "--max-size", str(limit))

    assert result.code == 0, result.err
    assert not trees["v1"].exists()  # the oldest use
    assert trees["v2"].exists() and trees["v10"].exists()
    assert unique_bytes(project.cache, without=layout.LOCKS) <= limit
    assert "the cache holds" in result.out.splitlines()[-1]


def test_max_size_that_already_fits_removes_nothing(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, _trees = three_unused_trees
    before = project.cache_files()

    result = project.cli("gc", "--max-size", "1GiB")

    assert result.code == 0 and project.cache_files() == before
    assert result.out.splitlines()[-1].startswith("Removed 0 cache entries")


def test_max_size_never_removes_what_a_lock_uses_unless_asked(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, trees = three_unused_trees

    kept = project.cli("gc", "--max-size", "1")

    assert kept.code == 0
    assert trees["v10"].exists() and not trees["v1"].exists() and not trees["v2"].exists()
    assert "warning: the cache still holds" in kept.err and "--include-locked" in kept.err
    assert project.python("import helper; print(helper.VERSION)").stdout.strip() == "3"

    evicted = project.cli("gc", "--max-size", "1", "--include-locked")

    assert evicted.code == 0 and not trees["v10"].exists()
    assert project.python("import helper; print(helper.VERSION)").stdout.strip() == "3"  # fetched again on the cold path


def test_max_size_dry_run_removes_nothing(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    project, _trees = three_unused_trees
    before = project.cache_files()

    result = project.cli("gc", "--max-size", "1", "--dry-run")

    assert result.code == 0 and project.cache_files() == before
    assert "Would remove" in result.out and "would hold" in result.out


def test_cache_max_size_is_the_default_of_gc(three_unused_trees: tuple[Project, dict[str, Path]], fixture_repos: FixtureSet) -> None:
    project, trees = three_unused_trees
    limit = unique_bytes(project.cache) - 1
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v10:tools/helper.py"}, settings=f"cache-max-size = {limit}")

    project.cli("gc")

    assert not trees["v1"].exists() and trees["v2"].exists()


@pytest.mark.parametrize("size", ["2 TB", "-1", "0", "lots"])
def test_a_bad_max_size_is_refused(project: Project, size: str) -> None:
    result = project.cli("gc", "--max-size", size)

    assert result.code == 2
    assert f"--max-size {size!r} is not a size." in result.err


def test_a_bad_cache_max_size_is_refused(project: Project) -> None:
    project.configure({}, settings='cache-max-size = "huge"')

    result = project.cli("gc")

    assert result.code == 2 and "'cache-max-size' must be a positive size" in result.err


def test_include_locked_needs_a_size(project: Project) -> None:
    result = project.cli("gc", "--include-locked")

    assert result.code == 2 and "--include-locked needs a size" in result.err


def test_a_no_op_sync_marks_what_it_serves_as_used(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")
    tree = tree_of(project, "helper")
    age(tree, 30)

    result = project.cli("sync")

    assert result.out.startswith("Nothing to do")
    assert time.time() - tree.stat().st_mtime < 3600


def test_a_warm_import_writes_nothing(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")
    assert project.python("import helper").returncode == 0  # the first import writes the module's .pyc
    tree = tree_of(project, "helper")
    age(tree, 30)
    before = tree.stat().st_mtime

    assert project.python("import helper").returncode == 0
    assert tree.stat().st_mtime == before


def test_max_size_leaves_a_running_processs_temporary_alone(three_unused_trees: tuple[Project, dict[str, Path]]) -> None:
    """A folder being written by a live process (here: this one) is no entry yet, however full the cache is."""
    project, _trees = three_unused_trees
    staging = project.cache / layout.TREES / atomic.temporary_name("0" * 40 + "-half")
    staging.mkdir()
    (staging / "half.py").write_text("x = 1\n")

    result = project.cli("gc", "--max-size", "1", "--include-locked")

    assert result.code == 0, result.err
    assert staging.is_dir()
