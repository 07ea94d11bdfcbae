"""The test infrastructure itself: fixture repositories and the servers are real."""

from __future__ import annotations

import gzip
import http.client
import io
import os
import subprocess
import threading
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
from dulwich import porcelain
from dulwich.client import HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Commit, Tag
from dulwich.repo import Repo
from support.repos import (
    FixtureSet,
    add_commit,
    build_fixture_repo,
    delete_ref,
    fixture_names,
    set_branch,
    set_tag,
    tree_entries,
)
from support.servers import (
    SERVER_KINDS,
    Server,
    git_available,
    git_env,
    parse_cgi_response,
    serve_git_daemon,
    serve_git_http_backend,
)

needs_git = pytest.mark.skipif(not git_available(), reason="git CLI not installed")
BY_ID_KINDS = ["git-daemon", "git-http-backend"]  # dulwich.web refuses non-tip wants


def run_git(*args: str, cwd: Path | None = None) -> str:
    env = git_env()
    env["GIT_TERMINAL_PROMPT"] = "0"
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def fetch_commit(url: str, target: Path, commit: str, username: str | None = None, password: str | None = None) -> Repo:
    """Fetch one commit id into a new bare repo, as the product will."""
    client, path = get_transport_and_path(url, username=username, password=password)
    repo = Repo.init_bare(str(target), mkdir=True)
    client.fetch(path, repo, determine_wants=lambda refs, depth=None: [commit.encode()])
    return repo


def text_at(repo_path: Path, commit: str, path: str) -> str:
    return tree_entries(repo_path, commit)[path][1].decode()


# --------------------------------------------------------------------------
# Fixture repositories
# --------------------------------------------------------------------------


def test_all_fixture_repos_are_built(fixture_repos: FixtureSet) -> None:
    assert {"demo", "other", "toolbox"} <= set(fixture_names())
    assert sorted(fixture_repos) == fixture_names()
    for name in fixture_repos:
        assert (fixture_repos.root / name / "HEAD").is_file()


def test_build_is_deterministic(fixture_repos: FixtureSet, tmp_path: Path) -> None:
    for name in fixture_repos:
        again = build_fixture_repo(name, tmp_path / name)
        original = fixture_repos[name]
        assert (again.commits, again.tags, again.tag_objects, again.branches) == (
            original.commits,
            original.tags,
            original.tag_objects,
            original.branches,
        )


def test_toolbox_history(fixture_repos: FixtureSet) -> None:
    toolbox = fixture_repos["toolbox"]
    c1, c2, dev, c3 = toolbox.commits
    assert toolbox.by_tree == {"c1": c1, "c2": c2, "dev": dev, "c3": c3}
    assert toolbox.branches == {"main": c3, "dev": dev}
    assert toolbox.tags == {"v1": c1, "v2": c2, "v10": c3}
    assert set(toolbox.tag_objects) == {"v2"}
    with Repo(str(toolbox.path)) as repo:
        assert repo.refs.get_symrefs()[b"HEAD"] == b"refs/heads/main"
        parents = {c: repo[c.encode()].parents for c in toolbox.commits}
        tag = repo[toolbox.tag_objects["v2"].encode()]
        assert isinstance(tag, Tag) and tag.object == (Commit, c2.encode())
        assert repo.refs[b"refs/tags/v2"] == toolbox.tag_objects["v2"].encode()
        commit = repo[c1.encode()]
        assert commit.author == commit.committer == b"Fixture <fixture@example.com>"
    assert parents == {c1: [], c2: [c1.encode()], dev: [c2.encode()], c3: [c2.encode()]}


@pytest.mark.parametrize("tree,version", [("c1", "1"), ("c2", "2"), ("dev", "dev"), ("c3", "3")])
def test_toolbox_contents(fixture_repos: FixtureSet, tree: str, version: str) -> None:
    toolbox = fixture_repos["toolbox"]
    entries = tree_entries(toolbox.path, toolbox.by_tree[tree])
    modules = [p for p in entries if p.endswith(".py")]
    assert {
        "tools/helper.py",
        "src/mylib/__init__.py",
        "src/mylib/core.py",
        "src/mylib/sub/__init__.py",
        "src/mylib/sub/deep.py",
        "lib/rootmod.py",
        "toplevel.py",
        "rootpkg/__init__.py",
        "nsdir/portion_a.py",
        "nsdir/inner/mod.py",
    } <= set(modules)
    for module in modules:
        assert f'VERSION = "{version}"' in entries[module][1].decode(), module
    assert not any(p.startswith("nsdir/") and p.endswith("__init__.py") for p in entries)
    assert entries["scripts/tool.sh"][0] == 0o100755
    assert entries["src/mylib/link.txt"] == (0o120000, b"data/greeting.txt")
    assert entries["src/mylib/data/greeting.txt"][1] == f"Hello from mylib {version}\n".encode()
    assert b'name = "toolbox"' in entries["pyproject.toml"][1]


def test_demo_and_other(fixture_repos: FixtureSet) -> None:
    demo = fixture_repos["demo"]
    for commit in demo.commits:
        assert 'return f"Hello, {name}!"' in text_at(demo.path, commit, "server_module.py")
    assert demo.tags == {"v1": demo.commits[0], "v2": demo.commits[1]}
    assert set(demo.tag_objects) == {"v2"}
    other = fixture_repos["other"]
    non_tip = other.commits[0]
    assert non_tip not in other.tags.values() and non_tip not in other.branches.values()
    assert 'VERSION = "1"' in text_at(other.path, other.tags["v1"], "othermod.py")


def test_overlay_base_delete_and_modes(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    (fixtures / "r" / "one" / "pkg").mkdir(parents=True)
    (fixtures / "r" / "one" / "pkg" / "a.py").write_text("A = 1\n")
    (fixtures / "r" / "one" / "run.sh").write_text("#!/bin/sh\n")
    (fixtures / "r" / "two").mkdir()
    (fixtures / "r" / "two" / "b.py").write_text("B = 2\n")
    (fixtures / "r" / "repo.toml").write_text(
        'executable = ["run.sh"]\n'
        '[[commit]]\ntree = "one"\nmessage = "one"\n'
        '[[commit]]\ntree = "two"\nbase = "one"\nmessage = "two"\ndelete = ["pkg/a.py"]\n'
        'branch = "side"\n[commit.symlinks]\n"link" = "b.py"\n'
    )
    repo = build_fixture_repo("r", tmp_path / "out", fixtures_dir=fixtures)
    one, two = repo.commits
    assert repo.branches == {"main": one, "side": two}
    assert tree_entries(repo.path, two) == {
        "run.sh": (0o100755, b"#!/bin/sh\n"),
        "b.py": (0o100644, b"B = 2\n"),
        "link": (0o120000, b"b.py"),
    }


def test_bad_executable_path_is_reported(tmp_path: Path) -> None:
    (tmp_path / "r" / "c1").mkdir(parents=True)
    (tmp_path / "r" / "c1" / "x.py").write_text("")
    (tmp_path / "r" / "repo.toml").write_text('[[commit]]\ntree = "c1"\nmessage = "m"\nexecutable = ["typo.sh"]\n')
    with pytest.raises(ValueError, match=r"typo\.sh"):
        build_fixture_repo("r", tmp_path / "out", fixtures_dir=tmp_path)


def test_non_bare_build_has_checkout(tmp_path: Path) -> None:
    repo = build_fixture_repo("toolbox", tmp_path / "wt", bare=False)
    assert 'VERSION = "3"' in (repo.path / "toplevel.py").read_text()
    assert os.readlink(repo.path / "src/mylib/link.txt") == "data/greeting.txt"
    assert os.access(repo.path / "scripts/tool.sh", os.X_OK)
    add_commit(repo.path, {"toplevel.py": b'VERSION = "4"\n'}, "four")
    assert (repo.path / "toplevel.py").read_text() == 'VERSION = "4"\n'


def test_mutations_touch_only_the_copy(fixture_repos: FixtureSet, mutable_repos: FixtureSet) -> None:
    toolbox = mutable_repos["toolbox"]
    assert toolbox.path != fixture_repos["toolbox"].path
    new = add_commit(toolbox.path, {"new.py": b"N = 1\n", "toplevel.py": None}, "change")
    entries = tree_entries(toolbox.path, new)
    assert "new.py" in entries and "toplevel.py" not in entries
    assert entries["scripts/tool.sh"][0] == 0o100755  # unchanged paths keep modes
    again = add_commit(toolbox.path, {"x.py": b""}, "on dev", branch="dev")
    moved = set_tag(toolbox.path, "v1", new, annotated=True)
    set_branch(toolbox.path, "release", toolbox.commits[0])
    delete_ref(toolbox.path, "refs/tags/v10")
    with Repo(str(toolbox.path)) as repo:
        assert repo.refs[b"refs/heads/main"] == new.encode()
        assert repo[again.encode()].parents == [toolbox.branches["dev"].encode()]
        assert repo[moved.encode()].object == (Commit, new.encode())
        assert repo.refs[b"refs/heads/release"] == toolbox.commits[0].encode()
        assert b"refs/tags/v10" not in repo.refs
    with Repo(str(fixture_repos["toolbox"].path)) as original:
        assert original.refs[b"refs/heads/main"] == fixture_repos["toolbox"].commits[-1].encode()


# --------------------------------------------------------------------------
# Servers, through dulwich's client
# --------------------------------------------------------------------------


def test_refs_match_fixture(any_server: Server, fixture_repos: FixtureSet) -> None:
    toolbox = fixture_repos["toolbox"]
    client, path = get_transport_and_path(any_server.repo_url("toolbox"))
    result = client.get_refs(path)
    refs = {k.decode(): v.decode() for k, v in result.refs.items()}
    assert refs["HEAD"] == toolbox.branches["main"]
    for branch, commit in toolbox.branches.items():
        assert refs[f"refs/heads/{branch}"] == commit
    for tag, commit in toolbox.tags.items():
        if tag in toolbox.tag_objects:
            assert refs[f"refs/tags/{tag}"] == toolbox.tag_objects[tag]
            assert refs[f"refs/tags/{tag}^{{}}"] == commit
        else:
            assert refs[f"refs/tags/{tag}"] == commit
    assert str(any_server) == any_server.url


def test_shallow_clone(any_server: Server, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    demo = fixture_repos["demo"]
    with porcelain.clone(
        any_server.repo_url("demo"),
        str(tmp_path / "clone"),
        bare=True,
        depth=1,
        errstream=io.BytesIO(),
    ) as clone:
        assert clone.head() == demo.branches["main"].encode()
        # depth 1 per wanted ref: main's tip is a shallow boundary
        assert demo.branches["main"].encode() in clone.get_shallow()


def test_one_fetch_is_counted_once(any_server: Server, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    client, path = get_transport_and_path(any_server.repo_url("toolbox"))
    client.get_refs(path)
    assert any_server.fetches() == 0
    main = fixture_repos["toolbox"].branches["main"]
    fetch_commit(any_server.repo_url("toolbox"), tmp_path / "t", main).close()
    assert any_server.fetches("toolbox") == 1 and any_server.fetches("demo") == 0
    any_server.clear()
    assert any_server.requests == []


def test_dot_git_directories_are_served(mutable_repos: FixtureSet, serve: Callable[..., Server]) -> None:
    (mutable_repos.root / "demo").rename(mutable_repos.root / "demo.git")
    for kind in sorted(SERVER_KINDS):
        server = serve(kind, mutable_repos.root)
        for name in ("demo", "demo.git"):
            client, path = get_transport_and_path(server.repo_url(name))
            refs = client.get_refs(path).refs
            assert refs[b"refs/heads/main"] == mutable_repos["demo"].branches["main"].encode()


def test_missing_repository_fails_and_server_survives(any_server: Server) -> None:
    client, path = get_transport_and_path(any_server.repo_url("nope"))
    with pytest.raises((NotGitRepository, GitProtocolError, HangupException)):
        client.get_refs(path)
    client, path = get_transport_and_path(any_server.repo_url("demo"))
    assert b"refs/heads/main" in client.get_refs(path).refs


def test_concurrent_requests(any_server: Server) -> None:
    errors: list[BaseException] = []

    def read_refs(name: str) -> None:
        try:
            client, path = get_transport_and_path(any_server.repo_url(name))
            assert b"refs/heads/main" in client.get_refs(path).refs
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read_refs, args=(n,)) for n in ["demo", "toolbox", "other"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


@pytest.mark.parametrize("kind", BY_ID_KINDS)
def test_fetch_non_tip_commit_by_id(kind: str, serve: Callable[..., Server], fixture_repos: FixtureSet, tmp_path: Path) -> None:
    other = fixture_repos["other"]
    server = serve(kind, fixture_repos.root)
    with fetch_commit(server.repo_url("other"), tmp_path / "t", other.commits[0]) as repo:
        blob = iter_tree_contents(repo.object_store, repo[other.commits[0].encode()].tree)
        assert [entry.path for entry in blob] == [b"othermod.py"]


@pytest.mark.parametrize("kind", BY_ID_KINDS)
def test_partial_fetch_with_filter(kind: str, serve: Callable[..., Server], fixture_repos: FixtureSet, tmp_path: Path) -> None:
    toolbox = fixture_repos["toolbox"]
    server = serve(kind, fixture_repos.root)
    client, path = get_transport_and_path(server.repo_url("toolbox"))
    with Repo.init_bare(str(tmp_path / "t"), mkdir=True) as repo:
        client.fetch(
            path,
            repo,
            determine_wants=lambda refs, depth=None: [toolbox.commits[0].encode()],
            depth=1,
            filter_spec=b"blob:none",
        )
        commit = repo[toolbox.commits[0].encode()]
        assert commit.tree in repo.object_store
        blobs = [e.sha for e in iter_tree_contents(repo.object_store, commit.tree)]
        assert not any(sha in repo.object_store for sha in blobs)


# --------------------------------------------------------------------------
# git http-backend specifics: auth, gzip, CGI parsing
# --------------------------------------------------------------------------


def test_basic_auth(fixture_repos: FixtureSet, tmp_path: Path) -> None:
    with serve_git_http_backend(fixture_repos.root, auth=("alice", "s3cret")) as server:
        url = server.repo_url("demo")
        for username, password in ((None, None), ("alice", "wrong")):
            client, path = get_transport_and_path(url, username=username, password=password)
            with pytest.raises(HTTPUnauthorized):
                client.get_refs(path)
        status, headers = _raw_get(server.url + "/demo/info/refs?service=git-upload-pack")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
        commit = fixture_repos["demo"].commits[0]
        repo = fetch_commit(url, tmp_path / "t", commit, username="alice", password="s3cret")
        with repo:
            assert commit.encode() in repo.object_store
        assert [r.status for r in server.requests][:3] == [401, 401, 401]


def _raw_get(url: str) -> tuple[int, dict[str, str]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        conn.close()


def test_gzip_request_body(git_http_backend_server: Server) -> None:
    body = b"0014command=ls-refs\n0001000bsymrefs0000"
    parts = urlsplit(git_http_backend_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/toolbox/git-upload-pack",
            body=gzip.compress(body),
            headers={
                "Content-Type": "application/x-git-upload-pack-request",
                "Content-Encoding": "gzip",
                "Git-Protocol": "version=2",
            },
        )
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    assert response.status == 200, payload
    assert b"refs/heads/main symref-target:" not in payload  # only HEAD has a target
    assert b"HEAD symref-target:refs/heads/main" in payload
    assert git_http_backend_server.requests[-1].command == "ls-refs"


def test_parse_cgi_response() -> None:
    assert parse_cgi_response(b"Status: 404 Not Found\r\nX-A: 1\r\n\r\nbody") == (
        404,
        [("X-A", "1")],
        b"body",
    )
    assert parse_cgi_response(b"Content-Type: text/plain\n\nok") == (
        200,
        [("Content-Type", "text/plain")],
        b"ok",
    )


# --------------------------------------------------------------------------
# Servers, through the git CLI
# --------------------------------------------------------------------------


@needs_git
def test_git_cli_ls_remote_and_clone(any_server: Server, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    toolbox = fixture_repos["toolbox"]
    url = any_server.repo_url("toolbox")
    listing = dict(line.split("\t")[::-1] for line in run_git("ls-remote", url).splitlines())
    assert listing["refs/heads/dev"] == toolbox.branches["dev"]
    assert listing["refs/tags/v2^{}"] == toolbox.tags["v2"]
    run_git("clone", "-q", url, str(tmp_path / "clone"))
    assert run_git("rev-parse", "HEAD", cwd=tmp_path / "clone").strip() == toolbox.branches["main"]
    assert 'VERSION = "1"' in run_git("show", "v1:toplevel.py", cwd=tmp_path / "clone")


@needs_git
def test_git_cli_basic_auth(fixture_repos: FixtureSet) -> None:
    with serve_git_http_backend(fixture_repos.root, auth=("alice", "s3cret")) as server:
        url = server.repo_url("demo")
        with pytest.raises(AssertionError, match=r"Authentication failed|could not read"):
            run_git("ls-remote", url)
        authed = url.replace("http://", "http://alice:s3cret@")
        assert fixture_repos["demo"].branches["main"] in run_git("ls-remote", authed)


# --------------------------------------------------------------------------
# Clean shutdown
# --------------------------------------------------------------------------


def test_servers_leave_nothing_running(fixture_repos: FixtureSet, tmp_path: Path) -> None:
    before = set(threading.enumerate())
    for kind, serve_kind in sorted(SERVER_KINDS.items()):
        with serve_kind(fixture_repos.root) as server:
            fetch_commit(server.repo_url("demo"), tmp_path / kind, fixture_repos["demo"].commits[-1]).close()
            pid = server.pid
        if pid is not None:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    assert set(threading.enumerate()) <= before


@needs_git
def test_git_daemon_is_killed_even_when_the_test_fails(fixture_repos: FixtureSet) -> None:
    with pytest.raises(RuntimeError), serve_git_daemon(fixture_repos.root) as server:
        pid = server.pid
        raise RuntimeError("test body failed")
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
