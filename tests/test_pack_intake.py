"""A fetched pack is indexed a chunk at a time, so memory does not grow with a large file (gitimport.remote.incoming).

Packs are made by ``git pack-objects`` from repositories written with git,
and served by ``git http-backend``; a server that sends a bad pack is played
by handing the store a pack whose bytes were changed.  What a bad pack must
leave behind is nothing: no pack, no index, no temporary file.
"""

from __future__ import annotations

import hashlib
import subprocess
import zlib
from pathlib import Path

import pytest
from dulwich.errors import ChecksumMismatch
from dulwich.repo import Repo
from support.project import TIMEOUT, Project
from support.servers import git_available
from test_integrity_trees import BIG, big_content, measured

from gitimport.remote.incoming import StreamingPackStore
from gitimport.store import layout

pytestmark = pytest.mark.skipif(not git_available(), reason="git CLI not installed")


def git(where: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(where), *args], input=stdin, capture_output=True, check=True, timeout=TIMEOUT).stdout


def repository(where: Path, files: dict[str, bytes]) -> Path:
    """A repository whose tag v1 holds ``files`` (path -> content), and its bare clone, which is returned."""
    for path, data in files.items():
        (where / path).parent.mkdir(parents=True, exist_ok=True)
        (where / path).write_bytes(data)
    git(where.parent, "init", "-q", str(where))
    git(where, "add", ".")
    git(where, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1")
    git(where, "tag", "v1")
    bare = where.parent / f"{where.name}.git"
    git(where.parent, "clone", "-q", "--bare", str(where), str(bare))
    return bare


def pack_of(repo: Path, *revisions: str) -> bytes:
    """A pack of every object of ``revisions``, as a server sends it (deltas where git finds them)."""
    listed = git(repo, "rev-list", "--objects", *revisions)
    return git(repo, "pack-objects", "--stdout", "-q", stdin=listed)


def take(store_path: Path, pack: bytes) -> None:
    """Hand ``pack`` to a new repository's store as a fetch does: write it to ``add_pack``'s file, then commit."""
    with Repo(str(store_path)) as repo:
        handle, commit, _ = StreamingPackStore(repo.object_store).add_pack()
        handle.write(pack)
        commit()


def empty_repository(where: Path) -> Path:
    Repo.init_bare(str(where), mkdir=True).close()
    return where


def pack_folder(where: Path) -> list[str]:
    return sorted(p.name for p in (where / "objects" / "pack").iterdir())


def test_a_large_file_is_fetched_and_materialized_without_holding_it_in_memory(project: Project, tmp_path: Path, serve: object) -> None:
    """A 96 MiB file fetched from a filtering server: before, dulwich indexed it whole (224 MiB peak); now memory stays flat."""
    data = big_content(BIG)
    bare = repository(tmp_path / "repo", {"pkg/__init__.py": b"", "pkg/big.bin": data})
    server = serve("git-http-backend", bare.parent)  # type: ignore[operator]
    project.configure({"pkg": f"{server.url}/{bare.name}@v1:pkg"}, settings='max-file-size = "200 MB"\nmax-tree-size = "400 MB"')

    code, err, peak = measured(project, "sync")

    assert code == 0, err
    (written,) = (project.cache / layout.TREES).rglob("big.bin")
    assert hashlib.sha256(written.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert peak < BIG / 2, f"peak RSS {peak / 1024**2:.1f} MiB"


def test_a_pack_without_deltas_gets_the_index_git_writes(tmp_path: Path) -> None:
    bare = repository(tmp_path / "repo", {"a.txt": b"a\n", "big.bin": big_content(3 * 1024**2)})
    pack = pack_of(bare, "v1")
    target = empty_repository(tmp_path / "target.git")

    take(target, pack)

    (made,) = (target / "objects" / "pack").glob("*.idx")
    (tmp_path / "copy.pack").write_bytes(pack)
    git(tmp_path, "index-pack", "-o", str(tmp_path / "copy.idx"), str(tmp_path / "copy.pack"))
    assert made.read_bytes() == (tmp_path / "copy.idx").read_bytes()
    assert made.name == f"pack-{pack[-20:].hex()}.idx" and pack_folder(target) == [made.name, made.with_suffix(".pack").name]
    git(target, "fsck", "--strict")


def test_a_pack_with_deltas_is_indexed_by_dulwich(tmp_path: Path) -> None:
    base = big_content(2 * 1024**2)
    bare = repository(tmp_path / "repo", {"a.bin": base, "b.bin": base + b"!"})
    target = empty_repository(tmp_path / "target.git")

    take(target, pack_of(bare, "v1"))

    git(target, "fsck", "--strict")
    (index,) = (target / "objects" / "pack").glob("*.idx")
    listing = git(target, "verify-pack", "-v", str(index)).decode()
    assert any(len(line.split()) == 7 for line in listing.splitlines()), "git stored no object as a delta"
    with Repo(str(target)) as repo:
        assert len(list(repo.object_store)) == 4  # the commit, its tree, two blobs
    assert len(pack_folder(target)) == 2


def corrupt_object(pack: bytes) -> bytes:
    """The pack with a byte of its last object's compressed data changed, and its trailer made right again: a server's bad pack."""
    body = bytearray(pack[:-20])
    body[-8] ^= 0xFF
    return bytes(body) + hashlib.sha1(bytes(body)).digest()


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda pack: pack[: len(pack) // 2], ChecksumMismatch),
        (lambda pack: pack[:100] + bytes([pack[100] ^ 0xFF]) + pack[101:], ChecksumMismatch),
        (corrupt_object, (zlib.error, ValueError)),
    ],
    ids=["truncated", "changed-in-transit", "made-corrupt"],
)
def test_a_bad_pack_is_refused_and_leaves_nothing(tmp_path: Path, damage: object, error: object) -> None:
    bare = repository(tmp_path / "repo", {"big.bin": big_content(3 * 1024**2)})
    target = empty_repository(tmp_path / "target.git")

    with pytest.raises(error):  # type: ignore[call-overload]
        take(target, damage(pack_of(bare, "v1")))  # type: ignore[operator]

    assert pack_folder(target) == []


def test_a_thin_pack_with_deltas_against_the_cache_is_completed_by_dulwich(tmp_path: Path) -> None:
    """The upgrade case: v2's blob is a delta against v1's, which only the cache holds."""
    import io

    base = big_content(2 * 1024**2)
    work = tmp_path / "repo"
    bare = repository(work, {"big.bin": base})
    (work / "big.bin").write_bytes(base + b"!")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "v2")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/v2")
    target = empty_repository(tmp_path / "target.git")
    take(target, pack_of(bare, "v1"))
    thin = git(bare, "pack-objects", "--thin", "--revs", "--stdout", "-q", stdin=b"v2\n^v1\n")

    with Repo(str(target)) as repo:
        StreamingPackStore(repo.object_store).add_thin_pack(io.BytesIO(thin).read, None)

    with Repo(str(target)) as repo:
        assert repo.object_store[repo.object_store[git(bare, "rev-parse", "v2:big.bin").strip()].id].as_raw_string() == base + b"!"
    assert f"pack-{thin[-20:].hex()}.pack" not in pack_folder(target)  # dulwich completed it with the base it lacked
    git(target, "fsck", "--strict")


def test_a_thin_pack_without_deltas_is_indexed_a_chunk_at_a_time(tmp_path: Path) -> None:
    import io

    bare = repository(tmp_path / "repo", {"big.bin": big_content(3 * 1024**2)})
    pack = pack_of(bare, "v1")
    target = empty_repository(tmp_path / "target.git")

    with Repo(str(target)) as repo:
        StreamingPackStore(repo.object_store).add_thin_pack(io.BytesIO(pack).read, None)

    assert pack_folder(target) == [f"pack-{pack[-20:].hex()}.idx", f"pack-{pack[-20:].hex()}.pack"]
    git(target, "fsck", "--strict")
