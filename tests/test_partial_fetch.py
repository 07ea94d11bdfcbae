"""A cold sync fetches only what PATH needs (docs/how-it-works.md#partial-fetch).

Where the server filters (protocol v2 with ``filter``: git http-backend and
git daemon with ``uploadpack.allowFilter``), sync asks for the commit and its
trees without blobs, then, by id and in one request, for the blobs below the
imported root and the project files on the way to it.  Every other server
(filtering switched off, dulwich's own protocol v0 server) sends the whole
commit, as before.  Either way the module imports the same, and everything is
verified as before: objects re-hashed, trees walked from the commit, the digest.
``max-file-size`` goes to the server as a size filter, so a blob over it is
never sent.  The assertions look into the cache's bare repository to see
which blobs really arrived.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Commit
from dulwich.repo import Repo
from support.project import Project, ok
from support.repos import FixtureSet, add_commit
from support.servers import NO_FILTER_CONFIG, Server

from gitimport.project.lock import read_lock
from gitimport.store import layout

FILTERING = ["git-http-backend", "git-daemon"]
Serve = Callable[..., Server]  # the ``serve`` fixture


def blobs_of(repo_path: Path, commit: str) -> dict[str, bytes]:
    """Every file of a commit in a fixture repository: path -> blob id."""
    with Repo(str(repo_path)) as repo:
        tree = repo.object_store[commit.encode()]
        assert isinstance(tree, Commit)
        return {entry.path.decode(): entry.sha for entry in iter_tree_contents(repo.object_store, tree.tree)}


def cached_blobs(project: Project, files: dict[str, bytes]) -> set[str]:
    """The paths of ``files`` whose blob the cache's bare repository holds."""
    (repo_dir,) = (project.cache / layout.REPOS).iterdir()
    with Repo(str(repo_dir)) as repo:
        return {path for path, blob in files.items() if blob in repo.object_store}


def fetched_objects(out: str) -> int:
    (line,) = [line for line in out.splitlines() if line.startswith("Fetched")]
    return int(line.split(": ")[1].split()[0])


def fetch_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("fetch: ")]


@pytest.mark.parametrize("kind", FILTERING)
def test_a_cold_sync_brings_the_blobs_under_path_and_the_project_file_only(
    project: Project, fixture_repos: FixtureSet, serve: Serve, kind: str
) -> None:
    toolbox = fixture_repos["toolbox"]
    server = serve(kind, fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert fetch_lines(result.out) == [  # the wants: the tree src/mylib (for all its blobs) and pyproject.toml
        f"fetch: {server.repo_url('toolbox')}: commits and the trees near the root, filter combine:tree:3+blob:none; "
        "then the blobs, by id (2 wants), filter blob:limit=104857601"
    ]
    code = "import mylib, importlib.metadata as m; print(mylib.VERSION, m.version('toolbox'))"
    assert ok(project.python(code)) == "1 1.0.0\n"  # the .dist-info read pyproject.toml at the repository root
    files = blobs_of(toolbox.path, toolbox.tags["v1"])
    needed = {blob for path, blob in files.items() if path.startswith("src/") or path == "pyproject.toml"}
    held = cached_blobs(project, files)
    assert held == {path for path, blob in files.items() if blob in needed}
    assert {"toplevel.py", "tools/helper.py", "rootpkg/util.py"} <= set(files) - held


@pytest.mark.parametrize("server_kind", ["git-http-backend without filter", "dulwich-http"])
def test_a_server_that_does_not_filter_sends_the_whole_commit(
    project: Project, fixture_repos: FixtureSet, serve: Serve, server_kind: str
) -> None:
    toolbox = fixture_repos["toolbox"]
    if server_kind == "dulwich-http":
        server, why = serve("dulwich-http", fixture_repos.root), "protocol v0, in which dulwich sends no filter"
    else:
        server, why = serve("git-http-backend", fixture_repos.root, git_config=NO_FILTER_CONFIG), "the server does not advertise filter"
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert fetch_lines(result.out) == [f"fetch: {server.repo_url('toolbox')}: whole commits: {why}"]
    assert server.fetches("toolbox") == 1
    assert ok(project.python("import mylib; print(mylib.VERSION)")) == "1\n"
    files = blobs_of(toolbox.path, toolbox.tags["v1"])
    assert cached_blobs(project, files) == set(files)


def test_a_second_path_of_the_same_commit_fetches_only_its_missing_blobs(project: Project, fixture_repos: FixtureSet, serve: Serve) -> None:
    toolbox = fixture_repos["toolbox"]
    server = serve("git-http-backend", fixture_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"mylib": f"{url}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    files = blobs_of(toolbox.path, toolbox.tags["v1"])
    before = cached_blobs(project, files)
    server.clear()

    project.configure({"mylib": f"{url}@v1:src", "rootpkg": f"{url}@v1:rootpkg"})
    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert server.fetches("toolbox") == 1  # the commit is there: only the blobs are asked for
    rootpkg = {path for path in files if path.startswith("rootpkg/")}
    assert fetched_objects(result.out) == 1 + len(rootpkg)  # the tree rootpkg/ and its blobs, nothing already held
    assert cached_blobs(project, files) == before | rootpkg
    assert ok(project.python("import rootpkg, mylib; print(rootpkg.VERSION, mylib.VERSION)")) == "1 1\n"


def test_a_server_that_advertises_the_filter_but_sends_every_blob_still_works(
    project: Project, fixture_repos: FixtureSet, serve: Serve
) -> None:
    toolbox = fixture_repos["toolbox"]
    server = serve("git-http-backend", fixture_repos.root, ignore_filter=True)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert server.fetches("toolbox") == 1  # every blob came with the commit: nothing left to ask for
    files = blobs_of(toolbox.path, toolbox.tags["v1"])
    assert cached_blobs(project, files) == set(files)
    assert ok(project.python("import mylib; print(mylib.VERSION)")) == "1\n"


def test_a_partial_repository_is_not_damage_to_repair_and_serves_offline(project: Project, fixture_repos: FixtureSet, serve: Serve) -> None:
    server = serve("git-http-backend", fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    repo_dir = next((project.cache / layout.REPOS).iterdir())

    repaired = project.cli("sync", "--repair")

    assert repaired.code == 0, repaired.err
    assert "repairing" not in repaired.err and repo_dir.is_dir()  # blobs outside src/ are missing on purpose
    drop_trees(project)
    assert project.cli("sync", "--offline", "-q").code == 0  # the blobs it needs are all there
    assert ok(project.python("import mylib; print(mylib.VERSION)")) == "1\n"


def test_offline_a_path_whose_blobs_were_never_fetched_is_one_clear_error(
    project: Project, fixture_repos: FixtureSet, serve: Serve
) -> None:
    commit = fixture_repos["toolbox"].tags["v1"]
    server = serve("git-http-backend", fixture_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"mylib": f"{url}@{commit}:src"})
    assert project.cli("sync", "-q").code == 0
    before = project.lock_text()
    project.configure({"mylib": f"{url}@{commit}:src", "rootpkg": f"{url}@{commit}:rootpkg"})

    result = project.cli("sync", "--offline")

    assert result.code == 1
    assert result.err.splitlines() == [
        "error: Offline mode, but rootpkg is not in the cache.",
        "hint: run `gitimport sync` once with the network",
    ]
    assert project.lock_text() == before


def corrupt_packs(project: Project) -> None:
    """Flip bytes in every pack of the cache's repository: objects there no longer inflate or hash to their ids."""
    (repo_dir,) = (project.cache / layout.REPOS).iterdir()
    for pack in (repo_dir / "objects" / "pack").glob("*.pack"):
        os.chmod(pack, 0o644)
        data = bytearray(pack.read_bytes())
        for offset in range(12, len(data) - 20, 7):
            data[offset] ^= 0xFF
        pack.write_bytes(bytes(data))


def drop_trees(project: Project) -> None:
    shutil.rmtree(project.cache / layout.TREES, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o755), f(p)))


def test_a_blob_that_is_present_but_corrupt_is_still_damage(project: Project, fixture_repos: FixtureSet, serve: Serve) -> None:
    server = serve("git-http-backend", fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    corrupt_packs(project)

    repaired = project.cli("sync", "--repair")

    assert repaired.code == 0, repaired.err
    assert "repairing" in repaired.err and "is corrupt" in repaired.err
    drop_trees(project)
    assert project.cli("sync", "-q").code == 0  # fetched again, partially
    assert ok(project.python("import mylib; print(mylib.VERSION)")) == "1\n"


def test_the_lock_digest_still_holds_content_fetched_by_id(project: Project, fixture_repos: FixtureSet, serve: Serve) -> None:
    server = serve("git-http-backend", fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    digest = read_lock(project.lock_path).modules["mylib"].digest
    project.lock_path.write_text(project.lock_path.read_text().replace(digest, "sha256:" + "0" * 64))
    drop_trees(project)
    shutil.rmtree(project.cache / layout.REPOS)

    result = project.cli("sync")

    assert result.code == 1
    assert "but the lock says sha256:" + "0" * 64 in result.err
    assert not (project.cache / layout.TREES).exists() or not list((project.cache / layout.TREES).iterdir())


BIG = 3 * 1024 * 1024


def test_a_blob_over_max_file_size_under_path_is_never_sent(project: Project, mutable_repos: FixtureSet, serve: Serve) -> None:
    toolbox = mutable_repos["toolbox"]
    commit = add_commit(toolbox.path, {"src/mylib/data/big.bin": bytes(BIG)}, "a big file under src")
    big = {"src/mylib/data/big.bin": blobs_of(toolbox.path, commit)["src/mylib/data/big.bin"]}
    server = serve("git-http-backend", mutable_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"mylib": f"{url}@main:src"}, settings='max-file-size = "1 MB"')

    cold = project.cli("sync")

    assert cold.code == 1
    message, hint = cold.err.splitlines()
    assert (
        message
        == f"error: src/mylib/data/big.bin is larger than max-file-size (1000000 bytes): {url} left it out of the fetch for its size."
    )
    assert hint.startswith("hint: raise max-file-size in the config if this file is expected; if it is small, blob ")
    assert project.lock_text() is None and not (project.cache / layout.REPOS).exists()  # a first fetch that fails leaves nothing

    project.configure({"rootpkg": f"{url}@main:rootpkg"}, settings='max-file-size = "1 MB"')
    assert project.cli("sync", "-q").code == 0  # the cache's repository now holds the commit
    project.configure({"rootpkg": f"{url}@main:rootpkg", "mylib": f"{url}@main:src"}, settings='max-file-size = "1 MB"')
    before = project.lock_text()

    warm = project.cli("sync")

    assert warm.code == 1 and "src/mylib/data/big.bin is larger than max-file-size" in warm.err
    assert cached_blobs(project, big) == set()  # never sent
    assert project.lock_text() == before

    project.configure({"rootpkg": f"{url}@main:rootpkg", "mylib": f"{url}@main:src"}, settings='max-file-size = "10 MB"')
    assert project.cli("sync", "-q").code == 0  # the one blob left out is asked for by id now
    assert cached_blobs(project, big) == set(big)
    assert read_lock(project.lock_path).modules["mylib"].commit == commit


def test_a_big_blob_outside_path_is_never_sent(project: Project, mutable_repos: FixtureSet, serve: Serve) -> None:
    toolbox = mutable_repos["toolbox"]
    commit = add_commit(toolbox.path, {"tools/huge.bin": bytes(BIG)}, "a big file elsewhere")
    server = serve("git-http-backend", mutable_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@main:src"}, settings='max-file-size = "1 MB"')

    result = project.cli("sync", "-q")

    assert result.code == 0, result.err
    assert cached_blobs(project, {"tools/huge.bin": blobs_of(toolbox.path, commit)["tools/huge.bin"]}) == set()


def test_a_partial_repository_completed_by_a_server_that_does_not_filter(
    project: Project, fixture_repos: FixtureSet, serve: Serve, isolated_home: Path
) -> None:
    """The same repository (one cache entry, through a mirror) first from a filtering server, then from one that does not."""
    toolbox = fixture_repos["toolbox"]
    filtering = serve("git-http-backend", fixture_repos.root)
    plain = serve("git-http-backend", fixture_repos.root, git_config=NO_FILTER_CONFIG)
    spec = "https://git.example.internal/toolbox@v1"

    def mirror(server: Server) -> str:
        return f'[mirrors]\n"https://git.example.internal/" = "{server.url}/"\n'

    project.configure({"mylib": f"{spec}:src"}, settings=mirror(filtering))
    assert project.cli("sync", "-q").code == 0
    project.configure({"mylib": f"{spec}:src", "rootpkg": f"{spec}:rootpkg"}, settings=mirror(plain))

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert fetch_lines(result.out) == [f"fetch: {plain.url}/toolbox: whole commits, again: the server does not advertise filter"]
    files = blobs_of(toolbox.path, toolbox.tags["v1"])
    assert cached_blobs(project, files) == set(files)
    assert ok(project.python("import rootpkg, mylib; print(rootpkg.VERSION, mylib.VERSION)")) == "1 1\n"


def test_gc_keeps_a_partial_repository_and_a_later_path_completes_it(project: Project, fixture_repos: FixtureSet, serve: Serve) -> None:
    server = serve("git-http-backend", fixture_repos.root)
    url = server.repo_url("toolbox")
    project.configure({"mylib": f"{url}@v1:src"})
    assert project.cli("sync", "-q").code == 0

    assert project.cli("gc").code == 0

    assert len(list((project.cache / layout.REPOS).iterdir())) == 1
    server.clear()
    project.configure({"mylib": f"{url}@v1:src", "helper": f"{url}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    assert server.fetches("toolbox") == 1  # the one blob, by id
    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"


def test_a_blob_read_that_needed_py_does_not_list_is_fetched_when_read(
    project: Project, fixture_repos: FixtureSet, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader of a file outside PATH whose name is missing from BUILD_FILES costs a request, not a damaged repository."""
    import gitimport.store.needed

    monkeypatch.setattr(gitimport.store.needed, "BUILD_FILES", frozenset())  # as if the .dist-info's pyproject.toml were unlisted
    server = serve("git-http-backend", fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert "damaged" not in result.err
    assert server.fetches("toolbox") == 3  # the commit and trees; the blobs of src/; then pyproject.toml, when it was read
    code = "import importlib.metadata as m; print(m.version('toolbox'))"
    assert ok(project.python(code)) == "1.0.0\n"


@pytest.mark.parametrize(
    ("kind", "commands"),
    [
        # protocol v2: the capabilities once, the refs once, then one request per fetch
        ("git-http-backend", ["advertise", "ls-refs", "fetch", "fetch"]),
        # protocol v0: the advertisement is the ref listing, read once; one fetch of the whole commit
        ("dulwich-http", ["advertise", "fetch"]),
    ],
)
def test_a_cold_sync_reads_the_servers_advertisement_once(
    project: Project, fixture_repos: FixtureSet, serve: Serve, kind: str, commands: list[str]
) -> None:
    """dulwich asks for the advertisement (and in v2 the ref listing) again at every fetch; one sync needs it once."""
    server = serve(kind, fixture_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@v1:src"})

    assert project.cli("sync", "-q").code == 0

    assert [request.command for request in server.requests if request.repo == "toolbox"] == commands
