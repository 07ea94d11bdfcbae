"""``sync --jobs N``: repositories synced N at a time, here and in worker processes; results and the first error in order.

Threads did not scale: syncing a repository is mostly Python holding the
GIL (materializing, compiling), broken by thousands of short file-system
calls, so eight threads on 2 CPUs took 1.03-1.08x the time of one on 16
repositories (docs/performance.md#2026-12-07-jobs).  Processes each have
an interpreter of their own.

This process syncs repositories too: it starts on the first at once, while
a helper thread starts ``N - 1`` workers, hands them the next repositories
in order and reads what they send back.  Workers are started by the
``forkserver`` method where the platform has it (Linux, macOS; ``spawn``
elsewhere), never by a ``fork`` of this process, which may hold threads and
locks.  The fork server is a fresh interpreter that imports
the modules the caller names (``preload``) once; each worker is a fork of it, so a worker costs a few
milliseconds instead of an interpreter start and dulwich's import (~0.15 s
of CPU each), and the first ~0.2 s it takes to come up are not lost, since
this process is at work meanwhile.  The server starts once per process and
stays (a later parallel sync reuses it); its environment is the one it
started with, so every worker takes this process's environment as it is
now, and it does not run this program's ``__main__`` again (see
:func:`_main_module_left_alone`).

What crosses the pipe to a worker: the work (a picklable callable: the
config, with any credentials its URLs carry, goes only to the worker, never
to a log) and one item at a time.  What comes back: the result, or the
error (gitimport's errors pickle with their message, hint and exit code;
the worker's traceback rides along as ``__cause__`` for ``--verbose``), and
meanwhile every ``warn`` message and fetch progress event, which the helper
thread hands to this process's callbacks as they arrive (so callbacks must
be thread-safe, as the command line's are).  A worker that dies (killed,
out of memory) fails its item with :class:`GitImportError`.  Workers start
with SIGINT blocked: Ctrl-C interrupts this process, which stops them with
SIGTERM, which they turn into ``SystemExit``: their ``finally`` blocks
remove half-built trees, and their cache locks are released with the
process.  If workers cannot be started at all, this process syncs every
repository itself, after a warning.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterator, Sequence
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

#: Seconds a stopped worker gets to clean up before it is killed.
STOP_GRACE = 5.0


def start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``: never ``fork``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def map_in_processes(
    work: Work[Item, Result],
    items: Sequence[Item],
    jobs: int,
    warn: Callable[[str], None],
    progress: FetchProgress | None,
    labels: Sequence[str],
    preload: Sequence[str] = (),
) -> list[Result]:
    """``work(item, warn, progress)`` for every item, ``jobs`` at a time: here, and in ``jobs - 1`` worker processes.

    This process takes items too, from the first, while its workers start
    (the fork server's start is most of their cost, ~0.2 s), and after.
    Results come back in the order of ``items``.  On errors, the first in
    that order is raised once every item before it has finished; items after
    the first failure that have not started are not started.  ``labels``
    name each item (a redacted URL) in the error for a worker that died.
    ``preload`` names the modules the work imports, for the fork server to
    import once for every worker (only a hint for speed: a name missing
    there is imported by each worker).
    """
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(list(preload))
    return _Pool(context, work, items, jobs - 1, warn, progress, labels).run()


class _Pool(Generic[Item, Result]):
    """The bookkeeping of one :func:`map_in_processes`.

    This thread works on items; a helper thread starts the workers, hands
    them items and reads what they send.  Items are taken in order, by
    whoever is free, under :attr:`lock`.
    """

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
        self.processes = max(0, min(processes, len(items) - 1))
        self.warn, self.progress = warn, progress
        self.lock = threading.Lock()
        self.pending = deque(range(len(items)))
        self.results: dict[int, Result] = {}
        self.errors: dict[int, BaseException] = {}
        self.running: dict[Connection, tuple[BaseProcess, int | None]] = {}  # a worker's pipe -> it, and the item it works on
        self.stopping = False  # this thread failed or was interrupted: the helper stops the workers
        self.failed: BaseException | None = None  # what broke the helper thread (a callback that raised)
        self.wake_reader, self.wake_writer = context.Pipe(duplex=False)
        self.helper_done = threading.Event()  # not Thread.join: a join that Ctrl-C interrupts can leave the thread looking ended

    def run(self) -> list[Result]:
        first = self._next()  # taken before the workers can be: the first item is always this process's
        threading.Thread(target=self._serve_workers, name="gitimport-sync-workers", daemon=True).start()
        try:
            self._work_here(first)
            self.helper_done.wait()
        except BaseException:
            self._stop_helper()
            raise
        finally:
            self.wake_reader.close()
            self.wake_writer.close()
        if self.failed is not None:
            raise self.failed
        if self.errors:
            raise self.errors[min(self.errors)]
        return [self.results[index] for index in range(len(self.items))]

    def _stop_helper(self) -> None:
        """Have the helper thread stop the workers, and wait until it has."""
        self.stopping = True
        with contextlib.suppress(OSError):
            self.wake_writer.send(None)
        while not self.helper_done.is_set():
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C does not leave the workers behind
                self.helper_done.wait()

    def _next(self) -> int | None:
        """The next item to start, if any: none once an item before it has failed."""
        with self.lock:
            first_error = min(self.errors, default=len(self.items))
            if self.pending and self.pending[0] < first_error and not self.stopping and self.failed is None:
                return self.pending.popleft()
            self.pending.clear()
            return None

    def _work_here(self, index: int | None) -> None:
        while index is not None:
            try:
                self.results[index] = self.work(self.items[index], self.warn, self.progress)
            except Exception as error:
                with self.lock:
                    self.errors[index] = error
            index = self._next()

    def _serve_workers(self) -> None:
        """The helper thread: start the workers, then serve them until all have stopped.

        SIGINT is blocked in this thread, so the processes it starts (the fork
        server, and so every worker) begin with it blocked: Ctrl-C reaches
        this process, which stops the workers (see :meth:`_stop_all`),
        instead of the fork server's imports, which would print a traceback.
        """
        try:
            if self.context.get_start_method() == "forkserver":
                from multiprocessing import resource_tracker

                resource_tracker.ensure_running()  # first: starting it unblocks SIGINT in the calling thread
            if hasattr(signal, "pthread_sigmask"):
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            for _ in range(self.processes):
                if self.stopping or not self.pending:
                    break
                try:
                    self._start_worker()
                except Exception as error:  # no fork server here (a sandbox without AF_UNIX sockets...): fewer workers, or none
                    if not self.running:
                        self.warn(
                            f"warning: sync --jobs could not start worker processes ({error}); syncing here, one repository at a time"
                        )
                    break
            while self.running and not self.stopping:
                self._serve_ready()
        except BaseException as error:
            self.failed = error
        finally:
            self._stop_all()
            self.helper_done.set()

    def _start_worker(self) -> None:
        here, there = self.context.Pipe()
        process = self.context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(there, self.work, dict(os.environ), self.progress is not None),
            name="gitimport-sync",
            daemon=True,  # ended with this process, whatever happens to it
        )
        with _main_module_left_alone():
            process.start()
        there.close()
        self.running[here] = (process, None)
        self._give_work(here)

    def _give_work(self, connection: Connection) -> None:
        """The next item to a worker that is free, or the word to stop when there is none (or an earlier item failed)."""
        process, _ = self.running[connection]
        index = self._next()
        self.running[connection] = (process, index)
        with contextlib.suppress(OSError):  # it died: its sentinel says so, and its item fails
            connection.send(None if index is None else (index, self.items[index]))

    def _serve_ready(self) -> None:
        from multiprocessing.connection import wait

        sentinels = {process.sentinel: connection for connection, (process, _) in self.running.items()}
        for ready in wait([*self.running, *sentinels, self.wake_reader]):
            if ready is self.wake_reader:
                return
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
            with self.lock:
                self.errors[index] = error
            self._give_work(connection)

    def _ended(self, connection: Connection) -> None:
        process, index = self.running.pop(connection)
        process.join()
        connection.close()
        if index is not None:  # it died at work: its item fails (items are taken in order: none not yet started comes before it)
            code = process.exitcode or 0
            if code < 0:
                how = f"killed by {_signal_name(-code)}"
            elif code > 128:  # SIGTERM turned into SystemExit (see _stop)
                how = f"stopped by {_signal_name(code - 128)}"
            else:
                how = f"exit code {code}"
            with self.lock:
                self.errors[index] = GitImportError(
                    f"The worker process that synced {self.labels[index]} ended unexpectedly ({how}).",
                    "run `gitimport sync` again (the lock was not written, and the cache holds only complete entries); "
                    "if it happens again, run it with --jobs 1 to see the error",
                )

    def _stop_all(self) -> None:
        """Stop every worker still running (SIGTERM, then SIGKILL after :data:`STOP_GRACE`), and wait for them."""
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


_starting = threading.Lock()


@contextlib.contextmanager
def _main_module_left_alone() -> Iterator[None]:
    """Start a worker without running this program's ``__main__`` again in it.

    The spawn and forkserver methods run the parent's main module again in
    every child (as ``__mp_main__``) so that objects defined there
    unpickle.  A worker needs none of it (its work and items are
    gitimport's), and a script that calls sync without an ``if __name__ ==
    "__main__"`` guard would run its whole sync again in each worker, which
    would then wait for the project lock its parent holds.  So the data
    multiprocessing prepares for the child leaves the main module out.
    """
    from multiprocessing import spawn

    with _starting:  # one patch at a time, so each is undone to the original
        prepare = spawn.get_preparation_data

        def without_main(name: str) -> dict[str, object]:
            data: dict[str, object] = prepare(name)
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
            return data

        spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            spawn.get_preparation_data = prepare


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
            else:
                try:
                    send(("done", index, result))
                except Exception as error:  # a result that does not pickle is a bug, reported as one
                    send(("error", index, _portable(error)))
            index = None
    except (EOFError, BrokenPipeError):  # the parent is gone
        return
    except KeyboardInterrupt:  # a SIGINT sent to this worker alone (the parent's Ctrl-C stops it with SIGTERM)
        if index is not None:
            with contextlib.suppress(OSError):
                send(("error", index, (KeyboardInterrupt(), "")))


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
