"""Fetch progress: the events sync reports while it fetches.

Sync emits :class:`FetchEvent` values for each repository it fetches: one when
the fetch starts, one per message the server sends (git's sideband 2 lines
such as ``Counting objects: 45% (9/20)``), periodic ones with the bytes of the
pack received so far, and one when it is done.  Who listens decides how to
show them (the command line's :class:`gitimport.cli.progress.TerminalProgress`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Callable

#: Seconds between two looks at the pack being received.
INTERVAL = 0.1


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
