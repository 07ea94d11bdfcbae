"""The status line a person sees on a terminal while sync fetches.

:class:`TerminalProgress` turns :class:`gitimport.remote.progress.FetchEvent`
values into one throttled status line on stderr; the command line uses it
only when stderr is a terminal, so logs and pipes never see it.  Nothing here
may write to stdout.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from ..remote.progress import INTERVAL, FetchEvent
from .output import human_bytes

_COUNTS = re.compile(rb"(Counting|Compressing|Receiving|Enumerating|Resolving)? ?objects:\s+\d+% \((\d+)/(\d+)\)")
_TOTAL = re.compile(rb"Total (\d+)")


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
