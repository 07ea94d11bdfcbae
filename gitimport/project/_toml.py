"""Reading TOML files with errors that name the file, line and column.

``tomllib`` is in the standard library from Python 3.11; before that the
``tomli`` backport is the same parser.  Both are cheap enough for the warm
import path, which reads the config and the lock with this module.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9 and 3.10 only
    import tomli as tomllib

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def parse_toml(text: str, source: str | os.PathLike[str], error: type[UsageError], column_offset: int = 0) -> dict[str, Any]:
    """Parse TOML text read from ``source``; raise ``error`` quoting file:line:column.

    ``column_offset`` is added to reported columns, for text that was taken
    out of a prefix (the ``# `` of a PEP 723 script block).
    """
    try:
        document: dict[str, Any] = tomllib.loads(text)
        return document
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0]
        match = _POSITION.search(message)
        reason = _POSITION.sub("", message)
        if match and match.group(1):
            where = f"{source}:{match.group(1)}:{int(match.group(2)) + column_offset}"
        else:
            last_line = text.rsplit("\n", 1)[-1]
            where = f"{source}:{text.count(chr(10)) + 1}:{len(last_line) + 1 + column_offset}"
        raise error(
            f"{where}: invalid TOML: {reason[:1].lower()}{reason[1:]}.",
            "fix the file at that line and column (TOML syntax: https://toml.io)",
        ) from None
    except RecursionError:  # the parser recurses once per level of nested arrays and inline tables
        raise error(
            f"{source}: invalid TOML: arrays or inline tables are nested too deeply to read.",
            "nothing gitimport reads nests more than a few levels: fix or restore the file",
        ) from None


def read_toml(path: Path, error: type[UsageError]) -> dict[str, Any]:
    """Read and parse a TOML file, turning every failure into ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is not valid UTF-8 text.", "TOML files must be UTF-8") from None
    except OSError as exc:
        raise error(f"Cannot read {path}: {exc.strerror}.", "check that the file exists and is readable") from None
    return parse_toml(text, path, error)
