"""Fetch progress: what sync reports while it fetches, and a terminal line that shows it.

Sync emits :class:`FetchEvent` values for each repository it fetches: one when
the fetch starts, one per message the server sends (git's sideband 2 lines
such as ``Counting objects: 45% (9/20)``), periodic ones with the bytes of the
pack received so far, and one when it is done.  :class:`TerminalProgress`
turns them into one throttled status line on stderr; the command line uses
it only when stderr is a terminal, so logs and pipes never see it.  Nothing
here may write to stdout.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Callable, TextIO

from .display import human_bytes

#: Seconds between two redraws of the status line, and between two looks at the pack being received.
INTERVAL = 0.1
_COUNTS = re.compile(rb"(Counting|Compressing|Receiving|Enumerating|Resolving)? ?objects:\s+\d+% \((\d+)/(\d+)\)")
_TOTAL = re.compile(rb"Total (\d+)")


@dataclass(frozen=True)
class FetchEvent:
    """Something that happened while fetching one repository."""

    url: str  # the redacted URL shown to people
    message: bytes = b""  # a progress line the server sent, if any
    received: int = -1  # bytes of pack data received so far, when known
    done: bool = False


FetchProgress = Callable[[FetchEvent], None]


def received_pack_bytes(repo_path: str) -> int:
    """Bytes of the packs dulwich is writing into a repository right now.

    dulwich writes an incoming pack to ``objects/pack/tmp*.pack`` (no ``.idx``
    yet) or to ``objects/tmp_pack_*`` for thin packs, and renames it when done.
    """
    total = 0
    objects = os.path.join(repo_path, "objects")
    pack_dir = os.path.join(objects, "pack")
    for folder, keep in ((pack_dir, _incomplete_pack), (objects, lambda name, _names: name.startswith("tmp_pack_"))):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if keep(name, names):
                with suppress(OSError):
                    total += os.path.getsize(os.path.join(folder, name))
    return total


def _incomplete_pack(name: str, names: list[str]) -> bool:
    return name.endswith(".pack") and name[: -len(".pack")] + ".idx" not in names


@contextmanager
def watching_fetch(url: str, repo_path: str, progress: FetchProgress | None) -> Iterator[Callable[[bytes], None] | None]:
    """Report one repository's fetch to ``progress``; yield the callback dulwich takes.

    While the block runs, a thread looks at the pack being received every
    :data:`INTERVAL` seconds (the server says nothing while it sends the
    pack); the server's own messages are passed on as they come.
    """
    if progress is None:
        yield None
        return
    progress(FetchEvent(url, received=0))
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(INTERVAL):
            progress(FetchEvent(url, received=received_pack_bytes(repo_path)))

    watcher = threading.Thread(target=watch, name=f"gitimport-progress {url}", daemon=True)
    watcher.start()
    try:
        yield lambda data: progress(FetchEvent(url, message=data))
    finally:
        stop.set()
        watcher.join()
        progress(FetchEvent(url, done=True))


@dataclass
class _State:
    objects: int = 0
    total: int = 0
    received: int = 0


class TerminalProgress:
    """One status line on a terminal, redrawn at most every :data:`INTERVAL` seconds.

    Thread-safe: repositories fetched in parallel report to the same line.
    """

    def __init__(self, stream: TextIO, width: int = 0) -> None:
        self.stream = stream
        self.width = width or _terminal_width(stream)
        self._active: dict[str, _State] = {}
        self._mutex = threading.Lock()
        self._last_draw = 0.0
        self._shown = False

    def __call__(self, event: FetchEvent) -> None:
        with self._mutex:
            if event.done:
                self._active.pop(event.url, None)
                self._draw(force=True)
                return
            state = self._active.setdefault(event.url, _State())
            if event.received >= 0:
                state.received = max(state.received, event.received)
            for line in re.split(rb"[\r\n]+", event.message):
                counts = _COUNTS.search(line)
                if counts:
                    state.objects, state.total = int(counts.group(2)), int(counts.group(3))
                total = _TOTAL.search(line)
                if total:
                    state.objects = state.total = int(total.group(1))
            self._draw()

    def line(self) -> str:
        """The text of the status line for the repositories being fetched."""
        parts = []
        for url, state in self._active.items():
            objects = f"{state.objects}/{state.total} objects" if state.total else "connecting"
            parts.append(f"{_short(url)}: {objects}, {human_bytes(state.received)}")
        if not parts:
            return ""
        return ("Fetching " + "; ".join(parts))[: max(self.width - 1, 20)]

    def print(self, message: str) -> None:
        """Write a line of text (a warning) above the status line, which is then drawn again."""
        with self._mutex:
            self.stream.write(("\r\x1b[K" if self._shown else "") + message + "\n")
            self._shown = False
            self._draw(force=True)

    def close(self) -> None:
        """Erase the status line."""
        with self._mutex:
            self._active.clear()
            self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < INTERVAL:
            return
        self._last_draw = now
        text = self.line()
        if not text and not self._shown:
            return
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._shown = bool(text)


def _short(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] or url


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80
