"""Misbehaving fronts for real git servers, for network-fault tests.

:func:`hostile_front` relays every request to a real ``git http-backend``
server on loopback and damages chosen responses: an HTTP error status, a
connection closed half way through the pack, a stall longer than the client's
timeout, or flipped bytes inside the pack.

:func:`dripping_relay` (any TCP protocol: smart HTTP or ``git://``) and
:class:`DrippingSsh` (a ``GIT_SSH_COMMAND``) pass the server's real answer on
one byte at a time, a byte every fraction of a second: a server that is never
silent long enough for a per-read timeout, and never done.

Only the fault is fake; the git protocol is the real one.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FAULTS = ("status-500", "status-429", "close-mid-pack", "stall", "corrupt-pack")


@dataclass
class Fault:
    kind: str
    times: int  # how many upload-pack POST responses to damage; -1 for all
    seconds: float = 0.0  # for "stall"
    damaged: int = 0
    requests: list[str] = field(default_factory=list)

    def take(self) -> bool:
        if self.times == -1 or self.damaged < self.times:
            self.damaged += 1
            return True
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _HostileServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def _relay(self) -> None:
        fault = self.server.fault
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault.requests.append(f"{self.command} {self.path}")
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        status, reply_headers = (
            response.status,
            [(k, v) for k, v in response.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")],
        )
        connection.close()
        is_pack = self.command == "POST" and self.path.endswith("git-upload-pack") and b"packfile" in payload
        if is_pack and fault.take():
            self._damage(fault, status, reply_headers, payload)
            return
        self._send(status, reply_headers, payload)

    def _damage(self, fault: Fault, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        if fault.kind in ("status-500", "status-429"):
            self._send(int(fault.kind[-3:]), [("Content-Type", "text/plain")], b"try again later\n")
        elif fault.kind == "close-mid-pack":
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif fault.kind == "stall":
            time.sleep(fault.seconds)
            self._send(status, headers, payload)
        elif fault.kind == "corrupt-pack":
            start = payload.find(b"PACK")
            damaged = bytearray(payload)
            for offset in range(start + 40, len(damaged) - 30, 97):
                damaged[offset] ^= 0x55
            self._send(status, headers, bytes(damaged))

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hung up on a damaged response: expected here

    def __init__(self, upstream: str, fault: Fault, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        self.fault = fault


def _bound(make: Callable[[int], _HostileServer], ports: Iterable[int]) -> _HostileServer:
    error: OSError | None = None
    for port in ports:
        try:
            return make(port)
        except OSError as exc:  # taken
            error = exc
    raise error or OSError("no port to bind")


@contextmanager
def hostile_front(upstream: str, fault: Fault, ports: Iterable[int] = (0,)) -> Iterator[str]:
    """Yield the base URL of a front that relays to ``upstream`` and injects ``fault``, on the first of ``ports`` that is free."""
    server = _bound(lambda port: _HostileServer(upstream, fault, port), ports)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Drip:
    """A running dripping relay: its base URL, whether it drips now, and how often it was used.

    ``start_at`` empty drips from the first byte the server sends (the ref
    advertisement); ``b"PACK"`` passes everything before the pack at full
    speed and drips the pack.  ``connections`` counts connections on which
    the client sent a request, ``dripped`` those on which the drip began.
    """

    url: str
    start_at: bytes
    interval: float
    dripping: bool = True
    connections: int = 0
    dripped: int = 0


class _DripRelay:
    def __init__(self, upstream: tuple[str, int], drip: Drip) -> None:
        self.upstream = upstream
        self.drip = drip
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)  # closing a socket does not wake an accept() blocked on it
        self.stopping = threading.Event()
        self.open: set[socket.socket] = set()
        self.guard = threading.Lock()
        self.threads: list[threading.Thread] = []

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self.guard:
            self.open.update((client, upstream))
        pump = threading.Thread(target=self._to_server, args=(client, upstream), daemon=True)
        pump.start()
        try:
            self._to_client(upstream, client)
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            pump.join(timeout=10)

    def _to_server(self, client: socket.socket, upstream: socket.socket) -> None:
        counted = False
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    upstream.shutdown(socket.SHUT_WR)
                return
            if not counted:
                counted = True
                self.drip.connections += 1
            try:
                upstream.sendall(data)
            except OSError:
                return

    def _to_client(self, upstream: socket.socket, client: socket.socket) -> None:
        marker = self.drip.start_at
        started, tail = not marker, b""
        if started and self.drip.dripping:
            self.drip.dripped += 1
        while not self.stopping.is_set():
            try:
                data = upstream.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.drip.dripping and not started:
                window = tail + data
                found = window.find(marker)
                if found == -1:
                    tail = window[-(len(marker) - 1) :]
                else:
                    started = True
                    self.drip.dripped += 1
                    split = max(found - len(tail), 0)
                    if not _send(client, data[:split]):
                        return
                    data = data[split:]
            if not (self.drip.dripping and started):
                if not _send(client, data):
                    return
                continue
            for offset in range(len(data)):
                if self.stopping.wait(self.drip.interval) or not _send(client, data[offset : offset + 1]):
                    return

    def close(self) -> None:
        self.stopping.set()
        with self.guard:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=10)


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@contextmanager
def dripping_relay(upstream: str, *, start_at: bytes = b"", interval: float = 0.3) -> Iterator[Drip]:
    """A TCP relay to ``upstream`` (an ``http://`` or ``git://`` base URL) that drips the server's answer.

    The client's bytes go through at full speed; the server's go one every
    ``interval`` seconds from the first ``start_at`` on, while
    :attr:`Drip.dripping` is true.
    """
    parts = urlsplit(upstream)
    drip = Drip(url="", start_at=start_at, interval=interval)
    relay = _DripRelay((parts.hostname or "127.0.0.1", int(parts.port or 0)), drip)
    drip.url = f"{parts.scheme}://127.0.0.1:{relay.listener.getsockname()[1]}"
    thread = threading.Thread(target=relay.serve, daemon=True)
    thread.start()
    try:
        yield drip
    finally:
        relay.close()
        thread.join(timeout=10)
        relay.listener.close()


_DRIPPING_SSH = """#!{python}
# Called as: dripping-ssh [-x] [-p PORT] [-o OPTION] HOST COMMAND; runs COMMAND here.
import os, subprocess, sys, time
folder = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
while len(args) > 1:
    args = args[2:] if args[0] in ("-p", "-o", "-i") else args[1:]
with open(os.path.join(folder, "ssh.log"), "a") as log:
    log.write("command=%s\\n" % args[0])
dripping = os.path.exists(os.path.join(folder, "dripping"))
start_at = {start_at!r}
child = subprocess.Popen(["sh", "-c", args[0]], stdout=subprocess.PIPE)
out = sys.stdout.buffer
started, tail = not start_at, b""
def note_drip():
    with open(os.path.join(folder, "ssh.log"), "a") as log:
        log.write("dripped\\n")
if dripping and started:
    note_drip()
while True:
    data = os.read(child.stdout.fileno(), 65536)
    if not data:
        break
    if dripping and not started:
        window = tail + data
        found = window.find(start_at)
        if found == -1:
            tail = window[-(len(start_at) - 1):]
        else:
            started = True
            note_drip()
            split = max(found - len(tail), 0)
            out.write(data[:split]); out.flush()
            data = data[split:]
    if not (dripping and started):
        out.write(data); out.flush()
        continue
    for offset in range(len(data)):
        time.sleep({interval!r})
        out.write(data[offset:offset + 1]); out.flush()
sys.exit(child.wait())
"""


class DrippingSsh:
    """A ``GIT_SSH_COMMAND`` that runs ``git-upload-pack`` here and drips its answer like :func:`dripping_relay`.

    It drips while :attr:`dripping` is true (a flag file next to the
    script, so the ssh processes see it); every run is logged in ``ssh.log``.
    """

    def __init__(self, folder: Path, *, start_at: bytes = b"", interval: float = 0.3) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.command = folder / "dripping-ssh"
        self.command.write_text(_DRIPPING_SSH.format(python=sys.executable, start_at=start_at, interval=interval), encoding="utf-8")
        self.command.chmod(0o755)
        self.dripping = True

    @property
    def dripping(self) -> bool:
        return (self.folder / "dripping").exists()

    @dripping.setter
    def dripping(self, value: bool) -> None:
        flag = self.folder / "dripping"
        if value:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    @property
    def connections(self) -> int:
        return self._log().count("command=")

    @property
    def dripped(self) -> int:
        return self._log().count("dripped\n")

    def _log(self) -> str:
        log = self.folder / "ssh.log"
        return log.read_text(encoding="utf-8") if log.exists() else ""
