"""Small text helpers for what the command line prints: aligned tables, sizes, JSON.

Pure functions over strings: no I/O besides :func:`print_json`, nothing imported
that a command would not already have loaded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence


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
