"""The cache's bare repositories: one per remote, created atomically, holding what sync fetched.

A fetched commit is kept reachable from a ref of our own
(``refs/gitimport/<commit>``), and an annotated tag whose signature was
checked is kept under ``refs/gitimport-tags/<name>``, so a later sync finds
both offline.  Callers hold the repository's cache lock (see
:meth:`gitimport.store.cache.Cache.lock`) for everything here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from .. import atomic

PIN_REF_PREFIX = b"refs/gitimport/"
TAG_REF_PREFIX = b"refs/gitimport-tags/"


class OfferingPinnedCommits:
    """The cache's repository, as dulwich's fetch sees it, offering our commits as "haves".

    dulwich's graph walker offers only ``refs/heads/*``, which the cache never
    writes; without haves a server sends the whole tree again for every new
    commit.  Offering the pinned commits (``refs/gitimport/*``) makes an
    upgrade fetch only what changed.
    """

    def __init__(self, repo: Repo) -> None:
        self._repo = repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def get_graph_walker(self, heads: Any = None) -> Any:
        if heads is None:
            pinned = self._repo.refs.as_dict(Ref(PIN_REF_PREFIX.rstrip(b"/")))
            heads = [sha for sha in pinned.values() if sha in self._repo.object_store]
        return self._repo.get_graph_walker(heads)


def _remove_fetch_leftovers(objects: Path) -> None:
    """Temporary pack files of a fetch that was killed; safe because we hold the repository's lock."""
    for pattern in ("tmp_pack_*", "incoming-*", "pack/tmp_*"):
        for leftover in objects.glob(pattern):
            leftover.unlink(missing_ok=True)


def kept_tag(repo: Repo, tag_name: str) -> str | None:
    """The tag object id the cache recorded for ``tag_name`` when its signature was checked."""
    value = repo.refs.as_dict().get(Ref(TAG_REF_PREFIX + tag_name.encode()))
    return value.decode() if value else None


def keep_tag(repo: Repo, tag_name: str, tag_object: str) -> None:
    """Remember a verified tag object, so its signature can be checked again offline."""
    repo.refs[Ref(TAG_REF_PREFIX + tag_name.encode())] = ObjectID(tag_object.encode())


def has_object(repo: Repo, object_id: str) -> bool:
    return ObjectID(object_id.encode()) in repo.object_store


@contextlib.contextmanager
def bare_repository(path: Path, build_dir: Path) -> Iterator[Repo]:
    """The cache's bare repository for a remote, created on first use.

    A new repository is initialized in ``build_dir`` and renamed to ``path``
    only when the block succeeds, so a failed first fetch leaves no trace.
    Callers hold the repository's cache lock.
    """
    if (path / "objects").is_dir():
        _remove_fetch_leftovers(path / "objects")
        with Repo(str(path)) as repo:
            yield repo
        return
    staged = build_dir / "repo.git"
    staged.mkdir()
    with Repo.init_bare(str(staged)) as repo:
        yield repo
    atomic.publish_folder(staged, path)


def pin_commits(repo: Repo, commits: set[str]) -> None:
    """Keep fetched commits reachable from our own refs, so they survive and are offered as haves."""
    for commit in commits:
        repo.refs[Ref(PIN_REF_PREFIX + commit.encode())] = ObjectID(commit.encode())


def pack_sizes(repo: Repo) -> dict[str, int]:
    """Size of each pack file of a repository, by path: compare before and after a fetch."""
    pack_dir = os.path.join(repo.path, "objects", "pack")
    try:
        names = os.listdir(pack_dir)
    except FileNotFoundError:
        return {}
    return {os.path.join(pack_dir, n): os.path.getsize(os.path.join(pack_dir, n)) for n in names if n.endswith(".pack")}


def pack_object_count(pack_path: str) -> int:
    """Objects in a pack, read from its header (bytes 8-12, big-endian)."""
    with open(pack_path, "rb") as handle:
        header = handle.read(12)
    return int.from_bytes(header[8:12], "big") if len(header) == 12 else 0
