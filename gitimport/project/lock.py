"""The lock file (docs/lock-file.md): exact commits, object ids and digests per module.

The lock is what makes an import reproducible, so it is validated strictly on
read and written deterministically and atomically: a reader sees either the
old file or the new one, never a torn write, and the same content always gives
the same bytes.  It must never hold credentials; callers hand it redacted specs
and URLs only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import LockFileError, SpecError
from ._toml import read_toml
from .spec import validate_module_name

LOCK_VERSION = 1
KINDS = ("module", "package", "namespace")
HEADER = "# This file is written by `gitimport sync`. Commit it; do not edit it by hand.\n"
_HEX40 = re.compile(r"[0-9a-f]{40}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_FIELDS = ("spec", "url", "ref", "commit", "path", "kind", "object", "digest")
_GENERATED_NAME = re.compile(r"[^/\x00-\x1f\x7f]+(/[^/\x00-\x1f\x7f]+)*")


@dataclass(frozen=True)
class LockEntry:
    """One module pinned to an exact commit and verified content."""

    spec: str
    url: str
    ref: str
    commit: str
    path: str
    kind: str
    object: str
    digest: str
    generated: Mapping[str, str] = field(default_factory=dict)
    """Files a build backend would write (docs/lock-file.md#generated-files): path below the root -> ``sha256:``."""


@dataclass(frozen=True)
class Lock:
    """The whole lock file: a mapping of module name to :class:`LockEntry`."""

    modules: Mapping[str, LockEntry]

    def get(self, name: str) -> LockEntry | None:
        return self.modules.get(name)


EMPTY_LOCK = Lock(modules={})


def read_lock(path: Path | None) -> Lock:
    """Read and validate a lock file; a missing file is an empty lock.

    Raises:
      LockFileError: unparsable TOML, an unknown version, a missing field, or
        a value of the wrong shape, naming the file and the module.
    """
    if path is None or not path.exists():
        return EMPTY_LOCK
    document = read_toml(path, LockFileError)
    version = document.get("version")
    if type(version) is not int or version != LOCK_VERSION:  # not True, not 1.0
        raise LockFileError(
            f"{path}: unsupported lock version {version!r} (this gitimport reads version {LOCK_VERSION}).",
            "upgrade gitimport, or delete the lock and run `gitimport sync` to write a new one",
        )
    modules = document.get("modules", {})
    if not isinstance(modules, dict):
        raise LockFileError(f"{path}: 'modules' must be a table.", _corrupt_hint())
    return Lock(modules={name: _entry(path, name, raw) for name, raw in sorted(modules.items())})


def _entry(path: Path, name: str, raw: Any) -> LockEntry:
    try:
        validate_module_name(name)
    except SpecError as exc:
        raise LockFileError(f"{path}: {exc.message}", _corrupt_hint()) from None
    if not isinstance(raw, dict):
        raise LockFileError(f"{path}: module {name!r} must be a table.", _corrupt_hint())
    missing = [f for f in _FIELDS if not isinstance(raw.get(f), str)]
    if missing:
        raise LockFileError(f"{path}: module {name!r} lacks the field(s) {', '.join(missing)}.", _corrupt_hint())
    for key in ("commit", "object"):
        if not _HEX40.fullmatch(raw[key]):
            raise LockFileError(f"{path}: module {name!r} has a {key} that is not 40 lowercase hex digits: {raw[key]!r}.", _corrupt_hint())
    if not _DIGEST.fullmatch(raw["digest"]):
        raise LockFileError(f"{path}: module {name!r} has a digest that is not 'sha256:' and 64 hex digits.", _corrupt_hint())
    if raw["kind"] not in KINDS:
        raise LockFileError(f"{path}: module {name!r} has an unknown kind {raw['kind']!r}.", f"kind is one of {', '.join(KINDS)}")
    if raw["kind"] == "module" and not raw["path"].endswith(".py"):
        raise LockFileError(f"{path}: module {name!r} is of kind 'module' but its path is not a .py file.", _corrupt_hint())
    return LockEntry(**{f: raw[f] for f in _FIELDS}, generated=_generated(path, name, raw.get("generated", {})))


def _generated(path: Path, name: str, raw: Any) -> dict[str, str]:
    """The ``generated`` table: relative paths below the root, each with its SHA-256."""
    if not isinstance(raw, dict):
        raise LockFileError(f"{path}: module {name!r} has a 'generated' that is not a table.", _corrupt_hint())
    for relative, digest in raw.items():
        parts = relative.split("/")
        if not _GENERATED_NAME.fullmatch(relative) or any(part in (".", "..") for part in parts):
            raise LockFileError(f"{path}: module {name!r} has a generated file with an unsafe path {relative!r}.", _corrupt_hint())
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise LockFileError(
                f"{path}: module {name!r} has a generated file {relative!r} whose digest is not 'sha256:' and 64 hex digits.",
                _corrupt_hint(),
            )
    return dict(sorted(raw.items()))


def _corrupt_hint() -> str:
    return "restore the lock from version control, or delete it and run `gitimport sync`"


def render_lock(lock: Lock) -> str:
    """The lock as TOML text: sorted, stable, byte-identical for equal locks."""
    import tomli_w

    document = {
        "version": LOCK_VERSION,
        "modules": {name: _table(lock.modules[name]) for name in sorted(lock.modules)},
    }
    return HEADER + "\n" + tomli_w.dumps(document)


def _table(entry: LockEntry) -> dict[str, Any]:
    """An entry as TOML: ``generated`` only when there are generated files, so other locks keep their bytes."""
    table = asdict(entry)
    if table["generated"]:
        table["generated"] = dict(sorted(table["generated"].items()))
    else:
        del table["generated"]
    return table


def write_lock(path: Path, lock: Lock) -> bool:
    """Write the lock atomically and durably; return False when the file already says this.

    A crash leaves the old or the new file, never a mix, and the temporaries
    of writers that were killed are removed first.
    """
    text = render_lock(lock)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic.sweep_stale(str(path.parent), path.name)
    atomic.write_text(path, text, durable=True)
    return True
