"""The cache's bare repositories: one per remote, created atomically, holding what sync fetched.

A fetched commit is kept reachable from a ref of our own
(``refs/gitimport/<commit>``), and an annotated tag whose signature was
checked is kept under ``refs/gitimport-tags/<name>``, so a later sync finds
both offline.  A pinned commit that a history check proved reachable from the
remote's branches or tags is recorded under ``refs/gitimport-reachable/<commit>``,
so the check runs once per cache (docs/security.md#history).  Callers hold the
repository's cache lock (see :meth:`gitimport.store.cache.Cache.lock`) for
everything here.

A commit in the cache's repository comes with every tree and blob it
reaches, unless it is recorded under ``refs/gitimport-partial/<commit>``: a
partial fetch (docs/how-it-works.md#partial-fetch) brings the commit with the
trees on the way to each PATH (or, from a server that refuses the tree
filter, every tree), then only the trees and blobs below the imported roots
that materialization reads.  A blob or tree missing from the repository is
therefore never damage: it is fetched when a reader needs it.  An object that
is present but does not hash to its id is damage, as before.  A partial
commit is offered as a "have" only to a server that filters
(:class:`OfferingPinnedCommits`), since a server that does not would leave
out, or send deltas against, objects we never had.  A server that filters
may still send a delta against a tree a partial commit lacks (off the way to
the PATH it was fetched for): the pack then fails to complete, and the fetch
is made again without partial haves (:meth:`gitimport.remote.fetch.Remote.fetch`).

History checks fetch into a scratch repository instead (:func:`scratch_repository`):
what they bring is commits without their trees, which the cache's repository
must never hold, since a commit in it is taken to come with all its trees.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from dulwich.object_store import ObjectStoreGraphWalker
from dulwich.objects import Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from .. import atomic
from .incoming import StreamingPackStore

PIN_REF_PREFIX = b"refs/gitimport/"
TAG_REF_PREFIX = b"refs/gitimport-tags/"
REACHABLE_REF_PREFIX = b"refs/gitimport-reachable/"
PARTIAL_REF_PREFIX = b"refs/gitimport-partial/"


class _FetchTarget:
    """A repository as dulwich's fetch sees it: the repository's, but packs that are not thin are indexed a chunk at a time.

    See :mod:`gitimport.remote.incoming`: memory does not grow with the objects fetched.
    """

    def __init__(self, repo: Repo) -> None:
        self._repo = repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    @property
    def object_store(self) -> StreamingPackStore:
        return StreamingPackStore(self._repo.object_store)


class OfferingPinnedCommits(_FetchTarget):
    """The cache's repository, as dulwich's fetch sees it, offering our commits as "haves".

    dulwich's graph walker offers only ``refs/heads/*``, which the cache never
    writes; without haves a server sends the whole tree again for every new
    commit.  Offering the pinned commits (``refs/gitimport/*``) makes an
    upgrade fetch only what changed.

    Partial commits (blobs and trees left out) are offered only when
    ``filtering()`` says the fetch is filtered: then the server sends no
    blobs anyway, and the trees it leaves out because we "have" them are
    either held or fetched by id when read.  dulwich asks
    for the walker before it has read the server's capabilities and asks the
    walker for haves after, so the choice is made when the first have is
    asked for (:class:`_WalkerMadeOnFirstUse`).
    """

    def __init__(self, repo: Repo, filtering: Callable[[], bool] = lambda: False) -> None:
        super().__init__(repo)
        self._filtering = filtering

    def get_graph_walker(self, heads: Any = None) -> Any:
        if heads is not None:
            return self._repo.get_graph_walker(heads)
        return _WalkerMadeOnFirstUse(lambda: self._repo.get_graph_walker(self._haves()))

    def _haves(self) -> list[ObjectID]:
        pinned = self._repo.refs.as_dict(Ref(PIN_REF_PREFIX.rstrip(b"/")))
        left_out = set() if self._filtering() else set(partial_commits(self._repo))
        return [sha for sha in pinned.values() if sha in self._repo.object_store and sha.decode() not in left_out]


class _WalkerMadeOnFirstUse:
    """A graph walker that is made when the fetch first uses it (for a have, or to read its ``shallow``)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._walker: Any = None

    def _made(self) -> Any:
        if self._walker is None:
            self._walker = self._make()
        return self._walker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def __iter__(self) -> _WalkerMadeOnFirstUse:
        return self

    def __next__(self) -> Any:
        return next(self._made())


class OfferingOnly(_FetchTarget):
    """A scratch repository, as dulwich's fetch sees it, claiming to have exactly ``haves`` and their history.

    A history check asks for the commits of some tips that one commit does
    not reach; saying "have" for that commit, which the scratch repository
    does not hold, is how the server is told where to stop.  The parents are
    not walked: there are none to walk.
    """

    def __init__(self, repo: Repo, haves: set[str]) -> None:
        super().__init__(repo)
        self._haves = haves

    def get_graph_walker(self, heads: Any = None) -> Any:
        return ObjectStoreGraphWalker([ObjectID(h.encode()) for h in sorted(self._haves)], lambda sha: [])


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


def proven_reachable(repo: Repo, commit: str) -> bool:
    """Whether a history check of this cache proved ``commit`` reachable from its remote's branches or tags."""
    return Ref(REACHABLE_REF_PREFIX + commit.encode()) in repo.refs


def record_reachable(repo: Repo, commit: str) -> None:
    """Remember a proof of reachability, so a later sync neither repeats the check nor contacts the remote for it."""
    repo.refs[Ref(REACHABLE_REF_PREFIX + commit.encode())] = ObjectID(commit.encode())


@contextlib.contextmanager
def scratch_repository(path: Path) -> Iterator[Repo]:
    """A new bare repository at ``path`` for history fetches; the caller removes it (it lives in a build folder)."""
    path.mkdir()
    with Repo.init_bare(str(path)) as repo:
        yield repo


def reaches(repo: Repo, starts: set[str], commit: str) -> bool:
    """Whether ``commit`` is one of ``starts`` or an ancestor of one, walking the commits ``repo`` holds.

    ``repo`` holds what a history fetch brought: every commit that ``starts``
    reach and ``commit`` does not.  A path from a start down to ``commit``
    runs through such commits only (each is a descendant of ``commit``, so
    not its ancestor), ending on a parent link to ``commit``; the walk stops
    where the fetch stopped.  Every commit was hashed on arrival, so the
    parent links found are the real ones.
    """
    if commit in starts:
        return True
    target = commit.encode()
    seen: set[bytes] = set()
    todo = [s.encode() for s in starts]
    while todo:
        sha = todo.pop()
        if sha in seen or ObjectID(sha) not in repo.object_store:
            continue
        seen.add(sha)
        obj = repo.object_store[ObjectID(sha)]
        if not isinstance(obj, Commit):
            continue
        if target in obj.parents:
            return True
        todo.extend(obj.parents)
    return False


def holds_trees(repo: Repo) -> bool:
    """Whether a history fetch brought trees: the server sent whole commits, not commits only."""
    store = repo.object_store
    return any(store.get_raw(sha)[0] == Tree.type_num for sha in store)


def has_repository(path: Path) -> bool:
    """Whether the cache holds a bare repository at ``path`` (a first fetch publishes it whole)."""
    return (path / "objects").is_dir()


def existing_repository(path: Path) -> Repo:
    """Open the cache's bare repository at ``path``, which :func:`has_repository` says is there."""
    return Repo(str(path))


@contextlib.contextmanager
def bare_repository(path: Path, build_dir: Path) -> Iterator[Repo]:
    """The cache's bare repository for a remote, created on first use.

    A new repository is initialized in ``build_dir`` and renamed to ``path``
    only when the block succeeds, so a failed first fetch leaves no trace.
    Callers hold the repository's cache lock.
    """
    if has_repository(path):
        _remove_fetch_leftovers(path / "objects")
        with existing_repository(path) as repo:
            yield repo
        return
    staged = build_dir / "repo.git"
    staged.mkdir()
    with Repo.init_bare(str(staged)) as repo:
        yield repo
    atomic.publish_folder(staged, path)


def pin_commits(repo: Repo, commits: set[str], *, partial: bool | None) -> None:
    """Keep fetched commits reachable from our own refs, so they survive and are offered as haves.

    ``partial``: True if the fetch left blobs out (a filtered fetch), False if
    it brought every object of the commits (which clears an earlier mark),
    None for commits it did not bring (their mark stays as it was).
    """
    for commit in commits:
        repo.refs[Ref(PIN_REF_PREFIX + commit.encode())] = ObjectID(commit.encode())
        mark = Ref(PARTIAL_REF_PREFIX + commit.encode())
        if partial:
            repo.refs[mark] = ObjectID(commit.encode())
        elif partial is False and mark in repo.refs:
            del repo.refs[mark]


def pinned_commits(repo: Repo) -> set[str]:
    """Every commit a fetch brought into the repository (whole or partial)."""
    return {sha.decode() for sha in repo.refs.as_dict(Ref(PIN_REF_PREFIX.rstrip(b"/"))).values()}


def partial_commits(repo: Repo) -> list[str]:
    """The commits a filtered fetch brought without all their blobs."""
    return sorted(sha.decode() for sha in repo.refs.as_dict(Ref(PARTIAL_REF_PREFIX.rstrip(b"/"))).values())


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
