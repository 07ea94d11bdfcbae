"""Atomic writes: a reader sees the old file or folder or the new one, never a part.

Every file gitimport writes (the user's config and lock, the cache's records,
the runtime snapshot, a vendored manifest) goes through :func:`write_bytes`,
and every folder it builds (a tree, a bare repository, a ``.dist-info``, a
namespace farm) is published with :func:`publish_folder`.  Both work the same
way: build under a temporary name in the destination's own folder, then one
``rename``.  Temporary names carry the writer's pid
(``.<name>.<pid>.<random>.tmp``), which is how :func:`sweep_stale` tells the
leftovers of a killed process from the work of a running one, with one parser
(:func:`owner_pid`) for every kind of temporary.

Light on purpose (``os`` only at import): the finder writes its snapshot
through this module, and a module's first import its ``.pyc`` file
(:mod:`gitimport.store.bytecode`).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from re import Match


def _match_temporary(name: str) -> Match[str] | None:
    """``name`` parsed as a temporary name, or None.  ``re`` is imported here, not at start-up."""
    import re

    return re.fullmatch(r"\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>\w+)\.tmp", name)


def temporary_name(name: str) -> str:
    """A fresh temporary name for ``name`` owned by this process."""
    return f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"


def owner_pid(name: str) -> int | None:
    """The pid that owns a temporary file or folder name, or None for any other name."""
    match = _match_temporary(name)
    return int(match.group("pid")) if match else None


def temporary_of(name: str) -> str | None:
    """The name that a temporary file or folder name is being written for, or None for any other name."""
    match = _match_temporary(name)
    return match.group("name") if match else None


def process_alive(pid: int) -> bool:
    """True when ``pid`` is a running process (or one we may not signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def in_progress(name: str) -> bool:
    """A temporary of a process that still runs: someone is writing it right now."""
    pid = owner_pid(name)
    return pid is not None and process_alive(pid)


def stale_temporaries(folder: str, name: str | None = None) -> Iterator[str]:
    """Paths of temporaries in ``folder`` (of ``name`` only, when given) whose writer is gone."""
    try:
        children = os.listdir(folder)
    except OSError:
        return
    for child in sorted(children):
        match = _match_temporary(child)
        if match and (name is None or match.group("name") == name) and not process_alive(int(match.group("pid"))):
            yield os.path.join(folder, child)


def sweep_stale(folder: str, name: str | None = None) -> None:
    """Remove the temporaries that killed writers left in ``folder``."""
    for path in stale_temporaries(folder, name):
        remove(path)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, with permissions ``mode``.

    ``durable`` flushes the file to disk before the rename: for the user's
    own files (config, lock), which nothing can rebuild.  Cache records skip
    it; a lost one is rebuilt by the next sync.  On any failure the temporary
    is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, temporary_name(name))
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        if isinstance(exc, OSError) and exc.filename in (None, temporary):
            exc.filename = path  # os.write names no file, and the temporary is gone: name the one asked for
        raise


def publish_link(existing: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Give the finished file ``existing`` a second name ``path`` (replacing one there): a hard link, then one rename.

    Raises OSError where hard links are not possible; nothing is left behind then.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, temporary_name(name))
    os.link(existing, temporary)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o644, durable: bool = False) -> None:
    """:func:`write_bytes` of UTF-8 text, newlines written as given."""
    write_bytes(path, text.encode("utf-8"), mode=mode, durable=durable)


def write_json(path: str | os.PathLike[str], data: object) -> None:
    """A cache record: sorted JSON, read-only once written."""
    import json

    write_text(path, json.dumps(data, indent=1, sort_keys=True), mode=0o444)


def new_staging_folder(destination: str | os.PathLike[str]) -> str:
    """An empty temporary folder beside ``destination``, to build it in and publish."""
    folder, name = os.path.split(os.fspath(destination))
    os.makedirs(folder, exist_ok=True)
    staging = os.path.join(folder, temporary_name(name))
    os.mkdir(staging, 0o755)
    return staging


def publish_folder(staging: str | os.PathLike[str], destination: str | os.PathLike[str]) -> bool:
    """Rename a finished folder into place; False when another process published it first.

    Cache folders are named by their content, so one published by someone
    else is as good as ours: ours is then removed.  Any other failure removes
    the staging folder and is raised.
    """
    staging, destination = os.fspath(staging), os.fspath(destination)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    try:
        os.rename(staging, destination)
        return True
    except OSError:
        remove(staging)
        if os.path.isdir(destination):
            return False
        raise


def remove(path: str | os.PathLike[str]) -> None:
    """Remove a file, a link, or a folder of read-only files (folders stay writable by their owner)."""
    path = os.fspath(path)
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        import shutil

        def make_writable_and_retry(func, target, _exc_info):  # type: ignore[no-untyped-def]
            os.chmod(os.path.dirname(target), 0o755)
            func(target)

        shutil.rmtree(path, onerror=make_writable_and_retry)
