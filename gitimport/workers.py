"""``sync --jobs N``: repositories synced in worker processes, results and the first error in order.

Threads did not scale: materializing and compiling a repository is Python
holding the GIL, broken by thousands of short file-system calls, so eight
threads on 2 CPUs ran 16 repositories in 1.03-1.08x the time of one
(docs/performance.md#2026-12-07-jobs).  Worker processes each have an
interpreter of their own.

The workers are started by the ``forkserver`` method where the platform has
it (Linux, macOS; ``spawn`` elsewhere), never by a ``fork`` of this process,
which may hold threads and locks.  The fork server is a fresh interpreter
that imports :data:`PRELOAD` once; each worker is a fork of it, so a worker
costs a few milliseconds instead of an interpreter start and dulwich's
import (~0.15 s of CPU each).  The server starts once per process and stays
(a later parallel sync reuses it); its environment is the one it started
with, so every worker takes this process's environment as it is now.

What crosses the pipe to a worker: the work (a picklable callable: the
config, with any credentials its URLs carry, goes only to the worker, never
to a log) and one item at a time.  What comes back: the result, or the
error (gitimport's errors pickle with their message, hint and exit code;
the worker's traceback rides along as ``__cause__`` for ``--verbose``), and
meanwhile every ``warn`` message and fetch progress event, which this
process hands to its own callbacks in the order they arrive.  A worker that
dies (killed, out of memory) fails its item with :class:`GitImportError`.
An interrupt or error here stops the workers with SIGTERM, which they turn
into ``SystemExit``: their ``finally`` blocks remove half-built trees, and
their cache locks are released with the process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, Generic, TypeVar, cast

from .errors import GitImportError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

    from .remote.progress import FetchEvent, FetchProgress

Item = TypeVar("Item")
Result = TypeVar("Result")
Work = Callable[[Item, Callable[[str], None], "FetchProgress | None"], Result]

#: What a repository's sync imports: the fork server imports it once, for every worker.
#: Only a hint for speed (a name missing here is imported by each worker).
PRELOAD = [
    "gitimport.sync",
    "gitimport.remote.fetch",
    "gitimport.remote.repo",
    "gitimport.remote.progress",
    "gitimport.remote.credentials",
    "gitimport.store.materialize",
    "gitimport.store.bytecode",
    "gitimport.store.metadata",
    "gitimport.store.generated",
    "gitimport.store.needed",
    "gitimport.store.top_level",
    "gitimport.store.binding",
    "gitimport.store.usage",
    "gitimport.store.verify",
    "py_compile",
]

#: Seconds a stopped worker gets to clean up before it is killed.
STOP_GRACE = 5.0


def start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``: never ``fork``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def map_in_processes(
    work: Work[Item, Result],
    items: Sequence[Item],
    processes: int,
    warn: Callable[[str], None],
    progress: FetchProgress | None,
    labels: Sequence[str],
) -> list[Result]:
    """``work(item, warn, progress)`` for every item in ``processes`` worker processes.

    Results come back in the order of ``items``.  On errors, the first in
    that order is raised once every item before it has finished; items after
    the first failure that have not started are not started.  ``labels``
    name each item (a redacted URL) in the error for a worker that died.
    """
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(PRELOAD)
    return _Pool(context, work, items, processes, warn, progress, labels).run()


class _Pool(Generic[Item, Result]):
    """The workers and the bookkeeping of one :func:`map_in_processes`."""

    def __init__(
        self,
        context: BaseContext,
        work: Work[Item, Result],
        items: Sequence[Item],
        processes: int,
        warn: Callable[[str], None],
        progress: FetchProgress | None,
        labels: Sequence[str],
    ) -> None:
        self.context, self.work, self.items, self.labels = context, work, items, labels
        self.processes = max(1, min(processes, len(items)))
        self.warn, self.progress = warn, progress
        self.pending = deque(range(len(items)))
        self.results: dict[int, Result] = {}
        self.errors: dict[int, BaseException] = {}
        self.running: dict[Connection, tuple[BaseProcess, int | None]] = {}  # a worker's pipe -> it, and the item it works on

    def run(self) -> list[Result]:
        try:
            for _ in range(self.processes):
                self._start_worker()
            while self.running:
                self._serve_ready()
        except BaseException:
            self._stop_all()
            raise
        if self.errors:
            raise self.errors[min(self.errors)]
        return [self.results[index] for index in range(len(self.items))]

    def _start_worker(self) -> None:
        here, there = self.context.Pipe()
        process = self.context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(there, self.work, dict(os.environ), self.progress is not None),
            name="gitimport-sync",
            daemon=True,  # ended with this process, whatever happens to it
        )
        process.start()
        there.close()
        self.running[here] = (process, None)
        self._give_work(here)

    def _give_work(self, connection: Connection) -> None:
        """The next item to a worker that is free, or the word to stop when there is none (or an earlier item failed)."""
        process, _ = self.running[connection]
        first_error = min(self.errors, default=len(self.items))
        task: tuple[int, Item] | None = None
        if self.pending and self.pending[0] < first_error:
            index = self.pending.popleft()
            task = (index, self.items[index])
        else:
            self.pending.clear()
        self.running[connection] = (process, task[0] if task else None)
        with contextlib.suppress(OSError):  # it died: its sentinel says so, and its item fails
            connection.send(task)

    def _serve_ready(self) -> None:
        from multiprocessing.connection import wait

        sentinels = {process.sentinel: connection for connection, (process, _) in self.running.items()}
        for ready in wait([*self.running, *sentinels]):
            if isinstance(ready, int):  # a worker ended: read what it sent before it did
                connection = sentinels[ready]
                if connection in self.running:
                    self._drain(connection)
                    self._ended(connection)
            elif ready in self.running:
                self._drain(ready)

    def _drain(self, connection: Connection) -> None:
        while connection in self.running and connection.poll():
            try:
                message = connection.recv()
            except EOFError:  # it ended; its sentinel says how
                return
            self._handle(connection, message)

    def _handle(self, connection: Connection, message: tuple[str, int, object]) -> None:
        """One message of a worker (see :func:`_serve`): a warning, a progress event, a result or an error."""
        kind, index, payload = message
        if kind == "warn":
            self.warn(cast(str, payload))
        elif kind == "progress" and self.progress is not None:
            self.progress(cast("FetchEvent", payload))
        elif kind == "done":
            self.results[index] = cast(Result, payload)
            self._give_work(connection)
        elif kind == "error":
            error, remote_traceback = cast("tuple[BaseException, str]", payload)
            if remote_traceback:
                error.__cause__ = _RemoteTraceback(remote_traceback)
            self.errors[index] = error
            self._give_work(connection)

    def _ended(self, connection: Connection) -> None:
        process, index = self.running.pop(connection)
        process.join()
        connection.close()
        if index is not None:  # it died at work: its item fails, and no item after it starts
            code = process.exitcode or 0
            if code < 0:
                how = f"killed by {_signal_name(-code)}"
            elif code > 128:  # SIGTERM turned into SystemExit (see _stop)
                how = f"stopped by {_signal_name(code - 128)}"
            else:
                how = f"exit code {code}"
            self.errors[index] = GitImportError(
                f"The worker process that synced {self.labels[index]} ended unexpectedly ({how}).",
                "run `gitimport sync` again (the lock was not written, and the cache holds only complete entries); "
                "if it happens again, run it with --jobs 1 to see the error",
            )  # items are handed out in order, so none of those not yet started comes before it

    def _stop_all(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after :data:`STOP_GRACE`), and wait for them."""
        workers = [process for process, _ in self.running.values()]
        for process in workers:
            if process.is_alive():
                process.terminate()
        for process in workers:
            process.join(STOP_GRACE)
            if process.is_alive():
                process.kill()
                process.join()
        for connection in self.running:
            connection.close()
        self.running.clear()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _RemoteTraceback(Exception):
    """The traceback of an error raised in a worker process, shown as its cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n\nIn the worker process:\n{self.text}"


def _serve(connection: Connection, work: Work[Item, Result], environment: dict[str, str], forward_progress: bool) -> None:
    """A worker's life: take an item, run ``work`` on it, send back its result or error; until told to stop."""
    os.environ.clear()
    os.environ.update(environment)  # the fork server's environment is the one it started with
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sending = threading.Lock()  # the fetch progress watcher sends from a thread of its own

    def send(message: tuple[str, int, object]) -> None:
        with sending:
            connection.send(message)

    index = None
    try:
        while True:
            task = connection.recv()
            if task is None:
                return
            index, item = task

            def warn(message: str, index: int = index) -> None:
                send(("warn", index, message))

            def progress(event: FetchEvent, index: int = index) -> None:
                send(("progress", index, event))

            try:
                result = work(item, warn, progress if forward_progress else None)
            except Exception as error:  # every error goes back, and the worker goes on
                send(("error", index, _portable(error)))
                continue
            try:
                send(("done", index, result))
            except Exception as error:  # a result that does not pickle is a bug, reported as one
                send(("error", index, _portable(error)))
            index = None
    except (EOFError, BrokenPipeError):  # the parent is gone
        return
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too: what was half built is removed (see _stop)
        if index is not None:
            with contextlib.suppress(OSError):
                send(("error", index, (KeyboardInterrupt(), "")))
    except SystemExit:  # stopped by the parent (or anyone) with SIGTERM: the exit code says so
        raise


_stopping = False


def _stop(signum: int, frame: object) -> None:
    """SIGTERM or SIGINT: unwind once (``finally`` blocks remove what was half built); a second signal does not cut that short."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _portable(error: BaseException) -> tuple[BaseException, str]:
    """An error as it can cross to the parent: itself if it pickles, else a RuntimeError saying what it was; and its traceback."""
    import pickle
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # whatever pickling raises, the error still goes back
        return RuntimeError(f"{type(error).__name__}: {error}"), text
    return error, text
