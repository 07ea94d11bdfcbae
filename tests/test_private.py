"""Private repositories over HTTPS-style Basic auth, mirrors and git's insteadOf.

The server is git http-backend on 127.0.0.1 demanding Basic auth. Every test
that uses a secret also searches the lock, the cache and all output for it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.project import Project, Result
from support.servers import PRIVATE_TOKEN, PRIVATE_USER, Server

from gitimport.project.lock import read_lock

USER, TOKEN = PRIVATE_USER, PRIVATE_TOKEN


def assert_secret_nowhere(project: Project, *results: Result) -> None:
    for result in results:
        assert TOKEN not in result.out and TOKEN not in result.err
    assert TOKEN not in (project.lock_text() or "")
    for path in project.cache.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert TOKEN.encode() not in path.read_bytes(), path
    for path in project.root.rglob("*"):
        if path.is_file() and path.name != "gitimport.toml":
            assert TOKEN.encode() not in path.read_bytes(), path


def host_port(server: Server) -> str:
    return server.url.split("://", 1)[1].rstrip("/")


def test_credentials_in_the_url_are_used_and_never_stored(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:{TOKEN}@")
    project.configure({"helper": f"{url}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    entry = read_lock(project.lock_path).modules["helper"]
    assert entry.url == private_server.repo_url("toolbox")
    assert entry.spec == f"{private_server.repo_url('toolbox')}@v1:tools/helper.py"
    assert_secret_nowhere(project, result)


def test_changing_only_the_token_is_not_a_spec_change(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:{TOKEN}@")
    project.configure({"helper": f"{url}@v1:tools/helper.py"})
    project.cli("sync")
    project.configure({"helper": f"{url.replace(TOKEN, 'other-token')}@v1:tools/helper.py"})

    assert project.cli("sync", "--locked").code == 0


def test_netrc_supplies_credentials(project: Project, private_server: Server, isolated_home: Path) -> None:
    netrc = isolated_home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {TOKEN}\n")
    netrc.chmod(0o600)
    project.configure({"helper": f"{private_server.repo_url('toolbox')}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert_secret_nowhere(project, result)


def test_git_credential_helper_supplies_credentials(project: Project, private_server: Server, isolated_home: Path) -> None:
    helper = isolated_home / "helper.sh"
    helper.write_text(f'#!/bin/sh\ntest "$1" = get && echo username={USER} && echo password={TOKEN}\n')
    helper.chmod(0o755)
    (isolated_home / ".gitconfig").write_text(f"[credential]\n\thelper = {helper}\n")
    project.configure({"helper": f"{private_server.repo_url('toolbox')}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert_secret_nowhere(project, result)


def test_missing_credentials_give_one_clear_error(project: Project, private_server: Server, isolated_home: Path) -> None:
    project.configure({"helper": f"{private_server.repo_url('toolbox')}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 1
    assert "requires authentication" in result.err and "~/.netrc" in result.err
    assert project.lock_text() is None


def test_wrong_token_is_not_echoed(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:wrong-{TOKEN}@")
    project.configure({"helper": f"{url}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 1 and "requires authentication" in result.err
    assert_secret_nowhere(project, result)


def test_mirror_rewrites_every_remote_operation(project: Project, git_http_backend_server: Server, isolated_home: Path) -> None:
    settings = f'[mirrors]\n"https://git.example.internal/" = "{git_http_backend_server.url.rstrip("/")}/"\n'
    project.configure({"helper": "https://git.example.internal/toolbox@v1:tools/helper.py"}, settings=settings)

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].url == "https://git.example.internal/toolbox"
    assert git_http_backend_server.fetches("toolbox") == 2  # the commit and its trees, then the blob (a partial fetch)


def test_git_insteadof_from_the_users_git_config(project: Project, git_http_backend_server: Server, isolated_home: Path) -> None:
    (isolated_home / ".gitconfig").write_text(
        f'[url "{git_http_backend_server.url.rstrip("/")}/"]\n\tinsteadOf = https://git.corp.example/\n'
    )
    project.configure({"helper": "https://git.corp.example/toolbox@v2:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].url == "https://git.corp.example/toolbox"


def test_mirror_to_an_insecure_remote_host_is_refused(project: Project, isolated_home: Path) -> None:
    project.configure(
        {"helper": "https://github.com/org/repo@v1"}, settings='[mirrors]\n"https://github.com/" = "http://mirror.example.com/"\n'
    )

    result = project.cli("sync")

    assert result.code == 2 and "Refusing http://" in result.err


def test_credential_repr_hides_the_secret() -> None:
    from gitimport.remote.credentials import Credentials

    assert TOKEN not in repr(Credentials(USER, TOKEN)) and TOKEN not in str(Credentials(USER, TOKEN))


def test_no_git_process_prompts(project: Project, private_server: Server, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no helper configured, `git credential fill` must fail fast instead of asking on a terminal."""
    monkeypatch.setitem(os.environ, "GIT_TERMINAL_PROMPT", "1")
    project.configure({"helper": f"{private_server.repo_url('toolbox')}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 1


def test_add_never_writes_the_token_into_the_config(project: Project, private_server: Server, isolated_home: Path) -> None:
    url = private_server.repo_url("toolbox").replace("http://", f"http://{USER}:{TOKEN}@")
    project.config_path.write_text("# my project\n[modules]\n")

    result = project.cli("add", "helper", f"{url}@v1:tools/helper.py")

    assert result.code == 0, result.err
    assert TOKEN not in project.config_path.read_text() and "# my project" in project.config_path.read_text()
    assert "~/.netrc" in result.err
    assert_secret_nowhere(project, result)
