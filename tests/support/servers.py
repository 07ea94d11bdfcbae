"""Serve a folder of bare repositories over real git protocols on 127.0.0.1.

Each context manager yields a :class:`Server` whose ``url`` is a base URL:
``f"{server.url}/{name}"`` clones ``<root>/<name>`` (or ``<root>/<name>.git``).
Every server records the requests it handled in ``server.requests``, recorded
before the reply is sent, so a test can assert on them as soon as its client
call returns (e.g. "one fetch per repository").

- :func:`serve_dulwich_http`: dulwich's own smart-HTTP WSGI app (protocol v0 only,
  refuses fetching a non-tip commit by id).
- :func:`serve_git_http_backend`: ``git http-backend`` as CGI behind a small
  threaded HTTP server; protocol v2, any commit by id, filters, optional Basic auth.
- :func:`serve_git_daemon`: ``git daemon`` behind a counting TCP relay (``git://``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import io
import logging
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Callable
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import FileSystemBackend
from dulwich.web import make_wsgi_chain

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 10.0
CGI_TIMEOUT = 60.0

UPLOAD_PACK_CONFIG = {
    "uploadpack.allowAnySHA1InWant": "true",
    "uploadpack.allowReachableSHA1InWant": "true",
    "uploadpack.allowTipSHA1InWant": "true",
    "uploadpack.allowFilter": "true",
}
"""Server-side git config: let clients fetch any commit by id, and filter."""

NO_FILTER_CONFIG = {
    "uploadpack.allowAnySHA1InWant": "false",
    "uploadpack.allowReachableSHA1InWant": "false",
    "uploadpack.allowFilter": "false",
}
"""``git_config=`` for a server that neither filters nor (in protocol v0) lets objects be wanted by id: a plain host."""

#: The credentials the private-repository tests' server (the ``private_server`` fixture) demands.
PRIVATE_USER, PRIVATE_TOKEN = "ci-bot", "s3cr3t-t0ken-value"

_SERVICE_SUFFIXES = ("/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD", "/objects/")


# --------------------------------------------------------------------------
# Request records
# --------------------------------------------------------------------------


@dataclass
class Request:
    """One thing a server did for a client.

    ``command`` is the git operation: ``"advertise"`` (ref or capability
    advertisement), ``"ls-refs"``, ``"fetch"`` (a pack was asked for),
    ``"push"``, or ``None`` for anything else (dumb-HTTP reads, errors).
    """

    method: str
    """HTTP method, or ``"GIT"`` for a git:// connection."""
    path: str
    repo: str
    """Repository name without a ``.git`` suffix."""
    command: str | None = None
    status: int | None = None
    """HTTP status; ``None`` over git://."""


@dataclass
class Server:
    """A running server: its base URL and what it has served so far."""

    url: str
    kind: str
    root: Path
    requests: list[Request] = field(default_factory=list)
    pid: int | None = None
    """Process id of the git daemon, so tests can check it is gone afterwards."""
    log: Path | None = None
    """nginx's access log."""

    def __str__(self) -> str:
        return self.url

    def repo_url(self, name: str) -> str:
        """Clonable URL of ``<root>/<name>``."""
        return f"{self.url}/{name}"

    def fetches(self, repo: str | None = None) -> int:
        """How many pack fetches were served (for one repository, or in total)."""
        return sum(1 for r in self.requests if r.command == "fetch" and repo in (None, r.repo))

    def clear(self) -> None:
        """Forget recorded requests, e.g. between two phases of a test."""
        self.requests.clear()


def repo_name_from_path(path: str) -> str:
    """``/toolbox.git/info/refs`` -> ``toolbox``."""
    for suffix in _SERVICE_SUFFIXES:
        index = path.find(suffix)
        if index != -1:
            path = path[:index]
            break
    name = path.strip("/")
    return name[: -len(".git")] if name.endswith(".git") else name


class PktLineScanner:
    """Find the git commands in a client's pkt-line stream.

    Client-to-server traffic of upload-pack is pkt-lines only, so a small
    parser can tell an ``ls-refs`` from a ``fetch`` without understanding
    the rest. v2 sends ``command=<name>`` lines; v0 sends ``want`` lines,
    which count as one fetch per stream.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._saw_v2_command = False
        self._saw_want = False
        self._broken = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete pkt-line payloads now available."""
        if self._broken:
            return []
        self._buffer += data
        payloads: list[bytes] = []
        while len(self._buffer) >= 4:
            try:
                length = int(self._buffer[:4], 16)
            except ValueError:
                self._broken = True  # not pkt-lines (e.g. a pushed pack): stop
                return payloads
            if length < 4:  # flush, delimiter, response-end
                self._buffer = self._buffer[4:]
                continue
            if len(self._buffer) < length:
                break
            payloads.append(self._buffer[4:length])
            self._buffer = self._buffer[length:]
        return payloads

    def command_of(self, payload: bytes) -> str | None:
        """The command a payload starts, if any."""
        if payload.startswith(b"command="):
            self._saw_v2_command = True
            return payload[len(b"command=") :].strip().decode("ascii", "replace")
        if payload.startswith(b"want ") and not self._saw_v2_command and not self._saw_want:
            self._saw_want = True
            return "fetch"
        return None

    def commands(self, data: bytes) -> list[str]:
        """Feed ``data`` and return the commands it completed."""
        found = [self.command_of(p) for p in self.feed(data)]
        return [c for c in found if c is not None]


def _commands_in_body(body: bytes, content_encoding: str | None) -> list[str]:
    """Commands inside an upload-pack POST body (gzip bodies are unpacked)."""
    if content_encoding == "gzip":
        try:
            body = gzip.decompress(body)
        except OSError:
            return []
    return PktLineScanner().commands(body)


def _http_command(method: str, path: str, query: str, body: bytes, encoding: str | None) -> str | None:
    """Classify one smart-HTTP request for :class:`Request`."""
    if method == "GET" and path.endswith("/info/refs") and "service=" in query:
        return "advertise"
    if method == "POST" and path.endswith("/git-receive-pack"):
        return "push"
    if method == "POST" and path.endswith("/git-upload-pack"):
        commands = _commands_in_body(body, encoding)
        if "fetch" in commands:
            return "fetch"
        return commands[0] if commands else None
    return None


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def git_executable() -> str | None:
    """Path of the git CLI, or None."""
    return shutil.which("git")


@functools.cache
def git_available() -> bool:
    """True when the git CLI is installed and runs (checked once per process)."""
    git = git_executable()
    if git is None:
        return False
    try:
        subprocess.run([git, "--version"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@functools.cache
def git_http_backend_available() -> bool:
    """True when ``git http-backend`` exists (some distributions split it out)."""
    git = git_executable()
    if not git_available() or git is None:
        return False
    exec_path = subprocess.run([git, "--exec-path"], capture_output=True, text=True, timeout=10).stdout.strip()
    return Path(exec_path, "git-http-backend").exists()


def _require(available: bool, what: str) -> None:
    if not available:
        import pytest

        pytest.skip(f"{what} is not installed")


def git_env(extra_config: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git server processes: no user/system config, our config only.

    Config goes in through GIT_CONFIG_COUNT/KEY/VALUE, which child processes
    (upload-pack under http-backend or daemon) inherit.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    config = dict(UPLOAD_PACK_CONFIG)
    config.update(extra_config or {})
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Run ``server.serve_forever`` in a thread; shut down and join on exit."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()  # joins request threads (block_on_close)
        thread.join(timeout=10)


# --------------------------------------------------------------------------
# dulwich.web
# --------------------------------------------------------------------------


class RootBackend(FileSystemBackend):
    """FileSystemBackend that works for URL paths.

    dulwich passes ``/name`` (sometimes as bytes); joined as-is the leading
    slash escapes the root. Also accepts ``<name>.git`` folders, and remembers
    opened repos so they can be closed after the response.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self._root_path = root.resolve()
        self._local = threading.local()

    def open_repository(self, path: str | bytes) -> Repo:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        relative = path.strip("/")
        candidate = (self._root_path / relative).resolve()
        if not candidate.is_dir() and candidate.with_name(candidate.name + ".git").is_dir():
            candidate = candidate.with_name(candidate.name + ".git")
        if self._root_path not in candidate.parents:
            raise NotGitRepository(f"{path!r} is not inside {self._root_path}")
        repo = Repo(str(candidate))  # raises NotGitRepository if it is none
        self._opened().append(repo)
        return repo

    def _opened(self) -> list[Repo]:
        if not hasattr(self._local, "repos"):
            self._local.repos = []
        opened: list[Repo] = self._local.repos
        return opened

    def close_opened(self) -> None:
        """Close the repos this thread opened (avoids unclosed-pack warnings)."""
        for repo in self._opened():
            repo.close()
        self._local.repos = []


class _RecordingApp:
    """WSGI middleware: records each request and closes repos afterwards."""

    def __init__(self, app: Callable[..., Iterable[bytes]], backend: RootBackend, requests: list[Request]) -> None:
        self.app = app
        self.backend = backend
        self.requests = requests

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        body = self._buffer_body(environ)
        record = Request(
            method=method,
            path=path,
            repo=repo_name_from_path(path),
            command=_http_command(
                method,
                path,
                environ.get("QUERY_STRING", ""),
                body,
                environ.get("HTTP_CONTENT_ENCODING"),
            ),
        )

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            record.status = int(status.split()[0])
            self.requests.append(record)  # before any byte reaches the client
            return start_response(status, headers, exc_info)

        try:
            yield from self.app(environ, recording_start_response)
        finally:
            self.backend.close_opened()

    @staticmethod
    def _buffer_body(environ: dict[str, Any]) -> bytes:
        """Read a sized body so it can be inspected, then hand it on unchanged."""
        length = environ.get("CONTENT_LENGTH") or ""
        if not length.isdigit():
            return b""  # chunked or empty: leave the stream alone
        body: bytes = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        return body


class _QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("dulwich-http: " + format, *args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = False
    block_on_close = True


@contextlib.contextmanager
def serve_dulwich_http(root: Path) -> Iterator[Server]:
    """Serve ``root`` with dulwich.web's smart-HTTP app (protocol v0 only)."""
    root = Path(root)
    requests: list[Request] = []
    backend = RootBackend(root)
    app = _RecordingApp(make_wsgi_chain(backend), backend, requests)
    httpd = make_server(HOST, 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietWSGIRequestHandler)
    with _serving(httpd):
        port = httpd.server_address[1]
        yield Server(url=f"http://{HOST}:{port}", kind="dulwich-http", root=root, requests=requests)


# --------------------------------------------------------------------------
# git http-backend
# --------------------------------------------------------------------------


@dataclass
class _CgiConfig:
    root: Path
    git: str
    env: dict[str, str]
    auth: tuple[str, str] | None
    requests: list[Request]
    ignore_filter: bool = False


def without_filter_lines(body: bytes) -> bytes:
    """A protocol v2 upload-pack request with its ``filter`` arguments taken out, the rest unchanged."""
    out = b""
    while len(body) >= 4:
        length = int(body[:4], 16)
        size = length if length >= 4 else 4
        packet, body = body[:size], body[size:]
        if not packet[4:].startswith(b"filter "):
            out += packet
    return out + body


class _RecordingHTTPHandler(BaseHTTPRequestHandler):
    """What the HTTP servers here share: HTTP Basic auth checked against ``(user, password)``, and a whole response sent."""

    def _authenticated_user(self, auth: tuple[str, str] | None) -> str | None:
        header = self.headers.get("Authorization", "")
        if auth is None or not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[len("Basic ") :]).decode("utf-8")
        except ValueError:
            return None
        user, _, password = decoded.partition(":")
        return user if (user, password) == auth else None

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class _GitHttpBackendHandler(_RecordingHTTPHandler):
    """Runs ``git http-backend`` once per request, as a web server would."""

    protocol_version = "HTTP/1.0"  # one request per connection: clean shutdown
    server: _CgiHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("git-http-backend: " + format, *args)

    def _handle(self) -> None:
        config = self.server.config
        url = urlsplit(self.path)
        body = self._read_body()
        encoding = self.headers.get("Content-Encoding")
        record = Request(
            method=self.command,
            path=url.path,
            repo=repo_name_from_path(url.path),
            command=_http_command(self.command, url.path, url.query, body, encoding),
        )
        user = self._authenticated_user(config.auth)
        if config.auth is not None and user is None:
            record.status = 401
            config.requests.append(record)
            self._send(401, [("WWW-Authenticate", 'Basic realm="gitimport-tests"')], b"authentication required\n")
            return
        if config.ignore_filter and encoding is None and self.headers.get("Git-Protocol") == "version=2":
            body = without_filter_lines(body)
        status, headers, payload = self._run_cgi(config, url.path, url.query, body, user)
        record.status = status
        config.requests.append(record)
        self._send(status, headers, payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        """Decode a chunked body (git sends large requests this way)."""
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk

    def _run_cgi(
        self, config: _CgiConfig, path: str, query: str, body: bytes, user: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        env = dict(config.env)
        env.update(
            GATEWAY_INTERFACE="CGI/1.1",
            GIT_PROJECT_ROOT=str(config.root),
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_ADDR=self.client_address[0],
        )
        optional = {
            "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol"),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding"),
            "REMOTE_USER": user,
        }
        env.update({k: v for k, v in optional.items() if v})
        proc = subprocess.run(
            [config.git, "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            timeout=CGI_TIMEOUT,
        )
        if proc.stderr:
            logger.debug("git http-backend stderr: %s", proc.stderr.decode("utf-8", "replace"))
        return parse_cgi_response(proc.stdout)


def parse_cgi_response(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split CGI output into (status, headers, body); ``Status:`` sets the code."""
    head, body = b"", output
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = output.find(separator)
        if index != -1:
            head, body = output[:index], output[index + len(separator) :]
            break
    status = 200
    headers = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


class _CgiHTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, config: _CgiConfig) -> None:
        super().__init__((HOST, 0), _GitHttpBackendHandler)
        self.config = config


@contextlib.contextmanager
def serve_git_http_backend(
    root: Path, auth: tuple[str, str] | None = None, git_config: dict[str, str] | None = None, ignore_filter: bool = False
) -> Iterator[Server]:
    """Serve ``root`` through ``git http-backend`` (protocol v2, any commit by id).

    With ``auth=(user, token)`` every request needs HTTP Basic credentials,
    else it gets 401 with ``WWW-Authenticate``: a private repository.
    ``git_config`` is laid over :data:`UPLOAD_PACK_CONFIG` (e.g.
    :data:`NO_FILTER_CONFIG`).  ``ignore_filter`` makes a server that
    advertises ``filter`` but sends every object anyway: the ``filter``
    lines of each protocol v2 request are taken out before git reads it.
    """
    _require(git_http_backend_available(), "git http-backend")
    root = Path(root).resolve()
    requests: list[Request] = []
    git = git_executable()
    assert git is not None
    config = _CgiConfig(root=root, git=git, env=git_env(git_config), auth=auth, requests=requests, ignore_filter=ignore_filter)
    httpd = _CgiHTTPServer(config)
    with _serving(httpd):
        port = httpd.server_address[1]
        yield Server(url=f"http://{HOST}:{port}", kind="git-http-backend", root=root, requests=requests)


# --------------------------------------------------------------------------
# git daemon
# --------------------------------------------------------------------------


class _RelayHandler(socketserver.BaseRequestHandler):
    """Relays one git:// connection to the daemon, noting what the client asks."""

    server: _RelayServer

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            upstream = socket.create_connection((HOST, self.server.upstream_port), timeout=10)
        except OSError:
            return
        upstream.settimeout(None)
        self.server.track(client, upstream)
        pump = threading.Thread(target=_copy_stream, args=(upstream, client), daemon=True)
        pump.start()
        try:
            self._relay_client(client, upstream)
        finally:
            pump.join(timeout=CGI_TIMEOUT)
            self.server.untrack(client, upstream)
            upstream.close()

    def _relay_client(self, client: socket.socket, upstream: socket.socket) -> None:
        scanner = PktLineScanner()
        repo: str | None = None
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _shutdown_write(upstream)
                return
            for payload in scanner.feed(data):
                if repo is None:
                    repo = self._record_connect(payload)
                    continue
                command = scanner.command_of(payload)
                if command is not None:
                    self.server.requests.append(Request("GIT", "/" + repo, repo, command))
            try:
                upstream.sendall(data)
            except OSError:
                return

    def _record_connect(self, payload: bytes) -> str:
        """First pkt-line: ``git-upload-pack /name\\0host=...\\0``."""
        request_line = payload.split(b"\0", 1)[0].decode("utf-8", "replace")
        service, _, path = request_line.partition(" ")
        repo = repo_name_from_path(path)
        command = "advertise" if service == "git-upload-pack" else None
        self.server.requests.append(Request("GIT", path, repo, command))
        return repo


def _copy_stream(source: socket.socket, dest: socket.socket) -> None:
    while True:
        try:
            data = source.recv(65536)
            if not data:
                break
            dest.sendall(data)
        except OSError:
            break
    _shutdown_write(dest)


def _shutdown_write(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


class _RelayServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, requests: list[Request]) -> None:
        super().__init__((HOST, 0), _RelayHandler)
        self.upstream_port = upstream_port
        self.requests = requests
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def untrack(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)

    def server_close(self) -> None:
        """Cut connections a client left open, so joining threads cannot hang."""
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        super().server_close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"git daemon exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"git daemon did not listen on port {port} within {timeout} s")


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the daemon and the per-connection children it forked."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _start_daemon(root: Path, log: IO[bytes], git_config: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Start git daemon on a free port; retry if another process took the port."""
    git = git_executable()
    assert git is not None
    last_error: Exception | None = None
    for _attempt in range(3):
        port = _free_port()
        command = [
            git,
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--informative-errors",
            f"--base-path={root}",
            f"--listen={HOST}",
            f"--port={port}",
            "--enable=upload-pack",
            str(root),
        ]
        proc = subprocess.Popen(
            command,
            env=git_env(git_config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            _wait_for_port(port, proc, STARTUP_TIMEOUT)
            return proc, port
        except (RuntimeError, TimeoutError) as error:
            last_error = error
            _stop_process_group(proc)
    raise RuntimeError(f"could not start git daemon: {last_error}")


@contextlib.contextmanager
def serve_git_daemon(root: Path, git_config: dict[str, str] | None = None) -> Iterator[Server]:
    """Serve ``root`` with ``git daemon`` (git://, protocol v2, any commit by id).

    Clients talk to a relay in front of the daemon, which records each
    command before passing it on, so counts are exact when the client returns.
    ``git_config`` is laid over :data:`UPLOAD_PACK_CONFIG`.
    """
    _require(git_available(), "git")
    root = Path(root).resolve()
    requests: list[Request] = []
    with tempfile.TemporaryFile() as log:
        proc, port = _start_daemon(root, log, git_config)
        try:
            relay = _RelayServer(port, requests)
            with _serving(relay):
                relay_port = relay.server_address[1]
                yield Server(
                    url=f"git://{HOST}:{relay_port}",
                    kind="git-daemon",
                    root=root,
                    requests=requests,
                    pid=proc.pid,
                )
        finally:
            _stop_process_group(proc)
            log.seek(0)
            output = log.read().decode("utf-8", "replace").strip()
            if output:
                logger.debug("git daemon log:\n%s", output)


SERVER_KINDS: dict[str, Callable[..., contextlib.AbstractContextManager[Server]]] = {
    "dulwich-http": serve_dulwich_http,
    "git-http-backend": serve_git_http_backend,
    "git-daemon": serve_git_daemon,
}
"""Kind name -> context manager, for parametrised tests."""


# --------------------------------------------------------------------------
# Static file hosts (tree mirrors)
# --------------------------------------------------------------------------


def nginx_executable() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.isfile(p)), None)


class _StaticHandler(_RecordingHTTPHandler):
    """GET of a file under the server's root, recorded; optional Basic auth, redirects and stalls."""

    server: _StaticServer

    def log_message(self, format: str, *args: Any) -> None:  # as BaseHTTPRequestHandler
        logger.debug("static: " + format, *args)

    def do_GET(self) -> None:  # http.server's naming
        config = self.server.static
        path = urlsplit(self.path).path
        request = Request("GET", path, "", None, None)
        config.requests.append(request)  # before answering: a stalled request is counted too
        request.status = self._answer(config, path)

    def _answer(self, config: _StaticConfig, path: str) -> int:
        if config.stall:
            time.sleep(config.stall)
            return 0
        if config.auth is not None and self._authenticated_user(config.auth) is None:
            self._send(401, [("WWW-Authenticate", 'Basic realm="mirror"')], b"")
            return 401
        if config.redirect_to is not None:
            self._send(302, [("Location", config.redirect_to + path)], b"")
            return 302
        file = (config.root / path.lstrip("/")).resolve()
        if not file.is_relative_to(config.root) or not file.is_file():
            self._send(404, [], b"")
            return 404
        self._send(200, [("Content-Type", "application/octet-stream")], file.read_bytes())
        return 200


@dataclass
class _StaticConfig:
    root: Path
    requests: list[Request]
    auth: tuple[str, str] | None = None
    redirect_to: str | None = None
    stall: float = 0.0


class _StaticServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, static: _StaticConfig) -> None:
        super().__init__((HOST, 0), _StaticHandler)
        self.static = static


@contextlib.contextmanager
def serve_static_python(
    root: Path, auth: tuple[str, str] | None = None, redirect_to: str | None = None, stall: float = 0.0
) -> Iterator[Server]:
    """Serve the files under ``root`` over plain HTTP with Python's http.server, recording every GET.

    ``auth`` asks for HTTP Basic credentials; ``redirect_to`` answers every
    request with a 302 to that base URL; ``stall`` holds every request that
    long without answering (a host that accepts but never replies).
    """
    config = _StaticConfig(Path(root).resolve(), [], auth, redirect_to, stall)
    httpd = _StaticServer(config)
    with _serving(httpd):  # daemon request threads: a stalled request is not waited for
        yield Server(url=f"http://{HOST}:{httpd.server_address[1]}", kind="http.server", root=config.root, requests=config.requests)


@contextlib.contextmanager
def serve_static_nginx(root: Path) -> Iterator[Server]:
    """Serve the files under ``root`` with nginx (the distribution's package), as a fleet's artifact host would.

    What it served is in its access log: :func:`nginx_requests`.
    """
    nginx = nginx_executable()
    _require(nginx is not None, "nginx")
    assert nginx is not None
    root = Path(root).resolve()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="gitimport-nginx-") as prefix:
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(
            f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {HOST}:{port};
        root {root};
        location / {{ }}
    }}
}}
""",
            encoding="utf-8",
        )
        proc = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", prefix], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {(proc.stderr.read() if proc.stderr else b'').decode(errors='replace')}")
                time.sleep(0.05)
            yield Server(url=f"http://{HOST}:{port}", kind="nginx", root=root, pid=proc.pid, log=Path(prefix) / "access.log")
        finally:
            _stop_process_group(proc)


def nginx_requests(server: Server) -> list[tuple[str, int]]:
    """(path, status) of every request in an nginx server's access log, in order."""
    assert server.log is not None, "not an nginx server"
    found = []
    for line in server.log.read_text(encoding="utf-8").splitlines():
        request, _, rest = line.partition('"')[2].partition('" ')
        found.append((request.split(" ")[1], int(rest.split(" ")[0])))
    return found
