"""HTTP(S) fronts that redirect or relay to a real git server, for redirect-policy tests.

A :func:`front` on 127.0.0.1 answers each request in one of three ways:

- ``redirect``: a 3xx whose ``Location`` is ``target`` plus the request's path
  and query, so a client following it lands on the same git endpoint on
  another host, port or scheme;
- ``relay``: the request is passed to ``target`` (a real git server) and its
  answer passed back unchanged;
- ``add-git``: a request for ``/name/...`` is redirected to ``/name.git/...``
  on the front itself, which relays that to ``target`` as ``/name/...``: the
  same-origin redirect that many hosting services make.

Every front records what it was asked, headers included, so a test can say
which origin saw a credential.  With ``tls=(cert, key)`` it speaks HTTPS with
that certificate (see :func:`self_signed_certificate`).  Only the routing is
made up here; the git protocol behind it is the real one.
"""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest


@dataclass
class Seen:
    """One request a front received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Front:
    """A running front: its base URL and the requests it received."""

    url: str
    mode: str
    target: str
    requests: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _FrontServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        front = self.server.front
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        front.requests.append(Seen(self.command, self.path, dict(self.headers.items())))
        name, _, rest = self.path.lstrip("/").partition("/")
        if front.mode == "redirect":
            self._redirect(front.target.rstrip("/") + self.path)
        elif front.mode == "add-git" and not name.endswith(".git"):
            self._redirect(f"/{name}.git/{rest}")
        else:
            path = f"/{name[: -len('.git')]}/{rest}" if front.mode == "add-git" else self.path
            self._relay(front.target, path, body)

    def _redirect(self, location: str) -> None:
        self.send_response(self.server.status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _relay(self, target: str, path: str, body: bytes) -> None:
        upstream = urlsplit(target)
        connection = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        connection.request(self.command, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, front: Front, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.front = front
        self.status = status

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that refuses a redirect may hang up at any time


@contextmanager
def front(mode: str, target: str, *, status: int = 302, tls: tuple[Path, Path] | None = None) -> Iterator[Front]:
    """Serve a front (``redirect``, ``relay`` or ``add-git``, see the module docstring) on 127.0.0.1."""
    assert mode in ("redirect", "relay", "add-git"), mode
    record = Front(url="", mode=mode, target=target)
    server = _FrontServer(record, status)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    record.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with ``openssl req`` (skips the test without openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate for an HTTPS front")
    cert, key = folder / "front-cert.pem", folder / "front-key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
