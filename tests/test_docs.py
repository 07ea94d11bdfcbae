"""The documentation is text people read: no merge left its conflict markers in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_page_holds_merge_conflict_markers() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    marked = [
        f"{page.name}:{n}"
        for page in pages
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"(<{7}|={7}|>{7})( |$)", line)
    ]
    assert marked == []
