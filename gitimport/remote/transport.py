"""dulwich clients whose connections obey the host policy after redirects and end at a deadline.

Two promises of :mod:`gitimport.remote.fetch` cannot be kept from outside
the connections, so they are kept here, below dulwich:

- **Redirects.** urllib3 follows an HTTP 3xx by calling its pool manager's
  ``urlopen`` again, with the new URL and a retry history that names the URL
  redirected from.  :class:`_GuardedPoolManager` checks every such hop with
  :func:`~gitimport.remote.policy.check_redirect` before any connection to it
  is made, and every other request with the spec's own checks.  It also
  attaches the credentials itself, to requests for their own origin (scheme,
  host and port) only, and strips ``Authorization`` and ``Cookie`` from any
  request for another: dulwich 0.24 would send them on to wherever a
  redirect had moved its base URL.
- **One advertisement per remote.**  dulwich's HTTP client reads the
  server's advertisement (and in protocol v2 lists the refs) again at the
  start of every fetch: three requests where one would do.
  :func:`_reading_advertisement_once` keeps the first answer for the
  client's life, which is one sync of one repository.
- **Deadlines.** ``timeout`` bounds each attempt of an operation as a whole.
  A server that sends a byte now and then never trips a per-read timeout,
  and a dripping ref advertisement calls no callback in which to notice,
  so :class:`Deadline` works at the socket: every socket and ssh
  process a client opens is tracked, and when the time is up a timer thread
  shuts the sockets down and kills the processes.  The read blocked in the
  operation's thread then fails at once, whatever the transport was doing.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Callable
from urllib.parse import urlsplit

import urllib3
from dulwich.client import (
    AbstractHttpGitClient,
    GitClient,
    SSHGitClient,
    SSHVendor,
    TCPGitClient,
    default_urllib3_manager,
    get_transport_and_path,
)
from dulwich.protocol import Protocol
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry, make_headers, parse_url

from ..project.config import Config
from .credentials import Credentials
from .policy import check_policy, check_redirect

_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "cookie"})
"""Request headers that belong to one origin and never follow a request to another."""


class Deadline:
    """Cuts the connections of one remote when an operation outlives its time.

    One instance per remote.  Its operations run one at a time in one thread
    (``sync --jobs`` gives each repository its own remote); the timer thread
    shares the instance with that thread under a lock, and a generation
    number keeps a timer that fires late from cutting the next attempt.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._processes: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()
        self._generation = 0
        self._expired = False

    @property
    def expired(self) -> bool:
        """Whether the time of the current (or the last) operation ran out."""
        return self._expired

    @contextlib.contextmanager
    def running(self, seconds: float) -> Iterator[None]:
        """Give the block ``seconds``; then cut every connection tracked, and any opened later."""
        with self._lock:
            self._generation += 1
            self._expired = False
            generation = self._generation
        timer = threading.Timer(seconds, self._expire, args=(generation,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            timer.join()  # a timer that fired has finished cutting before the operation's outcome is handled
            self._reap_processes()

    def refuse_if_expired(self) -> None:
        """Stop a new connection before it reaches the network once the time is up (urllib3 retries on its own)."""
        if self._expired:
            raise TimeoutError("the operation's deadline has passed")

    def track_socket(self, sock: socket.socket) -> None:
        with self._lock:
            if self._expired:
                _cut(sock)
            else:
                self._sockets.add(sock)

    def track_process(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._expired:
                _stop(process)
            else:
                self._processes.add(process)

    def _reap_processes(self) -> None:
        """Stop and wait for every ssh process the operation started: none outlives it.

        dulwich closes its connection, and waits for the process, when an
        operation ends well, but not on every error: a hang-up while reading
        the protocol version leaves the process to the ``Protocol``'s
        finalizer, which waits up to 60 s for it, at interpreter exit if not
        before.  CI once caught a timed-out sync there, its error printed and
        its process still waiting 30 s later.  Sockets are left as they are:
        urllib3 keeps them for the next request.
        """
        with self._lock:
            processes = list(self._processes)
            self._processes = weakref.WeakSet()
        for process in processes:
            if process.poll() is None:
                _stop(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_REAP_SECONDS)

    def _expire(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._expired = True
            for sock in list(self._sockets):
                _cut(sock)
            for process in list(self._processes):
                _stop(process)


_REAP_SECONDS = 5.0
"""How long a killed ssh process is waited for; the kernel needs far less, but an operation's end must never hang on one."""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill an ssh process and close our end of its input.

    A child the ssh command started (a ProxyCommand, a wrapper's helper)
    survives the kill holding the other end of our pipes; once its input ends
    it exits too, so no read of the process's output waits on it forever.
    """
    process.kill()
    if process.stdin is not None:
        with contextlib.suppress(OSError, ValueError):
            process.stdin.close()


def _cut(sock: socket.socket) -> None:
    """Shut a socket down, which wakes a read blocked on it in another thread (closing it would not).

    ``socket.socket.shutdown`` is called unbound so that a TLS socket is cut
    at the TCP level, without ``SSLSocket.shutdown`` dropping its TLS state
    under the reading thread.
    """
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def open_client(
    url: str,
    *,
    config: Config,
    git_config: Any,
    credentials: Credentials | None,
    deadline: Deadline,
    ssh_command: str | None,
) -> tuple[GitClient, str]:
    """A dulwich client for ``url`` (already past mirrors, insteadOf and the policy) and its path.

    HTTP(S) gets a :class:`_GuardedPoolManager` from dulwich's own factory,
    so proxies, ``http.sslCAInfo``, ``http.sslVerify`` and the user agent
    come from git's config as before; git:// gets a client whose sockets the
    deadline tracks; ssh gets a vendor whose processes it tracks.  Local
    repositories are read in this process and are not bounded.
    """
    scheme = urlsplit(url).scheme
    if scheme == "git":
        parts = urlsplit(url)
        return _TrackedTCPGitClient(parts.hostname or "", port=parts.port, deadline=deadline, timeout=config.timeout), parts.path
    kwargs: dict[str, Any] = {}
    if scheme in ("http", "https"):
        kwargs["pool_manager"] = open_http(url, config=config, git_config=git_config, credentials=credentials, deadline=deadline)
    if ssh_command:
        kwargs["ssh_command"] = ssh_command
    client, path = get_transport_and_path(url, **kwargs)
    if isinstance(client, SSHGitClient):
        client.ssh_vendor = _TrackedSSHVendor(client.ssh_vendor, deadline)
    if isinstance(client, AbstractHttpGitClient):
        _reading_advertisement_once(client)
    return client, path


def _reading_advertisement_once(client: AbstractHttpGitClient) -> None:
    """Make ``client`` ask the server for its advertisement once, and answer every later asking from that.

    dulwich's ``fetch_pack`` and ``get_refs`` each begin with
    ``_discover_references``: a GET of ``info/refs`` and, in protocol v2, a
    POST of ``ls-refs``.  A sync lists the refs once and then fetches up to
    three times, so half its requests repeated an answer it already had.
    Over HTTP each request is a new exchange (the server keeps no state
    between them), so the first answer serves the later fetches exactly as
    a fresh one would, short of a push in between, which a fetch of
    commits wanted by id does not care about.  The answer is kept per
    service and URL, and handed out as copies: ``get_refs`` adds the peeled
    tags to the dictionary it gets.  A client is one remote's for one sync
    (:class:`~gitimport.remote.fetch.Remote`), so nothing outlives it.
    """
    discover = client._discover_references
    answers: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def discover_once(service: bytes, base_url: str, protocol_version: int | None = None, ref_prefix: Any = None) -> Any:
        key = (service, base_url, protocol_version, tuple(ref_prefix or ()))
        if key not in answers:
            answers[key] = discover(service, base_url, protocol_version=protocol_version, ref_prefix=ref_prefix)
        refs, capabilities, url, symrefs, peeled = answers[key]
        return dict(refs), set(capabilities), url, dict(symrefs), dict(peeled)

    setattr(client, "_discover_references", discover_once)  # noqa: B010  # an instance attribute, over the method


# --------------------------------------------------------------------------
# HTTP(S)
# --------------------------------------------------------------------------


def open_http(url: str, *, config: Config, git_config: Any, credentials: Credentials | None, deadline: Deadline) -> urllib3.PoolManager:
    """A pool manager for ``url``'s origin that obeys the policy after redirects, keeps credentials to it, and ends at the deadline.

    dulwich's smart HTTP client and the tree mirrors' plain downloads
    (:mod:`gitimport.remote.mirror`) both go through it, built by dulwich's
    own factory so that proxies, ``http.sslCAInfo`` and ``http.sslVerify``
    come from git's config.
    """
    manager = default_urllib3_manager(
        git_config, pool_manager_cls=_GuardedPoolManager, proxy_manager_cls=_GuardedProxyManager, timeout=config.timeout
    )
    assert isinstance(manager, _GuardedPoolManager), "dulwich did not use the pool manager class it was given"
    manager.guard = _Guard(config, _origin(url), _authorization(credentials), deadline)
    return manager


@dataclass(frozen=True)
class _Guard:
    """What a pool manager checks and adds: the policy, the credentials' origin and header, the deadline."""

    config: Config
    origin: tuple[str, str, int]
    authorization: str | None
    deadline: Deadline

    def headers_for(self, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` for a request to ``url``: credentials for their own origin only."""
        if _origin(url) != self.origin:
            return {name: value for name, value in headers.items() if name.lower() not in _ORIGIN_BOUND_HEADERS}
        if self.authorization is None:
            return dict(headers)
        kept = {name: value for name, value in headers.items() if name.lower() != "authorization"}
        return {**kept, "Authorization": self.authorization}


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port), with the scheme's default port made explicit, as urllib3 compares hosts."""
    parts = parse_url(url)
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _authorization(credentials: Credentials | None) -> str | None:
    if credentials is None:
        return None
    header: str = make_headers(basic_auth=f"{credentials.username}:{credentials.password}")["authorization"]
    return header


class _GuardedPoolManager(urllib3.PoolManager):
    """A pool manager that checks every URL it opens, redirect hops included, and tracks its sockets.

    ``guard`` is set right after dulwich's factory builds it, before any request.
    """

    guard: _Guard

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> BaseHTTPResponse:  # type: ignore[override]  # as PoolManager
        retries = kw.get("retries")
        history = retries.history if isinstance(retries, Retry) else ()
        if history and history[-1].redirect_location:
            check_redirect(history[-1].url or "", url, self.guard.config)
        else:
            check_policy(_without_query(url), self.guard.config)
        kw["headers"] = self.guard.headers_for(url, kw.get("headers") or self.headers)
        return super().urlopen(method, url, redirect=redirect, **kw)

    def _new_pool(self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = _TrackedHTTPSConnection if scheme == "https" else _TrackedHTTPConnection
        pool.conn_kw["deadline"] = self.guard.deadline
        return pool


class _GuardedProxyManager(_GuardedPoolManager, urllib3.ProxyManager):
    """The same, through the proxy git's config or the environment names."""


def _without_query(url: str) -> str:
    """The request URL as the spec checks read it: a repository URL has no query."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


class _TrackedHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket the deadline tracks from the moment it is connected."""

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            self._deadline.refuse_if_expired()
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, str(exc)) from None
        sock = super()._new_conn()
        self._deadline.track_socket(sock)  # plain HTTP, and the CONNECT of a proxy tunnel
        return sock

    def connect(self) -> None:
        # The TLS handshake in between runs on a socket not yet handed over;
        # CPython bounds a handshake as a whole by the socket's timeout.
        super().connect()
        if self.sock is not None:
            self._deadline.track_socket(self.sock)  # HTTPS: the TLS socket that replaced the raw one


class _TrackedHTTPSConnection(_TrackedHTTPConnection, HTTPSConnection):
    """The same for HTTPS."""


# --------------------------------------------------------------------------
# git:// and ssh
# --------------------------------------------------------------------------


class _TrackedTCPGitClient(TCPGitClient):
    """dulwich's git:// client, with each connection's socket tracked by the deadline."""

    def __init__(self, host: str, port: int | None, deadline: Deadline, timeout: float) -> None:
        super().__init__(host, port=port)
        self._deadline = deadline
        self._timeout = timeout

    def _connect(
        self, cmd: bytes, path: str | bytes, protocol_version: int | None = None
    ) -> tuple[Protocol, Callable[[], bool], IO[bytes] | None]:
        self._deadline.refuse_if_expired()
        with _default_socket_timeout(self._timeout):
            proto, can_read, stderr = super()._connect(cmd, path, protocol_version)
        self._deadline.track_socket(_socket_of(proto))
        return proto, can_read, stderr


_timeout_users = 0
_timeout_guard = threading.Lock()
_saved_timeout: float | None = None


@contextlib.contextmanager
def _default_socket_timeout(seconds: float) -> Iterator[None]:
    """Give the sockets dulwich's git:// client creates a timeout while it connects.

    dulwich makes and connects the socket inline, with no timeout option, so
    the process-wide default is the only handle on it; it is set for the
    connection's set-up alone (the socket keeps it for every read after),
    and connections made at once (``sync --jobs``) share it: the first one
    in sets it and the last one out restores it.
    """
    global _timeout_users, _saved_timeout
    with _timeout_guard:
        if _timeout_users == 0:
            _saved_timeout = socket.getdefaulttimeout()
            socket.setdefaulttimeout(seconds)
        _timeout_users += 1
    try:
        yield
    finally:
        with _timeout_guard:
            _timeout_users -= 1
            if _timeout_users == 0:
                socket.setdefaulttimeout(_saved_timeout)


def _socket_of(proto: Protocol) -> socket.socket:
    """The socket under dulwich's git:// protocol object.

    dulwich (0.24 and 1.2 alike) reads git:// through ``socket.makefile("rb")``
    and hands the protocol that file's bound ``read``; the file's raw
    ``SocketIO`` holds the socket.  dulwich offers no other way to it, and
    creates the socket inline, so this is the narrowest reach there is.
    """
    sock = getattr(getattr(getattr(proto.read, "__self__", None), "raw", None), "_sock", None)
    if not isinstance(sock, socket.socket):
        raise TypeError("dulwich's git:// client no longer reads through socket.makefile; gitimport cannot bound it")
    return sock


class _TrackedSSHVendor(SSHVendor):
    """dulwich's ssh vendor, with each ssh process it starts tracked by the deadline."""

    def __init__(self, vendor: SSHVendor, deadline: Deadline) -> None:
        self._vendor = vendor
        self._deadline = deadline

    def run_command(self, *args: Any, **kwargs: Any) -> Any:
        self._deadline.refuse_if_expired()
        connection = self._vendor.run_command(*args, **kwargs)
        process = getattr(connection, "proc", None)  # a SubprocessWrapper, unless the user plugged in another vendor
        if not isinstance(process, subprocess.Popen):
            return connection
        self._deadline.track_process(process)
        if process.stderr is None or os.name == "nt":  # no select() on Windows pipes
            return connection
        return _WithStderrOfProcess(connection, process)


class _WithStderrOfProcess:
    """dulwich's connection to an ssh process, whose stderr is read no longer than ssh lives (:class:`_StderrOfProcess`)."""

    def __init__(self, connection: Any, process: subprocess.Popen[bytes]) -> None:
        self._connection = connection
        self.stderr = _StderrOfProcess(process)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class _StderrOfProcess:
    """An ssh process's stderr, read to its end, or until ssh has exited and the pipe has gone quiet.

    dulwich reads it to the end after a hang-up, to explain the hang-up.  But
    ssh's children inherit it: a ``ProxyCommand`` such as ``nc %h %p`` stays
    as long as the server keeps the connection open, so the end could come
    long after ssh is gone (by the deadline's kill, or refused), and neither
    the error nor the deadline would reach the user until then.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def readlines(self) -> list[bytes]:
        return self.read().splitlines(keepends=True)

    def read(self) -> bytes:
        pipe = self._process.stderr
        assert pipe is not None
        chunks = []
        while True:
            ready, _, _ = select.select([pipe], [], [], _QUIET_SECONDS)
            if ready:
                data = os.read(pipe.fileno(), 65536)
                if not data:  # every process that held it has closed it
                    break
                chunks.append(data)
            elif self._process.poll() is not None:  # ssh has ended, and what still holds the pipe is not ssh
                break
        return b"".join(chunks)


_QUIET_SECONDS = 0.2
"""How long ssh's stderr must stay silent after ssh has exited before it is taken as ended."""
