"""``gitimport cache export DIR``: the trees locks use, written as a tree mirror (docs/tree-mirrors.md).

For every locked module, two archives (:mod:`gitimport.remote.mirror`): the
tree with everything below it, and what binds the lock's ``commit:path`` to
that tree, which is exactly what sync reads of the commit outside the tree
(:func:`gitimport.sync.objects_read` runs sync's own readers and records
them).  Every object comes from the cache's bare repository and is re-hashed
as it is read.  Archives are named by content, so one already in DIR is
kept, and running the export again writes only what is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GitImportError
from .project.config import Config
from .project.lock import LockEntry, read_lock
from .project.spec import Spec, parse_spec
from .store.cache import Cache
from .store.gc import Project

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore


@dataclass
class ExportReport:
    """What an export wrote, found already there, and could not write (module -> why)."""

    written: list[str] = field(default_factory=list)
    present: int = 0
    written_bytes: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def export_mirror(config: Config, projects: list[Project], target: Path) -> ExportReport:
    """Write the archives of every module the locks of ``projects`` pin into ``target``."""
    report = ExportReport()
    cache = Cache(config.cache_dir)
    for project in projects:
        for name, entry in sorted(read_lock(project.lockfile).modules.items()):
            try:
                spec = parse_spec(entry.spec, project.base)
                _export_module(config, cache, name, spec, entry, target, report)
            except GitImportError as failure:
                report.skipped[f"{name} ({project.lockfile})"] = failure.message
    return report


def _export_module(config: Config, cache: Cache, name: str, spec: Spec, entry: LockEntry, target: Path, report: ExportReport) -> None:
    """Write ``entry``'s two archives unless ``target`` has them."""
    from .remote.mirror import binding_archive, tree_archive, write_pack
    from .remote.repo import existing_repository, has_repository
    from .store.objects import read_typed
    from .sync import objects_read

    archives = {target / tree_archive(entry.object): "tree", target / binding_archive(entry.commit, entry.path): "binding"}
    missing = [path for path in archives if not path.is_file()]
    report.present += len(archives) - len(missing)
    if not missing:
        return
    repo_dir = cache.repo_dir(spec.repo.identity)
    if not has_repository(repo_dir):
        raise GitImportError(
            f"the cache has no copy of {spec.repo.normalized}",
            "export from a cache that synced it from git (one served by a tree mirror holds the files, not the git objects)",
        )
    with cache.lock(repo_dir.name), existing_repository(repo_dir) as repo:
        store = repo.object_store
        below = _objects_below(store, entry.object)
        contents = {"tree": below, "binding": ({entry.commit} | objects_read(config, name, spec, entry, repo)) - below}
        for path in missing:
            write_pack(path, [read_typed(store, object_id) for object_id in sorted(contents[archives[path]])])
            report.written.append(path.relative_to(target).as_posix())
            report.written_bytes += path.stat().st_size


def _objects_below(store: DiskObjectStore, object_id: str) -> set[str]:
    """``object_id`` (a tree, or a file) and every tree and blob below it; submodule commits are not in the repository."""
    from .store.objects import MODE_GITLINK, MODE_TREE, read_typed, tree_entries

    if read_typed(store, object_id)[0] != b"tree":
        return {object_id}
    found, pending = {object_id}, [object_id]
    while pending:
        for _, mode, child in tree_entries(store, pending.pop()):
            if mode != MODE_GITLINK and child not in found:
                found.add(child)
                if mode == MODE_TREE:
                    pending.append(child)
    return found
