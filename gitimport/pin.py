"""``pin()``: import a module inline from a spec, without a config entry.

A pin is recorded in no lock; its reproducibility comes from a commit id in the
spec or from ``commit=``.  Pins of an exact commit are remembered in the cache
(``pins-v1/``), so a warm ``pin()`` costs what a warm import costs; pins of a
moving ref are resolved against the remote on every first call in a process,
with a warning, because that is what a moving ref means.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType

from . import atomic
from .errors import GitImportError, IntegrityError, SpecError, import_error
from .project.config import load_config
from .project.lock import LockEntry
from .project.spec import Spec, is_commit_id, parse_spec, redact_url, validate_module_name
from .runtime.finder import GitImportFinder, install, installed_finder
from .state import table_row
from .store import layout
from .store.binding import serves
from .store.cache import Cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_warned: set[str] = set()


def pin(spec: str, name: str | None = None, commit: str | None = None, allow_unreachable: bool = False) -> ModuleType:
    """Import the module that ``spec`` names and return it.

    Args:
      spec: ``REPO@REF[:PATH]``; a relative local REPO resolves against the
        calling file's folder.
      name: register the module under this name for later ``import name``;
        default: the file stem or last PATH component.
      commit: the 40-hex commit the ref must resolve to, else refuse.
      allow_unreachable: trust a pinned commit id that no branch or tag of
        the repository reaches, as ``allow-unreachable = true`` does in a
        config (docs/security.md#history).

    Raises:
      ImportError: for every failure, with the reason and a hint.
    """
    try:
        base = _caller_dir()
        parsed = replace(parse_spec(spec, base), allow_unreachable=allow_unreachable)
        module_name = validate_module_name(name or default_name(parsed))
        if commit is not None and not is_commit_id(commit):
            raise SpecError(f"commit={commit!r} is not a full 40-hex commit id.", "pass the full commit id, or leave commit out")
        finder = installed_finder() or install(load_config())
        entry = _resolve(finder, parsed, _Request(spec, str(base), allow_unreachable), module_name, commit)
    except GitImportError as exc:  # the spec as the caller wrote it may carry a token: quote it redacted
        raise import_error(name, f"Cannot pin {redact_url(repr(spec))}: {exc.message}", exc.hint) from None
    cache_root = str(finder.config.cache_dir)
    existing = sys.modules.get(module_name)
    if existing is not None and finder.served_from(module_name) == table_row(entry, module_name, cache_root)[1]:
        return existing
    finder.register(module_name, entry, cache_root)
    sys.modules.pop(module_name, None)
    return importlib.import_module(module_name)


def default_name(spec: Spec) -> str:
    """The file stem or last PATH component, else the repository's name."""
    last = spec.path.rsplit("/", 1)[-1] if spec.path else spec.repo.normalized.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last[:-3] if last.endswith(".py") else last.replace("-", "_")


def _caller_dir() -> Path:
    frame = sys._getframe(2)
    filename = frame.f_code.co_filename
    return Path(filename).parent.absolute() if os.path.isfile(filename) else Path.cwd()


@dataclass(frozen=True)
class _Request:
    """What the child that fetches a pin needs (docs/how-it-works.md#the-cold-path): the spec as written, and its base."""

    spec: str
    base: str
    allow_unreachable: bool


def _resolve(finder: GitImportFinder, spec: Spec, request: _Request, name: str, commit: str | None) -> LockEntry:
    if spec.is_pinned_commit and commit is not None and commit != spec.ref:
        raise IntegrityError(f"The spec names commit {spec.ref[:12]}, but commit= says {commit[:12]}.", "make them agree")
    exact = spec.ref if spec.is_pinned_commit else None
    if exact is None and commit is None and spec.redacted not in _warned:
        _warned.add(spec.redacted)
        warnings.warn(f"pin({spec.redacted!r}) follows a moving ref; pass commit= to make it reproducible", stacklevel=3)
    cache = Cache(finder.config.cache_dir)
    record = _record_path(cache, spec, name)
    if exact is not None:
        remembered = _read_record(record)
        if remembered is not None and serves(cache.locked_tree(name, remembered), remembered):
            return remembered
    fields = finder.own_code(_lock_in_child, finder.config_path, request, name)
    entry = LockEntry(**fields)
    if commit is not None and entry.commit != commit:
        raise IntegrityError(
            f"{spec.redacted} resolved to commit {entry.commit[:12]}, but commit= requires {commit[:12]}.",
            "the ref moved: check the repository, or update commit=",
        )
    if exact is not None:
        cache.create()
        record.parent.mkdir(exist_ok=True)
        atomic.write_json(record, {"name": name, **asdict(entry)})
    return entry


def _lock_in_child(config_path: str | None, request: _Request, name: str) -> dict[str, Any]:
    """:func:`.coldpath.lock_pin`, with the import of its module (json, subprocess) among gitimport's own imports."""
    from .runtime.coldpath import lock_pin

    return lock_pin(config_path, request.spec, request.base, name, request.allow_unreachable)


def _record_path(cache: Cache, spec: Spec, name: str) -> Path:
    key = hashlib.sha256(f"{spec.repo.identity}\0{spec.ref}\0{spec.path}\0{name}".encode()).hexdigest()[:32]
    return cache.folder(layout.PINS) / f"{key}.json"


def _read_record(path: Path) -> LockEntry | None:
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
        record.pop("name")
        return LockEntry(**record)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
