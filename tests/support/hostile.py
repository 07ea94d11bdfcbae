"""A misbehaving HTTP front for a real git server, for network-fault tests.

It relays every request to a real ``git http-backend`` server on loopback and
damages chosen responses: an HTTP error status, a connection closed half way
through the pack, a stall longer than the client's timeout, or flipped bytes
inside the pack.  Only the fault is fake; the git protocol is the real one.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        status, reply_headers = response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")]
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

    def __init__(self, upstream: str, fault: Fault) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.fault = fault


@contextmanager
def hostile_front(upstream: str, fault: Fault) -> Iterator[str]:
    """Yield the base URL of a front that relays to ``upstream`` and injects ``fault``."""
    server = _HostileServer(upstream, fault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
