"""Which blobs of a commit a module needs, and which of them (or of the trees holding them) the cache's repository lacks.

A partial fetch (docs/how-it-works.md#partial-fetch) brings a commit with the
trees on the way to PATH and no blob; sync then asks the server, by id, for
the trees and blobs its modules need.  What a module needs is decided here
and nowhere else: every blob below its imported root, and the files of :data:`BUILD_FILES` in each
folder from the repository root down to the folder that holds the root.
Anything that reads another file outside the root at materialization must add
its name there: a blob read that this list misses is still fetched, when the
read fails (:class:`gitimport.errors.MissingObjectError`, caught by sync), but
with one more request per blob.

This module only reads trees (each one re-hashed, as everywhere); it never
talks to a remote and never reads a blob.  A blob or a tree below the root
missing from the repository is not damage here: it is what the next request
asks for (a tree whole, with everything below it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .objects import MODE_GITLINK, MODE_TREE, commit_tree, holds_object, tree_entries

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore

    from .materialize import Root

BUILD_FILES = frozenset({"pyproject.toml", "setup.cfg", ".gitattributes"})
"""Files read outside the imported root, in each folder from the repository root down to the root's folder.

``pyproject.toml`` and ``setup.cfg`` for the ``.dist-info``
(:mod:`gitimport.store.metadata`) and the build-time generated files;
``.gitattributes`` for ``export-subst``.  The root's own files are fetched
with everything below it.
"""


@dataclass
class Missing:
    """The blobs a module needs that the repository lacks, and what to ask the server for to get them.

    ``asks`` holds a tree's id where every blob below that tree is missing,
    or the tree itself (the server then sends the tree's blobs, and a size
    filter applies to them), else the blob's own id.  ``blobs`` maps every
    missing blob to its path in the commit, ``trees`` every missing tree, for
    messages.
    """

    asks: set[str] = field(default_factory=set)
    blobs: dict[str, str] = field(default_factory=dict)
    trees: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.blobs or self.trees)

    def update(self, other: Missing) -> None:
        self.asks |= other.asks
        self.blobs.update(other.blobs)
        self.trees.update(other.trees)

    def asked_by_id(self, blob: str) -> bool:
        """Whether ``blob`` is asked for by its own id rather than through a tree (no size filter applies then)."""
        return blob in self.asks


def missing_blobs(store: DiskObjectStore, commit: str, root: Root, *, below_root: bool = True) -> Missing:
    """What ``commit`` lacks of the blobs its imported ``root`` needs (all of them, after a partial fetch).

    ``below_root=False`` leaves out the root's own blobs, for a module whose
    tree is already in the cache.
    """
    missing = Missing()
    tree = commit_tree(store, commit)
    parts = root.path.split("/") if root.path else []
    walked: list[str] = []
    for part in [*parts[:-1], None]:  # the folders from the repository root down to the one holding the root
        entries = tree_entries(store, tree)
        for name, mode, object_id in entries:
            if name in BUILD_FILES and mode & 0o170000 == 0o100000 and not holds_object(store, object_id):
                missing.blobs[object_id] = "/".join([*walked, name])
                missing.asks.add(object_id)
        if part is None:
            break
        tree = next((object_id for name, mode, object_id in entries if name == part and mode == MODE_TREE), "")
        if not tree:
            break  # find_root has walked this path; a file on the way is its error to report
        walked.append(part)
    if not below_root:
        return missing
    if root.mode != MODE_TREE:
        if not holds_object(store, root.object):
            missing.blobs[root.object] = root.path
            missing.asks.add(root.object)
        return missing
    if not holds_object(store, root.object):
        return _whole_tree(missing, root.object, root.path)
    below, nothing_present = _below(store, root.object, f"{root.path}/" if root.path else "")
    missing.update(_as_one_tree(below, root.object) if nothing_present else below)
    return missing


def _below(store: DiskObjectStore, tree_id: str, prefix: str) -> tuple[Missing, bool]:
    """The missing blobs below a tree, each subtree that lacks all of its blobs asked for whole; whether none is present."""
    missing = Missing()
    nothing_present = True
    for name, mode, object_id in tree_entries(store, tree_id):
        if mode == MODE_GITLINK:
            continue  # a submodule's commit is not in this repository
        if mode == MODE_TREE and not holds_object(store, object_id):
            _whole_tree(missing, object_id, f"{prefix}{name}")
        elif mode == MODE_TREE:
            inner, inner_absent = _below(store, object_id, f"{prefix}{name}/")
            missing.update(_as_one_tree(inner, object_id) if inner_absent else inner)
            nothing_present = nothing_present and inner_absent
        elif holds_object(store, object_id):
            nothing_present = False
        else:
            missing.blobs[object_id] = f"{prefix}{name}"
            missing.asks.add(object_id)
    return missing, nothing_present


def _whole_tree(missing: Missing, tree_id: str, path: str) -> Missing:
    """``missing`` and a tree the repository lacks, asked for whole: what is below it is unknown until it arrives."""
    missing.trees[tree_id] = path
    missing.asks.add(tree_id)
    return missing


def _as_one_tree(missing: Missing, tree_id: str) -> Missing:
    """The same blobs, asked for through their tree (nothing, if the tree holds no blob)."""
    return Missing(asks={tree_id}, blobs=missing.blobs, trees=missing.trees) if missing else missing
