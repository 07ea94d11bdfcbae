"""Shared pytest fixtures: real fixture repositories and real servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

# Make ``support`` importable whatever pytest's import mode is.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from support.project import Project  # noqa: E402
from support.repos import FixtureSet, build_all_fixture_repos  # noqa: E402
from support.servers import (  # noqa: E402
    PRIVATE_TOKEN,
    PRIVATE_USER,
    SERVER_KINDS,
    Server,
    serve_dulwich_http,
    serve_git_daemon,
    serve_git_http_backend,
)

ServeFactory = Callable[..., Server]

#: The test suite's own knob, not a gitimport setting: test_properties.py reads it
#: at import time to choose how many examples to run (a fuzz run), so it stays.
KEPT_ENVIRONMENT = {"GITIMPORT_FUZZ_EXAMPLES"}


@pytest.fixture(scope="session", autouse=True)
def no_gitimport_environment() -> Iterator[None]:
    """No ``GITIMPORT_*`` variable of the developer's shell reaches any test.

    Session-scoped, so module- and session-scoped fixtures (which run before
    any function-scoped one) see the clean environment too, and so do the
    subprocesses every helper starts from ``os.environ``.  A test that sets a
    variable does so with its own ``monkeypatch``, which restores this state.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("GITIMPORT_") and name not in KEPT_ENVIRONMENT:
                patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def fixture_repos(tmp_path_factory: pytest.TempPathFactory) -> FixtureSet:
    """All fixture repositories, built once per session. Treat as read-only."""
    return build_all_fixture_repos(tmp_path_factory.mktemp("fixture-repos") / "repos")


@pytest.fixture
def mutable_repos(fixture_repos: FixtureSet, tmp_path: Path) -> FixtureSet:
    """A private copy of the fixture repositories that a test may change."""
    return fixture_repos.copy_to(tmp_path / "mutable-repos")


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """Start servers on demand: ``serve("git-http-backend", root, auth=(u, p))``.

    Kinds are the keys of ``SERVER_KINDS``; all are stopped after the test.
    """
    with contextlib.ExitStack() as stack:

        def start(kind: str, root: Path, **kwargs: Any) -> Server:
            return stack.enter_context(SERVER_KINDS[kind](root, **kwargs))

        yield start


@pytest.fixture
def http_server(fixture_repos: FixtureSet) -> Iterator[Server]:
    """dulwich.web smart HTTP (protocol v0) over the session's repositories."""
    with serve_dulwich_http(fixture_repos.root) as server:
        yield server


@pytest.fixture
def git_http_backend_server(fixture_repos: FixtureSet) -> Iterator[Server]:
    """``git http-backend`` (protocol v2) over the session's repositories."""
    with serve_git_http_backend(fixture_repos.root) as server:
        yield server


@pytest.fixture
def git_daemon_server(fixture_repos: FixtureSet) -> Iterator[Server]:
    """``git daemon`` (git://) over the session's repositories."""
    with serve_git_daemon(fixture_repos.root) as server:
        yield server


@pytest.fixture(params=sorted(SERVER_KINDS))
def any_server(request: pytest.FixtureRequest, fixture_repos: FixtureSet) -> Iterator[Server]:
    """Each server kind in turn over the session's repositories.

    Check ``server.kind``: "dulwich-http" cannot fetch a non-tip commit by id.
    """
    with SERVER_KINDS[request.param](fixture_repos.root) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project folder with a private cache, as the current folder."""
    root = tmp_path / "project"
    root.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(cache))
    monkeypatch.chdir(root)
    return Project(root, cache)


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with an empty git config, no .netrc and no proxy: the developer's settings stay out."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("NETRC", raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    (home / ".gitconfig").write_text("")
    return home


@pytest.fixture
def private_server(serve: ServeFactory, fixture_repos: FixtureSet) -> Server:
    """``git http-backend`` over the session's repositories, demanding HTTP Basic auth."""
    return serve("git-http-backend", fixture_repos.root, auth=(PRIVATE_USER, PRIVATE_TOKEN))


@pytest.fixture
def scripts_project(project: Project, http_server: Server) -> Project:
    """The ``scripts`` fixture's ``hellotool`` (console and gui scripts) synced over dulwich.web."""
    project.configure({"hellotool": f"{http_server.repo_url('scripts')}@v1.0.0"})
    result = project.cli("sync")
    assert result.code == 0, result.err
    return project
