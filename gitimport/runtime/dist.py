"""``importlib.metadata`` answers for pinned packages (the finder's ``find_distributions``).

Imported only when something asks for metadata, which means ``importlib.metadata``
is already loaded; never on the import path of pinned modules themselves.
``RECORD`` is built here from the trees actually pinned, with the hashes the
cache recorded when it verified them, so ``files()`` lists real cache paths.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any


class GitDistribution(Distribution):
    """A distribution whose metadata lives in the cache's ``dists-v2`` folder."""

    def __init__(self, dist_info: str, members: tuple[tuple[str, str, str], ...]) -> None:
        self._dist_info = Path(dist_info)
        self._roots = {root: entry for root, entry, _ in members}  # root name -> tree entry folder
        self._top_level = sorted({module.split(".", 1)[0] for _, _, module in members})

    def read_text(self, filename: str) -> str | None:
        if filename == "RECORD":
            return self._record()
        if filename == "top_level.txt":  # the names this distribution is imported as (packages_distributions)
            return "".join(f"{name}\n" for name in self._top_level)
        try:
            return (self._dist_info / filename).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def locate_file(self, path: Any) -> Path:
        first = Path(str(path)).parts[0] if str(path) else ""
        entry = self._roots.get(first)
        return Path(entry) / str(path) if entry else self._dist_info.parent / str(path)

    @property
    def _normalized_name(self) -> str:  # used by importlib.metadata to de-duplicate
        return self._dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0].lower()

    def _record(self) -> str:
        lines = []
        for root, entry in sorted(self._roots.items()):
            try:
                with open(os.path.join(entry, "manifest.json"), encoding="utf-8") as handle:
                    manifest = json.load(handle)
            except (OSError, ValueError):
                continue
            prefix = "" if manifest.get("kind") == "module" else f"{root}/"
            for relative, hexdigest in sorted(manifest.get("files", {}).items()):
                path = f"{prefix}{relative}"
                encoded = base64.urlsafe_b64encode(bytes.fromhex(hexdigest)).rstrip(b"=").decode()
                size = os.lstat(os.path.join(entry, path)).st_size if os.path.lexists(os.path.join(entry, path)) else ""
                lines.append(f"{path},sha256={encoded},{size}")
        lines.append(f"{self._dist_info.name}/RECORD,,")
        return "\n".join(lines) + "\n"


def distributions(dists: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]], name: str | None) -> Iterator[Distribution]:
    """The pinned distributions matching ``name`` (all when None), by PEP 503 name."""
    if name is None:
        for dist_info, roots in dists.values():
            yield GitDistribution(dist_info, roots)
        return
    from ..store.metadata_formats import normalize_name

    found = dists.get(normalize_name(name))
    if found is not None:
        yield GitDistribution(*found)
