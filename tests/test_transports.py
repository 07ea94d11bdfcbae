"""ssh:// and scp-like remotes through dulwich's ssh support, and shallow fetches.

The ssh "server" is a script given as GIT_SSH_COMMAND, the way git's own test
suite does it: it drops the ssh options and runs the requested
``git-upload-pack`` on this machine, so the git protocol is real end to end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from dulwich.repo import Repo
from support.project import Project
from support.repos import FixtureSet
from support.servers import Server, git_available

from gitimport.project.lock import read_lock
from gitimport.store import layout

FAKE_SSH = """#!/bin/sh
# Called as: fake-ssh [-x] [-p PORT] [-o OPTION] HOST COMMAND
log="$(dirname "$0")/ssh.log"
while [ $# -gt 1 ]; do
    case "$1" in
        -p|-o|-i) shift 2 ;;
        -*) shift ;;
        *) echo "host=$1" >> "$log"; shift ;;
    esac
done
echo "command=$1" >> "$log"
exec sh -c "$1"
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not git_available():
        pytest.skip("git is not installed: no git-upload-pack to run over ssh")
    script = tmp_path / "bin" / "fake-ssh"
    script.parent.mkdir()
    script.write_text(FAKE_SSH)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(script))
    return script


@pytest.mark.parametrize("form", ["ssh-url", "scp-like"])
def test_ssh_remote_through_git_ssh_command(project: Project, fixture_repos: FixtureSet, fake_ssh: Path, form: str) -> None:
    path = fixture_repos["toolbox"].path
    url = f"ssh://git@example.test:2222{path}" if form == "ssh-url" else f"git@example.test:{path}"
    project.configure({"helper": f"{url}@v2:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    entry = read_lock(project.lock_path).modules["helper"]
    assert entry.commit == fixture_repos["toolbox"].tags["v2"]
    assert "git@" not in entry.url and "git@" not in entry.spec  # userinfo is dropped (docs/lock-file.md#no-credentials)
    log = (fake_ssh.parent / "ssh.log").read_text()
    assert "host=git@example.test" in log and "git-upload-pack" in log


def test_fetch_is_shallow_where_the_server_allows_it(project: Project, git_http_backend_server: Server, fixture_repos: FixtureSet) -> None:
    repo = fixture_repos["toolbox"]
    project.configure({"helper": f"{git_http_backend_server.repo_url('toolbox')}@v10:tools/helper.py"})

    assert project.cli("sync").code == 0

    (bare,) = (project.cache / layout.REPOS).iterdir()
    with Repo(str(bare)) as cached:
        assert os.path.exists(bare / "shallow")
        assert repo.commits[0].encode() not in cached.object_store  # history before the tag was not fetched
        assert repo.tags["v10"].encode() in cached.object_store
