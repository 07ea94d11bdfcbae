"""What the command line prints, and how: aligned tables, sizes, JSON, output, warnings and errors.

Normal output goes to stdout (quiet with ``-q``), warnings and errors to
stderr, errors in the one format of :func:`gitimport.errors.format_error`.
Nothing imported here that a command would not already have loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import UsageError, format_error

if TYPE_CHECKING:
    from ..project.config import Config


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines with every column padded to its widest cell (no trailing spaces)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def human_bytes(size: int) -> str:
    """``512 B``, ``4.3 KiB``, ``1.2 MiB``, ``3.0 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def plural(count: int, word: str, many: str = "") -> str:
    """``1 module``, ``2 modules``; ``many`` for irregular words (``entries``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def print_json(data: object) -> None:
    """The one way listings print JSON: indented, keys in the order given, newline-terminated."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def say(args: argparse.Namespace, text: str) -> None:
    """A line of the command's normal output on stdout, unless ``-q``."""
    if not args.quiet:
        print(text)


def warning(message: str) -> str:
    return message if message.startswith(("warning:", "repairing ")) else f"warning: {message}"


def warn(message: str) -> None:
    """A warning on stderr (shown even with ``-q``)."""
    print(warning(message), file=sys.stderr)


def print_error(message: str, hint: str | None) -> None:
    """An error on stderr, as every error is written (:func:`gitimport.errors.format_error`)."""
    print(format_error(message, hint, prefix="error: "), file=sys.stderr)


def load_config_of(args: argparse.Namespace) -> Config:
    """The configuration a command works on: ``--config``, else discovery."""
    from ..project.config import load_config

    return load_config(args.config)


def require_config(config: Config) -> None:
    """Commands that need configured modules refuse to run without a config file."""
    if config.path is None:
        raise UsageError(
            "No gitimport configuration found in this folder or above it.",
            "create one with `gitimport add NAME SPEC`, or write gitimport.toml with a [modules] table",
        )
