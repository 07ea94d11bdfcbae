"""The host policy holds after redirects, and ``timeout`` bounds a whole operation.

Redirects: fronts on 127.0.0.1 (support/redirects.py) redirect to, or relay
to, a real git server.  Every URL contacted after a redirect passes the same
checks as the spec's URL; https:// is never downgraded to http:// unless the
host is in insecure-hosts; credentials never go to another origin.

Deadlines: relays and an ssh command (support/hostile.py) pass the real
server's answer on one byte every 0.3 s, which no per-read timeout catches.
With ``timeout = 2`` sync fails within seconds with one sentence and a hint,
and leaves the lock and the cache as they were.  Those syncs run in a child
process with a time limit of their own, so a sync that never ends fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable

import dulwich
import pytest
from dulwich.errors import HangupException
from support.hostile import Drip, DrippingSsh, dripping_relay
from support.project import Project
from support.redirects import Front, front, self_signed_certificate
from support.repos import FixtureSet
from support.servers import Server, git_available, serve_git_daemon, serve_git_http_backend

from gitimport.project.lock import read_lock
from gitimport.remote.transport import Deadline
from gitimport.store import layout

USER, TOKEN = "ci-bot", "s3cr3t-t0ken-value"
ALLOW_LOOPBACK_IP = 'allow-hosts = ["127.0.0.1"]'


#: the developer's git config, .netrc and proxies stay out of every test here
pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    import gitimport.remote.fetch

    monkeypatch.setattr(gitimport.remote.fetch, "RETRY_BACKOFF_SECONDS", 0.05)


def error_lines(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    return lines


def assert_nothing_cached(project: Project) -> None:
    assert project.lock_text() is None
    repos = project.cache / layout.REPOS
    assert not repos.exists() or not any(repos.iterdir())


def spec_through(base: str, ref_path: str = "v1:tools/helper.py") -> str:
    return f"{base.rstrip('/')}/toolbox@{ref_path}"


# ---------------------------------------------------------------------------
# Redirects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("hops", [1, 2])
def test_a_redirect_to_a_host_outside_allow_hosts_is_refused_before_it_is_contacted(
    project: Project, fixture_repos: FixtureSet, hops: int
) -> None:
    """127.0.0.1 is allowed; ``localhost`` is the same machine under a name that is not."""
    with ExitStack() as stack:
        server = stack.enter_context(serve_git_http_backend(fixture_repos.root))
        entry = stack.enter_context(front("redirect", server.url.replace("127.0.0.1", "localhost")))
        first_hop = entry
        for _ in range(hops - 1):
            entry = stack.enter_context(front("redirect", entry.url))
        project.configure({"helper": spec_through(entry.url)}, settings=ALLOW_LOOPBACK_IP)

        result = project.cli("sync")

    assert result.code == 2, result.err
    message, hint = error_lines(result.err)
    assert "redirect" in message and "'localhost'" in message and "allow-hosts" in message
    assert f"http://localhost:{server.url.rsplit(':', 1)[1]}/toolbox" in message
    assert "allow-hosts" in hint
    assert len(first_hop.requests) == 1  # the redirect was asked for once, never retried
    assert server.requests == []  # the host behind the refused redirect heard nothing
    assert_nothing_cached(project)


@pytest.mark.parametrize("kind", ["git-http-backend", "dulwich-http"])
def test_a_redirect_to_another_port_of_an_allowed_host_is_followed(
    project: Project, fixture_repos: FixtureSet, serve: Callable[..., Server], kind: str
) -> None:
    server: Server = serve(kind, fixture_repos.root)
    with front("redirect", server.url, status=301) as entry:
        project.configure({"helper": spec_through(entry.url)}, settings=ALLOW_LOOPBACK_IP)

        result = project.cli("sync")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["helper"].url == f"{entry.url}/toolbox"  # the spec's URL, not the target
    assert entry.requests and server.fetches("toolbox") >= 1
    assert project.cli("verify").code == 0


@pytest.fixture
def https_front_trusted(tmp_path: Path, isolated_home: Path) -> tuple[Path, Path]:
    """A certificate for an HTTPS front on 127.0.0.1, trusted through git's http.sslCAInfo."""
    cert, key = self_signed_certificate(tmp_path)
    (isolated_home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {cert}\n")
    return cert, key


def test_https_through_a_front_with_a_trusted_self_signed_certificate_works(
    project: Project, git_http_backend_server: Server, https_front_trusted: tuple[Path, Path]
) -> None:
    """The control for the downgrade tests: TLS to the loopback front itself is sound."""
    with front("relay", git_http_backend_server.url, tls=https_front_trusted) as entry:
        assert entry.url.startswith("https://")
        project.configure({"helper": spec_through(entry.url)})

        result = project.cli("sync")

    assert result.code == 0, result.err
    assert git_http_backend_server.fetches("toolbox") == 2  # the commit and its trees, then the blob (a partial fetch)


def test_a_redirect_from_https_to_http_is_refused(
    project: Project, git_http_backend_server: Server, https_front_trusted: tuple[Path, Path]
) -> None:
    """Loopback is exempt from the rule against http:// in a spec, but not from a downgrade the server chose."""
    with front("redirect", git_http_backend_server.url, tls=https_front_trusted) as entry:
        project.configure({"helper": spec_through(entry.url)})

        result = project.cli("sync")

    assert result.code == 2, result.err
    message, hint = error_lines(result.err)
    assert "redirect" in message and entry.url in message and git_http_backend_server.url in message
    assert "https://" in message and "http://" in message and "insecure-hosts" in hint
    assert git_http_backend_server.requests == []
    assert_nothing_cached(project)


def test_a_redirect_from_https_to_http_is_followed_for_an_insecure_host(
    project: Project, git_http_backend_server: Server, https_front_trusted: tuple[Path, Path]
) -> None:
    with front("redirect", git_http_backend_server.url, tls=https_front_trusted) as entry:
        project.configure({"helper": spec_through(entry.url)}, settings='insecure-hosts = ["127.0.0.1"]')

        result = project.cli("sync")

    assert result.code == 0, result.err
    assert git_http_backend_server.fetches("toolbox") == 2  # the commit and its trees, then the blob (a partial fetch)


def authorization_headers(seen: Front) -> list[str]:
    return [value for request in seen.requests for name, value in request.headers.items() if name.lower() == "authorization"]


def test_credentials_are_never_sent_to_the_origin_a_redirect_leads_to(project: Project, git_http_backend_server: Server) -> None:
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    with front("relay", git_http_backend_server.url) as other, front("redirect", other.url) as entry:
        url = entry.url.replace("http://", f"http://{USER}:{TOKEN}@")
        project.configure({"helper": spec_through(url)}, settings=ALLOW_LOOPBACK_IP)

        result = project.cli("sync")

    assert result.code == 0, result.err
    assert authorization_headers(entry) == [expected] * len(entry.requests)  # the spec's own origin got them
    assert other.requests and authorization_headers(other) == []  # every request to the other port went without
    assert TOKEN not in result.out + result.err and TOKEN not in (project.lock_text() or "")


def test_credentials_follow_a_redirect_within_their_origin(
    project: Project, serve: Callable[..., Server], fixture_repos: FixtureSet
) -> None:
    """``/toolbox`` -> ``/toolbox.git`` on the same host and port, in front of a server that demands them."""
    private: Server = serve("git-http-backend", fixture_repos.root, auth=(USER, TOKEN))
    with front("add-git", private.url) as entry:
        url = entry.url.replace("http://", f"http://{USER}:{TOKEN}@")
        project.configure({"helper": spec_through(url)})

        result = project.cli("sync")

    assert result.code == 0, result.err
    assert any(r.path.startswith("/toolbox.git/") for r in entry.requests)
    assert private.fetches("toolbox") == 2 and all(r.status == 200 for r in private.requests)


# ---------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------

DRIP_SETTINGS = "timeout = 2\nretries = 1"
WITHIN = 30.0
"""Seconds a child sync may take before the test calls it hung (the deadline makes it ~5 s)."""


def run_within(project: Project, *command: str, **extra_env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    try:
        done = subprocess.run(list(command), cwd=project.root, env=project.env(**extra_env), capture_output=True, text=True, timeout=WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command[-2:])} was still running after {WITHIN:g} s against a server that drips")
    return done, time.monotonic() - start


def gitimport_sync(project: Project) -> tuple[subprocess.CompletedProcess[str], float]:
    return run_within(project, sys.executable, "-m", "gitimport", "sync")


@contextmanager
def dripping(
    transport: str, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_at: bytes
) -> Iterator[tuple[str, Drip | DrippingSsh]]:
    """A base URL whose server drips, and the switch that turns the drip on and off."""
    if transport == "ssh":
        if not git_available():
            pytest.skip("git is not installed: no git-upload-pack to run over ssh")
        ssh = DrippingSsh(tmp_path / "ssh", start_at=start_at)
        monkeypatch.setenv("GIT_SSH_COMMAND", str(ssh.command))
        yield f"ssh://git@example.test:2222{fixture_repos.root}", ssh
        return
    serving = serve_git_http_backend if transport == "http" else serve_git_daemon
    with serving(fixture_repos.root) as server, dripping_relay(server.url, start_at=start_at) as drip:
        yield drip.url, drip


def assert_no_temporaries(project: Project) -> None:
    leftovers = [
        p for pattern in ("tmp_pack_*", "incoming-*", "pack/tmp_*") for p in (project.cache / layout.REPOS).glob(f"*/objects/{pattern}")
    ]
    assert leftovers == []
    build = project.cache / layout.TMP
    assert not build.exists() or not any(build.iterdir())


@pytest.mark.parametrize("transport", ["http", "git", "ssh"])
def test_a_server_that_drips_its_ref_advertisement_times_out(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    with dripping(transport, fixture_repos, tmp_path, monkeypatch, start_at=b"") as (base, drip):
        project.configure({"helper": spec_through(base)}, settings=DRIP_SETTINGS)

        done, elapsed = gitimport_sync(project)

        assert done.returncode == 1, done.stderr
        assert elapsed < 15
        message, hint = error_lines(done.stderr)
        assert message.startswith("error: Timed out after 2 s talking to ") and "timeout" in hint
        assert drip.connections == 2  # retries = 1: the timeout is retried once, like any transient fault
    assert_nothing_cached(project)
    assert_no_temporaries(project)


@pytest.mark.parametrize("transport", ["http", "git", "ssh"])
def test_a_server_that_drips_the_pack_times_out_and_leaves_lock_and_cache_as_they_were(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    with dripping(transport, fixture_repos, tmp_path, monkeypatch, start_at=b"PACK") as (base, drip):
        drip.dripping = False
        project.configure({"helper": spec_through(base, "v1:tools/helper.py")}, settings=DRIP_SETTINGS)
        done, _ = gitimport_sync(project)
        assert done.returncode == 0, done.stderr
        lock = project.lock_text()
        project.configure({"helper": spec_through(base, "v2:tools/helper.py")}, settings=DRIP_SETTINGS)
        drip.dripping = True

        done, elapsed = gitimport_sync(project)

        assert done.returncode == 1, done.stderr
        assert elapsed < 15
        message, _ = error_lines(done.stderr)
        assert message.startswith("error: Timed out after 2 s talking to ")
        assert drip.dripped == 2  # the attempt and its retry; a timeout does not fall back to a deeper fetch
        assert project.lock_text() == lock
        assert_no_temporaries(project)
        drip.dripping = False
        done, _ = gitimport_sync(project)
        assert done.returncode == 0, done.stderr  # the cache the timeout left behind is sound
    assert read_lock(project.lock_path).modules["helper"].ref == "v2"
    assert project.cli("verify").code == 0


@pytest.fixture
def proxy_left_behind(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Wraps an ssh command so that it leaves a process behind holding its stderr, as ``ProxyCommand nc %h %p`` does.

    OpenSSH's proxy command inherits ssh's stderr, and ``nc`` stays until the
    server closes its end, whatever becomes of ssh.
    """
    folder = tmp_path / "proxy"
    folder.mkdir()

    def wrap(command: str) -> str:
        wrapper = folder / "ssh-with-proxy"
        wrapper.write_text(f'#!/bin/sh\nsleep 60 </dev/null >/dev/null &\necho $! >> "{folder}/holders"\nexec {command} "$@"\n')
        wrapper.chmod(0o755)
        return str(wrapper)

    yield wrap
    holders = folder / "holders"
    for pid in holders.read_text().split() if holders.exists() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_a_proxy_left_holding_stderr_does_not_outlast_the_deadline(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy_left_behind: Callable[[str], str]
) -> None:
    with dripping("ssh", fixture_repos, tmp_path, monkeypatch, start_at=b"") as (base, drip):
        monkeypatch.setenv("GIT_SSH_COMMAND", proxy_left_behind(str(drip.command)))  # type: ignore[union-attr]
        project.configure({"helper": spec_through(base)}, settings=DRIP_SETTINGS)

        done, elapsed = gitimport_sync(project)

        assert done.returncode == 1, done.stderr
        assert elapsed < 15
        assert error_lines(done.stderr)[0].startswith("error: Timed out after 2 s talking to ")
    assert_nothing_cached(project)


def test_an_ssh_refusal_is_reported_at_once_while_a_proxy_holds_stderr(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy_left_behind: Callable[[str], str]
) -> None:
    refusing = tmp_path / "refusing-ssh"
    refusing.write_text('#!/bin/sh\necho "git@example.test: Permission denied (publickey)." >&2\nexit 255\n')
    refusing.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", proxy_left_behind(str(refusing)))
    project.configure({"helper": spec_through(f"ssh://git@example.test:2222{fixture_repos.root}")}, settings="timeout = 20\nretries = 1")

    done, elapsed = gitimport_sync(project)

    assert done.returncode == 1, done.stderr
    assert elapsed < 15  # not the 20 s deadline, nor the 60 s the proxy lives
    message, _ = error_lines(done.stderr)
    if dulwich.__version__ >= (1,):  # 0.24 (Python 3.9) does not read ssh's stderr when ssh ends before its first line
        assert message.endswith(" hung up: git@example.test: Permission denied (publickey).")


def test_a_process_an_operation_abandons_is_stopped_and_waited_for() -> None:
    """dulwich leaves its ssh process running on some errors; the deadline stops and reaps it as the operation ends.

    Otherwise the connection's finalizer waits for it, up to 60 s, at interpreter exit if not before:
    CI once saw a timed-out sync still running 30 s after it had printed its error.
    """
    deadline = Deadline()
    with pytest.raises(HangupException), deadline.running(60):
        process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        deadline.track_process(process)
        raise HangupException()  # as dulwich raises it, with the connection open

    assert process.returncode is not None


def test_an_import_on_the_cold_path_is_bounded_by_the_timeout_too(project: Project, git_http_backend_server: Server) -> None:
    with dripping_relay(git_http_backend_server.url) as drip:
        project.configure({"helper": spec_through(drip.url)})
        code = "try:\n    import helper\nexcept ImportError as exc:\n    print(exc)\n"

        done, elapsed = run_within(
            project,
            sys.executable,
            "-m",
            "gitimport",
            "run",
            "--",
            sys.executable,
            "-c",
            code,
            GITIMPORT_TIMEOUT="2",
            GITIMPORT_RETRIES="0",
        )

    assert done.returncode == 0, done.stderr
    assert elapsed < 15
    assert "Timed out after 2 s talking to " in done.stdout
    assert project.lock_text() is None


def test_a_server_that_drips_its_tls_handshake_times_out(
    project: Project, git_http_backend_server: Server, https_front_trusted: tuple[Path, Path]
) -> None:
    """The TLS handshake runs before urllib3 hands over its TLS socket; CPython bounds it by the socket timeout."""
    with front("relay", git_http_backend_server.url, tls=https_front_trusted) as entry, dripping_relay(entry.url) as drip:
        project.configure({"helper": spec_through(drip.url)}, settings=DRIP_SETTINGS)

        done, elapsed = gitimport_sync(project)

    assert done.returncode == 1, done.stderr
    assert elapsed < 15
    message, _ = error_lines(done.stderr)
    assert message.startswith("error: Timed out after 2 s talking to https://")
    assert_nothing_cached(project)
