"""``gitimport add`` and ``remove``: change the modules table of a config file in place.

The user's file keeps its comments, order and formatting: it is edited with
``tomlkit`` (imported here only, never on the import path) and written
atomically.  ``add`` proves the spec first, by syncing the new module against
a copy of the configuration that includes it; the file is written only when
that succeeded, so a typo in a URL or a ref never reaches the config.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic
from .errors import ConfigError, OutOfDateError, UsageError
from .project.config import Config, load_config, require_lock_folder
from .project.discovery import CONFIG_NAME, DEFAULT_LOCK_NAME
from .project.lock import Lock, read_lock, write_lock
from .project.spec import Spec, parse_spec, redact_url, validate_module_name
from .store.cache import project_lock
from .sync import SyncReport, sync


@dataclass(frozen=True)
class Added:
    """What ``add`` did: the config file written, whether it was new, and the sync report."""

    config_path: Path
    created: bool
    replaced: str | None  # the spec the name had before, if any
    report: SyncReport
    unchanged: bool = False  # the file already said this and was left as it was
    also: tuple[str, ...] = ()  # the distribution's other names, written as the entry's ``also``


def add_module(config: Config, name: str, text: str, *, only: bool = False, warn: Any = None) -> Added:
    """Check ``name = text``, sync that module, then write it into the config file.

    When the module's distribution ships other top-level names that no entry
    pins, they are synced with it and written as the entry's ``also``
    (docs/configuration.md#whole-distributions), unless ``only``.  With no
    configuration, ``gitimport.toml`` is created in the current folder.
    Everything from reading the config to writing it back happens under the
    project's lock, on the config as it is then: another ``add`` may have
    changed it since the caller read it, and what it added must survive.

    Raises:
      SpecError: a bad name or spec (nothing written).
      ConfigError: the config is a script, whose block is not edited.
      UsageError: ``name`` is in the ``also`` of another entry.
      FetchError, RefNotFoundError, PathNotFoundError, ...: from the sync (nothing written).
    """
    validate_module_name(name)
    path = config.path if config.path is not None else Path.cwd() / CONFIG_NAME
    _refuse_script(path)
    spec = parse_spec(_relative_to(text, path.parent), path.parent)
    require_lock_folder(config)
    with project_lock(config.cache_dir, path):
        created = not path.exists()
        config = config if created else load_config(path)
        _refuse_also_member(config, name, path, instead="add {entry} SPEC")
        previous = config.modules.get(name)
        candidate = dataclasses.replace(
            _without_entry(config, name),
            path=path,
            lockfile=config.lockfile or path.parent / DEFAULT_LOCK_NAME,
        )
        candidate.modules[name] = spec
        report = sync(candidate, only=[name], warn=warn or (lambda message: None))
        if previous is not None and previous.redacted == spec.redacted:
            return Added(path, False, previous.redacted, report, unchanged=True)  # leave the file as the user wrote it
        unpinned = None if only else next((o.unpinned for o in report.modules if o.name == name and o.unpinned is not None), None)
        also = unpinned.also if unpinned is not None else ()
        if unpinned is not None and also:
            spec = parse_spec(_table(spec, unpinned.path), path.parent)  # the folder that holds every name
            report = _sync_with_also(candidate, name, spec, also, report, warn)
        document = _load(path)
        modules = _modules_table(document, path)
        _delete(modules, name)
        written = redact_url(spec.text)
        if written != spec.text and warn is not None:
            warn(f"warning: the credentials in the URL were used for this sync but not written to {path}; put them in ~/.netrc")
        modules[name] = _inline(spec, also) if also else written  # a config file is committed: it never holds a token
        _write(path, document)
        _refresh_snapshot(path)
    return Added(path, created, previous.redacted if previous is not None else None, report, also=also)


def _sync_with_also(config: Config, name: str, spec: Spec, also: tuple[str, ...], first: SyncReport, warn: Any) -> SyncReport:
    """Sync entry ``name`` with ``also``, at one commit; the report includes what ``first``, the sync of ``name`` alone, did."""
    modules = {**config.modules, **{other: spec for other in (name, *also)}}
    report = sync(
        dataclasses.replace(config, modules=modules, also={**config.also, name: also}), only=[name], warn=warn or (lambda message: None)
    )
    report.fetched = {**first.fetched, **report.fetched}
    report.history = [*first.history, *report.history]
    before = {outcome.name: outcome for outcome in first.modules}
    report.modules = [
        dataclasses.replace(o, action=before[o.name].action, ref_kind=before[o.name].ref_kind)
        if o.name in before and o.action == "unchanged"  # unless this sync moved it
        else o
        for o in report.modules
    ]
    return report


def _refuse_also_member(config: Config, name: str, path: Path, instead: str) -> None:
    """A name in another entry's ``also`` is that entry's: adding or removing it alone would split the entry."""
    entry = config.group(name)[0]
    if entry != name:
        raise UsageError(
            f"{name!r} is pinned by the 'also' of {entry!r} in {path}.",
            f"take {name!r} out of {entry!r}'s also in that file, or run `gitimport {instead.format(entry=entry)}` for the whole entry",
        )


def _without_entry(config: Config, name: str) -> Config:
    """The config without entry ``name`` and the names its ``also`` pins: a fresh copy, safe to add to."""
    dropped = set(config.group(name))
    return dataclasses.replace(
        config,
        modules={n: s for n, s in config.modules.items() if n not in dropped},
        also={n: others for n, others in config.also.items() if n != name},
    )


def _table(spec: Spec, path: str) -> dict[str, str]:
    """The table form of ``spec`` with PATH ``path``: the REPO as the spec spelled it (credentials included)."""
    table = {"git": spec.written_repo, "ref": spec.ref}
    return {**table, "path": path} if path else table


def _inline(spec: Spec, also: tuple[str, ...]) -> Any:
    """``{ git = …, ref = …, path = …, also = […] }`` as a tomlkit inline table, without credentials."""
    import tomlkit

    table = tomlkit.inline_table()
    written = _table(spec, spec.path)
    table.update({**written, "git": redact_url(written["git"]), "also": list(also)})
    return table


def remove_module(config: Config, name: str) -> bool:
    """Delete entry ``name`` from the config file, and it and the names its ``also`` pins from the lock; True when the lock changed.

    Like :func:`add_module`, under the project's lock and on the files as they are then.

    Raises:
      UsageError: ``name`` is not configured, or is pinned by another entry's ``also``.
      OutOfDateError: frozen mode forbids changing the lock.
    """
    path = config.path
    if path is None:
        raise UsageError(f"{name!r} is not a module of any configuration.", "list the configured modules with `gitimport list`")
    _refuse_script(path)
    with project_lock(config.cache_dir, path):
        config = load_config(path)
        if name not in config.modules:
            raise UsageError(f"{name!r} is not a module of {path}.", "list the configured modules with `gitimport list`")
        _refuse_also_member(config, name, path, instead="remove {entry}")
        names = set(config.group(name))
        lock = read_lock(config.lockfile)
        if names & set(lock.modules) and config.frozen:
            raise OutOfDateError(
                f"Frozen mode forbids removing {name} from {config.lockfile}.", "unset frozen (or GITIMPORT_FROZEN) to change the lock"
            )
        document = _load(path)
        _delete(_modules_table(document, path), name)
        _write(path, document)
        lock_changed = False
        if config.lockfile is not None and names & set(lock.modules):
            lock_changed = write_lock(config.lockfile, Lock(modules={n: e for n, e in lock.modules.items() if n not in names}))
        _refresh_snapshot(path)
    return lock_changed


def _refuse_script(path: Path) -> None:
    if path.suffix == ".py":
        raise ConfigError(
            f"{path} is a script; `gitimport add` and `remove` do not edit its '# /// script' block.",
            "edit the [tool.gitimport.modules] lines of the block by hand",
        )


def _relative_to(text: str, folder: Path) -> str:
    """Re-anchor a relative local REPO typed in the current folder to the config's folder."""
    repo, at, rest = text.rpartition("@")
    if not at or not repo.startswith(("./", "../")) or Path.cwd().absolute() == folder.absolute():
        return text
    moved = os.path.relpath(Path.cwd() / repo, folder).replace(os.sep, "/")
    return f"{moved if moved.startswith('..') else './' + moved}@{rest}"


def _load(path: Path) -> Any:
    import tomlkit

    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(f"Cannot edit {path}: {exc}.", "fix the file, then run the command again") from None


def _modules_table(document: Any, path: Path) -> Any:
    """The modules table of a gitimport.toml or pyproject.toml, created when absent."""
    import tomlkit

    parent = document
    if path.name != CONFIG_NAME:  # pyproject.toml, or any other file named by --config: [tool.gitimport]
        for key in ("tool", "gitimport"):
            if key not in parent:
                parent[key] = tomlkit.table(is_super_table=True)
            parent = parent[key]
    if "modules" not in parent:
        parent["modules"] = tomlkit.table()
    return parent["modules"]


def _delete(modules: Any, name: str) -> None:
    """Remove ``name`` written as a quoted key (``"a.b" = …``) or as TOML dotted keys (``a.b = …``)."""
    if name in modules:
        del modules[name]
        return
    parts = name.split(".")
    tables = [modules]
    for part in parts[:-1]:
        child = tables[-1].get(part)
        if not hasattr(child, "get") or "git" in child:
            return
        tables.append(child)
    if parts[-1] not in tables[-1]:
        return
    del tables[-1][parts[-1]]
    for depth in range(len(tables) - 1, 0, -1):  # drop the dotted levels left empty
        if len(tables[depth]) == 0:
            del tables[depth - 1][parts[depth - 1]]


def _write(path: Path, document: Any) -> None:
    """Write the document atomically and durably, keeping the file's mode."""
    import tomlkit

    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    atomic.write_text(path, tomlkit.dumps(document), mode=mode, durable=True)


def _refresh_snapshot(path: Path) -> None:
    """The runtime snapshot was computed from the old file: compute it from the new one."""
    from .state import ProjectState, write_snapshot

    write_snapshot(ProjectState.load(load_config(path)))
