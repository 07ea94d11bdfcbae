"""A damaged bare repository in the cache mends itself: sync fetches it again, and --repair finds damage the trees hide.

The bare repositories are only a cache of what the server has.  A pack that
went missing (what an upgrade fetched on top of it then lacks the objects it
shared) or an object whose bytes changed on disk must not poison every later
sync, import and repair once the server is fine.  A missing blob is fetched
(partial fetches leave blobs out on purpose); an object that is there but no
longer hashes to its id is damage, and the repository is fetched again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.project import Project, ok
from support.repos import FixtureSet
from support.servers import NO_FILTER_CONFIG, Server

from gitimport.project.lock import read_lock
from gitimport.store import layout


def packs(project: Project) -> list[Path]:
    (repo,) = (project.cache / layout.REPOS).iterdir()
    return sorted((repo / "objects" / "pack").glob("*.pack"), key=lambda p: p.stat().st_mtime_ns)


def drop_trees(project: Project) -> None:
    shutil.rmtree(project.cache / layout.TREES, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o755), f(p)))


def lose_the_first_pack(project: Project) -> None:
    """Delete the pack the upgrade built on, and the trees, so sync must read the repository again."""
    first, _ = packs(project)
    first.unlink()
    first.with_suffix(".idx").unlink()
    drop_trees(project)


@pytest.fixture
def upgraded(project: Project, serve, fixture_repos: FixtureSet) -> Project:  # type: ignore[no-untyped-def]
    """mylib synced at v1, then at v2: the second fetch brought only what v2 changed, on top of v1's pack.

    The server does not filter, so each sync fetches whole commits (one pack
    each) and v2's pack lacks the trees it shares with v1.  (A partial fetch,
    where a missing blob is fetched rather than taken for damage: test_partial_fetch.py.)
    """
    url = f"{serve('git-http-backend', fixture_repos.root, git_config=NO_FILTER_CONFIG).url}/toolbox"
    project.configure({"mylib": f"{url}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    project.configure({"mylib": f"{url}@v2:src"})
    assert project.cli("sync", "-q").code == 0
    assert len(packs(project)) == 2
    return project


def test_sync_fetches_again_when_the_pack_an_upgrade_built_on_is_gone(upgraded: Project) -> None:
    lose_the_first_pack(upgraded)
    before = upgraded.lock_text()

    result = upgraded.cli("sync")

    assert result.code == 0, result.err
    # what v2 shared with v1 is missing, not damaged: fetched again without a word of damage
    assert "damaged" not in result.err and "Fetched" in result.out
    assert upgraded.lock_text() == before
    assert upgraded.cli("verify").code == 0


def test_an_import_on_the_cold_path_recovers_from_a_damaged_repository(upgraded: Project) -> None:
    lose_the_first_pack(upgraded)

    assert ok(upgraded.python("import mylib; print(mylib.VERSION)")) == "2\n"


def corrupt(pack: Path) -> None:
    """Overwrite bytes in the middle of a pack: its objects no longer inflate or hash to their ids."""
    os.chmod(pack, 0o644)
    data = bytearray(pack.read_bytes())
    for offset in range(12, len(data) - 20, 7):
        data[offset] ^= 0xFF
    pack.write_bytes(bytes(data))


def test_sync_fetches_again_when_a_cached_pack_is_corrupt(project: Project, git_http_backend_server: Server) -> None:
    project.configure({"mylib": f"{git_http_backend_server.url}/toolbox@v1:src"})
    assert project.cli("sync", "-q").code == 0
    for pack in packs(project):  # the commit and trees, and the blobs (a partial fetch)
        corrupt(pack)
    drop_trees(project)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert "fetching it again" in result.err
    assert project.cli("verify").code == 0


def test_repair_finds_a_damaged_repository_behind_intact_trees(project: Project, git_http_backend_server: Server) -> None:
    project.configure({"mylib": f"{git_http_backend_server.url}/toolbox@v1:src"})
    assert project.cli("sync", "-q").code == 0
    for pack in packs(project):  # the commit and trees, and the blobs (a partial fetch)
        corrupt(pack)

    repaired = project.cli("sync", "--repair")

    assert repaired.code == 0, repaired.err
    assert "repairing" in repaired.err and "is corrupt" in repaired.err
    assert not list((project.cache / layout.REPOS).iterdir())  # the damaged copy is gone; the next need fetches it
    drop_trees(project)
    assert project.cli("sync", "-q").code == 0
    assert read_lock(project.lock_path).modules["mylib"].path == "src/mylib"


def test_offline_a_repository_that_lost_objects_is_one_clear_error(upgraded: Project) -> None:
    lose_the_first_pack(upgraded)
    before = upgraded.lock_text()

    result = upgraded.cli("sync", "--offline")

    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines[0] == "error: Offline mode, but mylib is not in the cache." and lines[-1].startswith("hint: ") and len(lines) == 2
    assert upgraded.lock_text() == before
