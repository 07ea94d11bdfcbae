"""Bad input and faults: one clear sentence, a hint, the right exit code, nothing lost.

Every test checks what the user sees on stderr and that the lock file and the
cache are exactly as they were before the failing command.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, Result
from support.repos import FixtureSet
from support.servers import Server

from gitimport.store import layout


@pytest.fixture
def synced(project: Project, fixture_repos: FixtureSet) -> Project:
    """A project with one module synced, so failures can be checked to keep it intact."""
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    return project


def fails_cleanly(project: Project, *args: str, code: int) -> Result:
    """Run a command that must fail, and check that it changed nothing."""
    lock, cache = project.lock_text(), project.cache_files()
    result = project.cli(*args)
    assert result.code == code, (result.code, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: ") and lines[-1].startswith("hint: "), result.err
    assert "Traceback" not in result.err
    assert project.lock_text() == lock
    assert project.cache_files() == cache
    assert not list((project.cache / layout.TMP).glob("*")) if (project.cache / layout.TMP).exists() else True
    return result


def add_module(project: Project, name: str, spec: str) -> None:
    text = project.config_path.read_text(encoding="utf-8")
    project.config_path.write_text(text + f'"{name}" = "{spec}"\n', encoding="utf-8")


def test_malformed_spec_quotes_it_and_names_the_part(synced: Project) -> None:
    add_module(synced, "bad", "https://example.com/repo")

    result = fails_cleanly(synced, "sync", code=2)

    assert "'https://example.com/repo'" in result.err and "no @REF" in result.err and "'bad'" in result.err


def test_path_escaping_the_repository_is_refused(synced: Project) -> None:
    add_module(synced, "bad", "https://example.com/repo@v1:../etc")

    result = fails_cleanly(synced, "sync", code=2)

    assert "'..'" in result.err


def test_malformed_toml_names_file_line_and_column(synced: Project) -> None:
    synced.config_path.write_text('[modules]\nhelper = "x@v1"\nbroken = \n', encoding="utf-8")

    result = fails_cleanly(synced, "sync", code=2)

    assert f"{synced.config_path}:3:" in result.err and "invalid TOML" in result.err


def test_invalid_module_name(synced: Project) -> None:
    add_module(synced, "not-valid", "./x@v1")

    result = fails_cleanly(synced, "sync", code=2)

    assert "'not-valid'" in result.err and "identifier" in result.err


def test_duplicate_names_in_quoted_and_dotted_form(synced: Project) -> None:
    text = synced.config_path.read_text(encoding="utf-8")
    synced.config_path.write_text(text + '"acme.tools" = "./a@v1"\nacme.tools = "./b@v1"\n', encoding="utf-8")

    result = fails_cleanly(synced, "sync", code=2)

    assert "acme" in result.err


def test_no_configuration_at_all(project: Project) -> None:
    result = fails_cleanly(project, "sync", code=2)

    assert "No gitimport configuration" in result.err


@pytest.fixture
def unresolvable_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A host name the resolver rejects, without asking any DNS server beyond this machine."""
    host = "no-such-host.invalid"
    real = socket.getaddrinfo

    def getaddrinfo(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield host


def test_unknown_host(synced: Project, unresolvable_host: str) -> None:
    add_module(synced, "remote", f"https://{unresolvable_host}/org/repo@v1")

    result = fails_cleanly(synced, "sync", code=1)

    assert "Cannot resolve the host" in result.err and unresolvable_host in result.err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_connection_refused(synced: Project, scheme: str) -> None:
    add_module(synced, "remote", f"{scheme}://127.0.0.1:{closed_port()}/toolbox@v1")

    result = fails_cleanly(synced, "sync", code=1)

    assert "Connection refused" in result.err and "127.0.0.1" in result.err


@pytest.mark.parametrize("kind", ["git-http-backend", "dulwich-http", "git-daemon"])
def test_repository_not_found(synced: Project, fixture_repos: FixtureSet, serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(kind, fixture_repos.root)
    add_module(synced, "remote", f"{server.repo_url('nope')}@v1")

    result = fails_cleanly(synced, "sync", code=1)

    assert "No git repository at" in result.err or "hung up" in result.err
    assert "nope" in result.err


def test_local_repository_not_found(synced: Project, tmp_path: Path) -> None:
    add_module(synced, "remote", f"{tmp_path / 'missing'}@v1")

    result = fails_cleanly(synced, "sync", code=1)

    assert "No git repository at" in result.err


def test_ref_not_found_suggests_close_names(synced: Project, git_http_backend_server: Server) -> None:
    add_module(synced, "remote", f"{git_http_backend_server.repo_url('toolbox')}@v3:tools/helper.py")

    result = fails_cleanly(synced, "sync", code=2)

    assert "Ref 'v3' is not in" in result.err and "did you mean" in result.err and "'v1'" in result.err


def test_abbreviated_commit_id_gets_a_hint(synced: Project, fixture_repos: FixtureSet) -> None:
    short = fixture_repos["toolbox"].commits[0][:10]
    add_module(synced, "remote", f"{fixture_repos['toolbox'].path}@{short}")

    result = fails_cleanly(synced, "sync", code=2)

    assert "40 hex" in result.err


def test_unknown_full_commit_id(synced: Project, git_http_backend_server: Server) -> None:
    add_module(synced, "remote", f"{git_http_backend_server.repo_url('toolbox')}@{'0' * 40}")

    result = fails_cleanly(synced, "sync", code=1)

    assert "toolbox" in result.err


def test_path_not_in_the_commit_suggests_close_names(synced: Project, fixture_repos: FixtureSet) -> None:
    add_module(synced, "remote", f"{fixture_repos['toolbox'].path}@v1:tools/helpr.py")

    result = fails_cleanly(synced, "sync", code=2)

    assert "PATH 'tools/helpr.py' is not in commit" in result.err and "tools/helper.py" in result.err


def test_path_that_is_not_a_python_file(synced: Project, fixture_repos: FixtureSet) -> None:
    add_module(synced, "remote", f"{fixture_repos['toolbox'].path}@v1:pyproject.toml")

    result = fails_cleanly(synced, "sync", code=2)

    assert "not a .py module" in result.err


def test_name_not_found_at_the_repository_root(synced: Project, fixture_repos: FixtureSet) -> None:
    add_module(synced, "missing_here", f"{fixture_repos['toolbox'].path}@v1")

    result = fails_cleanly(synced, "sync", code=2)

    assert "missing_here.py" in result.err and "':PATH'" in result.err


def test_offline_and_not_cached(synced: Project, git_http_backend_server: Server) -> None:
    add_module(synced, "remote", f"{git_http_backend_server.repo_url('toolbox')}@v1:lib")

    result = fails_cleanly(synced, "sync", "--offline", code=1)

    assert "Offline" in result.err and "remote" in result.err
    assert git_http_backend_server.requests == []


def test_offline_with_a_pinned_commit_that_is_not_cached(
    synced: Project, git_http_backend_server: Server, fixture_repos: FixtureSet
) -> None:
    add_module(synced, "remote", f"{git_http_backend_server.repo_url('other')}@{fixture_repos['other'].commits[0]}")

    result = fails_cleanly(synced, "sync", "--offline", code=1)

    assert "not in the cache" in result.err


def test_frozen_and_not_locked(synced: Project, fixture_repos: FixtureSet) -> None:
    add_module(synced, "rootmod", f"{fixture_repos['toolbox'].path}@v1:lib")

    result = fails_cleanly(synced, "sync", "--frozen", code=3)

    assert "rootmod is not in the lock" in result.err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text.replace("version = 1", "version = 99"), "unsupported lock version 99"),
        (lambda text: text.replace('kind = "module"', ""), "lacks the field(s) kind"),
        (lambda text: text.replace('commit = "', 'commit = "zz', 1), "not 40 lowercase hex"),
        (lambda text: text.replace("[modules.helper]", "[modules.helper"), "invalid TOML"),
        (lambda text: text.replace('digest = "sha256:', 'digest = "md5:'), "digest"),
    ],
)
def test_corrupt_lock_file(synced: Project, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    synced.lock_path.write_text(damage(synced.lock_text()), encoding="utf-8")

    result = fails_cleanly(synced, "sync", code=2)

    assert message in result.err and str(synced.lock_path) in result.err


def test_lock_that_disagrees_with_the_commit_is_refused(synced: Project) -> None:
    text = synced.lock_text()
    assert text is not None
    shutil.rmtree(synced.cache / layout.TREES)
    entry_object = text.split('object = "')[1][:40]
    synced.lock_path.write_text(text.replace(entry_object, "f" * 40), encoding="utf-8")

    result = synced.cli("sync")

    assert result.code == 1
    assert "the lock says ffffffffffff" in result.err


def test_digest_that_differs_from_the_lock_is_refused(synced: Project) -> None:
    text = synced.lock_text()
    assert text is not None
    shutil.rmtree(synced.cache / layout.TREES)
    digest = text.split('digest = "sha256:')[1][:64]
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    synced.lock_path.write_text(text.replace(digest, wrong), encoding="utf-8")
    before = synced.lock_text()

    result = synced.cli("sync")

    assert result.code == 1, result.err
    assert "digest" in result.err and "the lock says" in result.err
    assert synced.lock_text() == before
    assert not (synced.cache / layout.TREES).exists() or not any((synced.cache / layout.TREES).iterdir())


def test_insecure_transport_to_a_remote_host_is_refused(synced: Project) -> None:
    add_module(synced, "remote", "http://git.example.com/org/repo@v1")

    result = fails_cleanly(synced, "sync", code=2)

    assert "Refusing http://" in result.err and "insecure-hosts" in result.err


def test_host_outside_allow_hosts_is_refused(project: Project, git_http_backend_server: Server) -> None:
    project.configure({"remote": f"{git_http_backend_server.repo_url('toolbox')}@v1:lib"}, settings='allow-hosts = ["git.example.com"]')

    result = fails_cleanly(project, "sync", code=2)

    assert "not in allow-hosts" in result.err
    assert git_http_backend_server.requests == []


def test_unknown_config_key(synced: Project) -> None:
    synced.config_path.write_text("ofline = true\n" + synced.config_path.read_text(), encoding="utf-8")

    result = fails_cleanly(synced, "sync", code=2)

    assert "unknown key(s) 'ofline'" in result.err


def test_verbose_shows_the_traceback(synced: Project) -> None:
    add_module(synced, "bad", "nonsense")

    result = synced.cli("sync", "--verbose")

    assert result.code == 2 and "Traceback" in result.err


def test_which_of_an_unknown_module(synced: Project) -> None:
    result = fails_cleanly(synced, "which", "nothing", code=2)

    assert "'nothing' is not a locked module" in result.err


def test_run_without_a_command(synced: Project) -> None:
    result = fails_cleanly(synced, "run", code=2)

    assert "needs a command" in result.err


def test_run_of_a_missing_command(synced: Project) -> None:
    result = fails_cleanly(synced, "run", "--", "no-such-command-anywhere", code=2)

    assert "Command not found" in result.err
