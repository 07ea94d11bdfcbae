"""Distribution metadata for pinned packages, as pip would have installed it.

Many libraries read their own version at import time (``importlib.metadata.
version(...)``), and tools ask for entry points and requirements.  At sync
time :func:`find_project` finds the project that holds the module: the
nearest folder at or above the module's PATH in the commit whose
``pyproject.toml`` or ``setup.cfg`` declares one (each format is read by
:mod:`.metadata_formats`, parsed, never executed).  This module then writes a
``.dist-info`` folder into the cache with ``METADATA``, ``entry_points.txt``,
``direct_url.json`` (PEP 610, the exact commit) and ``INSTALLER``.  Several
modules of one project at one commit share one distribution.  ``RECORD`` is
produced at run time by :class:`GitDistribution` from the modules actually
pinned, so ``files()`` points into the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import atomic
from . import layout
from .metadata_formats import ProjectFiles, ProjectMetadata, normalize_name, read_project
from .objects import TreeFiles
from .top_level import nearest_project

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore

_VERSION_TAG = re.compile(r"v?(\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)*)")


def version_from_ref(ref: str, commit: str) -> str:
    """A version for a project that computes its own: ``v1.2.3`` gives ``1.2.3``, else ``0+g<commit>``."""
    match = _VERSION_TAG.fullmatch(ref)
    return match.group(1) if match else f"0+g{commit[:12]}"


def find_project(store: DiskObjectStore, commit: str, module_path: str, ref: str, notes: list[str] | None = None) -> ProjectMetadata | None:
    """Read the metadata of the project that contains ``module_path``, if any.

    The project is :func:`~gitimport.store.top_level.nearest_project`'s; one
    configured only by a ``setup.py`` has no metadata gitimport can read
    without running it, so none.  A version that only a tool could compute
    (setuptools-scm, hatch-vcs, an ``attr:`` that is not a literal) comes
    from the ref (:func:`version_from_ref`).  What could not be read is
    appended to ``notes``, one sentence each.
    """
    files = TreeFiles.of_commit(store, commit)
    found = nearest_project(files, posixpath.dirname(module_path))
    if found is None:
        return None
    meta = read_project(ProjectFiles(files, found.path, [] if notes is None else notes))
    if meta is not None:
        meta.version = meta.version or version_from_ref(ref, commit)
    return meta


def render_metadata(meta: ProjectMetadata) -> str:
    """The METADATA file (core metadata 2.1) for a project."""
    lines = ["Metadata-Version: 2.1", f"Name: {meta.name}", f"Version: {meta.version}"]
    if meta.summary:
        lines.append(f"Summary: {meta.summary.splitlines()[0]}")
    if meta.requires_python:
        lines.append(f"Requires-Python: {meta.requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in meta.requires]
    for extra, requirements in sorted(meta.extras.items()):
        lines.append(f"Provides-Extra: {extra}")
        for requirement in requirements:
            base, _, marker = requirement.partition(";")
            condition = f'({marker.strip()}) and extra == "{extra}"' if marker.strip() else f'extra == "{extra}"'
            lines.append(f"Requires-Dist: {base.strip()}; {condition}")
    return "\n".join(lines) + "\n"


def render_entry_points(meta: ProjectMetadata) -> str:
    sections = []
    for group, entries in sorted(meta.entry_points.items()):
        sections.append(f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in sorted(entries.items())))
    return "\n".join(sections)


def direct_url(url: str, ref: str, commit: str, project_dir: str) -> dict[str, Any]:
    """PEP 610 information for a VCS install, as pip writes it (``url`` carries no credentials)."""
    info: dict[str, Any] = {"url": url, "vcs_info": {"vcs": "git", "commit_id": commit, "requested_revision": ref}}
    if project_dir:
        info["subdirectory"] = project_dir
    return info


def ensure_distribution(cache_root: Path, meta: ProjectMetadata | None, url: str, ref: str, commit: str, path: str) -> Path | None:
    """Write the .dist-info of ``meta``, the project holding ``path`` (see :func:`find_project`), and remember it for the module."""
    dist_info = write_dist_info(cache_root, meta, direct_url(url, ref, commit, meta.project_dir)) if meta else None
    record_distribution(cache_root, url, commit, path, dist_info)
    return dist_info


def write_dist_info(cache_root: Path, meta: ProjectMetadata, direct: dict[str, Any]) -> Path:
    """Write (once) the .dist-info folder for one project at one commit; return it."""
    key = hashlib.sha256(json.dumps([direct, meta.project_dir, meta.name], sort_keys=True).encode()).hexdigest()[:24]
    folder = cache_root / layout.DISTS / key / f"{normalize_name(meta.name).replace('-', '_')}-{meta.version}.dist-info"
    if (folder / "METADATA").is_file():
        return folder
    staging = Path(atomic.new_staging_folder(folder.parent))
    dist_info = staging / folder.name
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(render_metadata(meta), encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(render_entry_points(meta), encoding="utf-8")
    (dist_info / "INSTALLER").write_text("gitimport\n", encoding="utf-8")
    atomic.write_json(dist_info / "direct_url.json", direct)
    atomic.publish_folder(staging, folder.parent)
    return folder


def dist_pointer(cache_root: Path, url: str, commit: str, path: str) -> Path:
    """Where the cache records which .dist-info (if any) a locked module belongs to."""
    key = hashlib.sha256(f"{url}\0{commit}\0{path}".encode()).hexdigest()[:32]
    return cache_root / layout.DISTS / layout.DIST_POINTERS / f"{key}.json"


def record_distribution(cache_root: Path, url: str, commit: str, path: str, dist_info: Path | None) -> None:
    pointer = dist_pointer(cache_root, url, commit, path)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(pointer, {"dist_info": str(dist_info) if dist_info else None})


def recorded_distribution(cache_root: Path, url: str, commit: str, path: str) -> str | None:
    """The .dist-info folder recorded for a module, or None (none found, or not recorded)."""
    try:
        with open(dist_pointer(cache_root, url, commit, path), encoding="utf-8") as handle:
            value = json.load(handle).get("dist_info")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and os.path.isdir(value) else None
