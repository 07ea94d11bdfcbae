"""History checks of `gitimport sync`: impostor commits and downgrades (docs/security.md#history).

Two attacks, each reproduced against real servers on loopback:

- **An impostor commit.** Where forks share objects (GitHub), a commit that
  only a fork or a pull request holds is served through the parent's URL. A
  spec that pins its id must be refused unless the commit is reachable from one
  of the repository's own branches or tags. The commit here is held only by
  ``refs/pull/1/head``, which the git servers hide (``uploadpack.hideRefs`` in
  the served repository's config) and which dulwich.web advertises, as GitHub
  does for pull requests.
- **A rewritten history.** ``--upgrade`` must not follow a branch that was
  force-pushed to a commit that does not descend from the locked one, unless
  ``--allow-downgrade`` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.client import get_transport_and_path
from dulwich.repo import Repo
from support import servers
from support.project import Project
from support.repos import FixtureSet, add_commit, delete_ref, set_branch, set_tag
from support.servers import SERVER_KINDS, Server

from gitimport.project.lock import read_lock
from gitimport.store import layout

KINDS = sorted(SERVER_KINDS)
FILTERING = {"git-http-backend", "git-daemon"}  # protocol v2 with uploadpack.allowFilter: commits only


def hidden_pull_request(repo: Path) -> str:
    """A commit on top of main that only ``refs/pull/1/head`` holds, hidden from git servers' advertisements."""
    commit = add_commit(repo, {"tools/helper.py": b"VERSION = 'impostor'\n"}, "from a fork", branch="fork")
    with Repo(str(repo)) as bare:
        bare.refs[b"refs/pull/1/head"] = commit.encode()
    delete_ref(repo, "refs/heads/fork")
    with (repo / "config").open("a", encoding="utf-8") as config:
        config.write("[uploadpack]\n\thideRefs = refs/pull\n")
    return commit


def advertised(url: str) -> set[str]:
    client, path = get_transport_and_path(url)
    return {name.decode() for name in client.get_refs(path.encode() if isinstance(path, str) else path).refs}


def bare_repositories(project: Project) -> list[Path]:
    repos = project.cache / layout.REPOS
    return sorted(repos.iterdir()) if repos.exists() else []


def cached_commit(project: Project, commit: str) -> bool:
    return any(commit.encode() in Repo(str(bare)).object_store for bare in bare_repositories(project))


def history_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("history:")]


def table_spec(project: Project, name: str, url: str, ref: str, path: str, extra: str = "") -> None:
    project.config_path.write_text(f'[modules]\n{name} = {{ git = "{url}", ref = "{ref}", path = "{path}"{extra} }}\n', encoding="utf-8")


# --------------------------------------------------------------------------
# Impostor commits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_pinned_commit_that_no_branch_or_tag_reaches_is_refused(project: Project, mutable_repos: FixtureSet, serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server: Server = serve(kind, mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)
    url = server.repo_url("toolbox")
    assert ("refs/pull/1/head" in advertised(url)) == (kind == "dulwich-http")  # the premise: git servers hide it
    project.configure({"helper": f"{url}@{impostor}:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 1, (result.out, result.err)
    message, hint = result.err.splitlines()[-2:]
    assert impostor in message and url in message and "branch or tag" in message
    assert hint.startswith("hint:") and "allow-unreachable = true" in hint
    assert project.lock_text() is None
    assert not cached_commit(project, impostor)  # refused before its tree was fetched: the cache never held it
    offline = project.cli("sync", "--offline")
    assert offline.code == 1 and project.lock_text() is None


@pytest.mark.parametrize("kind", KINDS)
def test_allow_unreachable_opts_a_module_out(project: Project, mutable_repos: FixtureSet, serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server: Server = serve(kind, mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)
    table_spec(project, "helper", server.repo_url("toolbox"), impostor, "tools/helper.py", ", allow-unreachable = true")

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].commit == impostor
    assert history_lines(result.out) == [f"history: helper: commit {impostor[:12]} was not checked (allow-unreachable = true)"]
    assert project.python("import helper; print(helper.VERSION)").stdout.strip() == "impostor"


@pytest.mark.parametrize("kind", [*KINDS, "local"])
def test_a_pinned_commit_that_only_a_tag_reaches_is_synced_and_proven_once(  # type: ignore[no-untyped-def]
    project: Project, mutable_repos: FixtureSet, serve, kind: str
) -> None:
    repo = mutable_repos["toolbox"].path
    inner = add_commit(repo, {"tools/helper.py": b"VERSION = 'release'\n"}, "release work", branch="release")
    outer = add_commit(repo, {"README": b"released\n"}, "release", branch="release")
    set_tag(repo, "r1", outer, annotated=True)
    delete_ref(repo, "refs/heads/release")  # only the tag reaches `inner` now, and `inner` is no ref's tip
    server = serve(kind, mutable_repos.root) if kind != "local" else None
    url = server.repo_url("toolbox") if server else str(repo)
    project.configure({"helper": f"{url}@{inner}:tools/helper.py"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].commit == inner
    how = {
        "git-http-backend": "commits only, filter tree:0",
        "git-daemon": "commits only, filter tree:0",
        "dulwich-http": "with trees and blobs: protocol v0, without a filter",
        "local": "read from the local repository",
    }[kind]
    (line,) = history_lines(result.out)
    assert line.startswith(f"history: helper: commit {inner[:12]} is reachable from a branch or tag of {url} (")
    assert how in line and "objects" in line
    (bare,) = bare_repositories(project)
    with Repo(str(bare)) as cached:
        assert cached.refs[f"refs/gitimport-reachable/{inner}".encode()] == inner.encode()
        if kind != "dulwich-http":  # which fetches a commit that is no tip with the whole history
            assert outer.encode() not in cached.object_store  # the history fetch went elsewhere: the cache holds the pinned commit only

    if server is not None:
        server.clear()
    again = project.cli("sync", "--upgrade", "-v")  # proven once: neither the check nor the remote is needed again

    assert again.code == 0, again.err
    assert history_lines(again.out) == []
    assert server is None or server.requests == []


def test_a_pinned_commit_that_a_tag_points_at_needs_no_history_fetch(
    project: Project, git_http_backend_server: Server, fixture_repos: FixtureSet
) -> None:
    commit = fixture_repos["toolbox"].tags["v1"]
    project.configure({"helper": f"{git_http_backend_server.repo_url('toolbox')}@{commit}:tools/helper.py"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert history_lines(result.out) == [
        f"history: helper: commit {commit[:12]} is reachable from a branch or tag of {git_http_backend_server.repo_url('toolbox')} "
        "(a branch or tag points at it)"
    ]
    assert git_http_backend_server.fetches("toolbox") == 2  # the commit and its trees, then the blobs: nothing else


def test_a_repository_without_branches_or_tags_reaches_nothing(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    other = mutable_repos["other"]
    with Repo(str(other.path)) as bare:
        bare.refs[b"refs/pull/1/head"] = other.branches["main"].encode()
    delete_ref(other.path, "refs/heads/main")
    delete_ref(other.path, "refs/tags/v1")
    server = serve("git-http-backend", mutable_repos.root)
    project.configure({"othermod": f"{server.repo_url('other')}@{other.commits[0]}"})

    result = project.cli("sync")

    assert result.code == 1 and "is not reachable from any branch or tag" in result.err
    assert server.fetches("other") == 0  # nothing to ask: no fetch


def test_offline_nothing_is_checked_and_sync_says_so(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    """The check runs only where sync contacts the remote; offline it is skipped, not failed (docs/security.md#known-gaps)."""
    import shutil

    server = serve("git-http-backend", mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)
    url = server.repo_url("toolbox")
    table_spec(project, "helper", url, impostor, "tools/helper.py", ", allow-unreachable = true")
    assert project.cli("sync").code == 0
    table_spec(project, "helper", url, impostor, "tools/helper.py")
    shutil.rmtree(project.cache / layout.TREES)

    result = project.cli("sync", "--offline", "-v")

    assert result.code == 0, result.err
    assert history_lines(result.out) == [f"history: helper: commit {impostor[:12]} was not checked (offline)"]


def test_a_server_that_does_not_filter_sends_the_history_with_its_trees(
    project: Project, mutable_repos: FixtureSet, serve, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """git's default (uploadpack.allowFilter off): protocol v2, no filter; the check still works, and says how."""
    monkeypatch.setitem(servers.UPLOAD_PACK_CONFIG, "uploadpack.allowFilter", "false")
    server = serve("git-http-backend", mutable_repos.root)
    commit = mutable_repos["other"].commits[0]  # main and v1 reach it; it is no ref's tip
    project.configure({"othermod": f"{server.repo_url('other')}@{commit}"})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    (line,) = history_lines(result.out)
    assert "is reachable from a branch or tag" in line and "with trees and blobs: the server does not filter" in line
    assert "filtering" not in result.err  # dulwich's own notice about the ignored filter is not shown


def test_a_lock_made_with_the_opt_out_is_checked_when_the_opt_out_goes(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    """The lock's pinned commits are checked on --upgrade, the one sync that may contact the remote for them."""
    server = serve("git-http-backend", mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)
    url = server.repo_url("toolbox")
    table_spec(project, "helper", url, impostor, "tools/helper.py", ", allow-unreachable = true")
    assert project.cli("sync").code == 0
    table_spec(project, "helper", url, impostor, "tools/helper.py")
    before = project.lock_text()

    assert project.cli("sync").code == 0  # lock and cache complete: no remote is contacted, so nothing is checked
    upgraded = project.cli("sync", "--upgrade")

    assert upgraded.code == 1 and impostor in upgraded.err and "allow-unreachable" in upgraded.err
    assert project.lock_text() == before


# --------------------------------------------------------------------------
# Downgrades and rewritten history
# --------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def on_main(request: pytest.FixtureRequest, project: Project, mutable_repos: FixtureSet, serve) -> tuple[Project, Server]:  # type: ignore[no-untyped-def]
    """A project whose `helper` follows toolbox's main, synced, on each kind of server."""
    server: Server = serve(request.param, mutable_repos.root)
    project.url = server.url
    project.configure({"helper": project.spec("main:tools/helper.py")})
    assert project.cli("sync").code == 0
    return project, server


@pytest.mark.parametrize("moved_to", ["dev", "c1"])  # a rewritten history (a sibling of main's tip), a rollback (an ancestor)
def test_upgrade_refuses_a_branch_that_moved_to_a_commit_not_descending_from_the_lock(
    on_main: tuple[Project, Server], mutable_repos: FixtureSet, moved_to: str
) -> None:
    project, _ = on_main
    repo = mutable_repos["toolbox"]
    locked, target = repo.branches["main"], repo.by_tree[moved_to]
    set_branch(repo.path, "main", target)  # a force-push
    lock, cache = project.lock_text(), project.cache_files()

    result = project.cli("sync", "--upgrade")

    assert result.code == 1, (result.out, result.err)
    message, hint = result.err.splitlines()[-2:]
    assert locked[:12] in message and target[:12] in message and "does not descend" in message
    assert hint.startswith("hint:") and "--allow-downgrade" in hint
    assert project.lock_text() == lock
    assert project.cache_files() == cache


def test_allow_downgrade_follows_the_rewritten_branch(on_main: tuple[Project, Server], mutable_repos: FixtureSet) -> None:
    project, _ = on_main
    repo = mutable_repos["toolbox"]
    set_branch(repo.path, "main", repo.by_tree["dev"])

    result = project.cli("sync", "--upgrade", "--allow-downgrade", "-v")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].commit == repo.by_tree["dev"]
    assert "upgraded" in result.out
    assert history_lines(result.out) == [
        f"history: helper: main moved from {repo.branches['main'][:12]} to {repo.by_tree['dev'][:12]}, not checked (--allow-downgrade)"
    ]


def test_upgrade_follows_a_fast_forward_and_says_how_it_checked(on_main: tuple[Project, Server], mutable_repos: FixtureSet) -> None:
    project, server = on_main
    repo = mutable_repos["toolbox"]
    locked = repo.branches["main"]
    add_commit(repo.path, {"src/other.py": b"X = 1\n"}, "unrelated work")
    new = add_commit(repo.path, {"tools/helper.py": b"VERSION = 'next'\n"}, "next")

    result = project.cli("sync", "--upgrade", "-v")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].commit == new
    (line,) = history_lines(result.out)
    assert line.startswith(f"history: helper: main moved from {locked[:12]} to {new[:12]}, which descends from it (")
    assert ("commits only, filter tree:0" in line) == (server.kind in FILTERING)


def test_a_changed_spec_to_an_older_tag_is_the_users_choice(on_main: tuple[Project, Server], mutable_repos: FixtureSet) -> None:
    project, server = on_main
    server.clear()
    project.configure({"helper": project.spec("v1:tools/helper.py")})

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].commit == mutable_repos["toolbox"].tags["v1"]
    assert history_lines(result.out) == []
    # the commit and trees of v1, then its blobs (dulwich's server cannot filter: the whole commit); no history fetch
    assert server.fetches("toolbox") == (1 if server.kind == "dulwich-http" else 2)


@pytest.mark.parametrize("kind", sorted(FILTERING))
@pytest.mark.parametrize("pinned", ["reachable", "impostor"])
def test_commits_stored_as_deltas_against_the_pinned_one_are_checked(
    project: Project, mutable_repos: FixtureSet, serve, kind: str, pinned: str
) -> None:  # type: ignore[no-untyped-def]
    """After `git repack -f`, the commits sent may be deltas against the pinned commit, which the check does not hold.

    So the check asks for a whole pack, not a thin one: a thin pack's deltas
    against that commit could not be resolved.
    """
    import subprocess

    repo = mutable_repos["toolbox"].path
    impostor = hidden_pull_request(repo)
    # the first has the impostor's parent and time, and a message as short: git stores it as a delta against the impostor
    similar = [add_commit(repo, {"src/mylib/core.py": b"# line\n" * 200 + b"X = %d\n" % i}, f"c{i}") for i in range(4)]
    subprocess.run(["git", "-C", str(repo), "repack", "-a", "-d", "-f", "-b", "--window=50"], check=True, capture_output=True)
    server = serve(kind, mutable_repos.root)
    commit = impostor if pinned == "impostor" else similar[1]
    project.configure({"mylib": f"{server.repo_url('toolbox')}@{commit}:src"})

    result = project.cli("sync", "-v")

    if pinned == "impostor":
        assert result.code == 1 and "is not reachable from any branch or tag" in result.err, result.err
    else:
        assert result.code == 0, result.err
        (line,) = history_lines(result.out)
        assert "is reachable from a branch or tag" in line and "commits only, filter tree:0" in line


# --------------------------------------------------------------------------
# pin(): the same check, the same opt-out
# --------------------------------------------------------------------------


def pin_code(spec: str, **options: object) -> str:
    extra = "".join(f", {key}={value!r}" for key, value in options.items())
    return f"""
        from gitimport.pin import pin
        try:
            module = pin({spec!r}{extra})
        except ImportError as exc:
            print("REFUSED", exc)
        else:
            print("VERSION", module.VERSION)
    """


def test_pin_refuses_an_impostor_commit(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server: Server = serve("git-http-backend", mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)

    out = project.plain_python(pin_code(f"{server.repo_url('toolbox')}@{impostor}:tools/helper.py")).stdout

    assert out.startswith("REFUSED") and "is not reachable from any branch or tag" in out
    assert "allow_unreachable=True" in out
    assert not cached_commit(project, impostor)


def test_pin_allow_unreachable_opts_out(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server: Server = serve("git-http-backend", mutable_repos.root)
    impostor = hidden_pull_request(mutable_repos["toolbox"].path)

    out = project.plain_python(pin_code(f"{server.repo_url('toolbox')}@{impostor}:tools/helper.py", allow_unreachable=True)).stdout

    assert out.strip() == "VERSION impostor"
