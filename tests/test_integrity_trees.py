"""What a materialized tree may hold, checked the way the OS and the digest will see it.

Three holes found by the integrity review, each reproduced here before it was
fixed:

- symlinks that each look harmless but, followed the way the OS follows them
  (a link to a folder, then ``..``), lead out of the imported tree;
- names that make the digest ambiguous (a newline splits one dirhash line into
  two) or that the digest cannot hash as UTF-8;
- ``max-file-size`` checked only after a highly compressible blob had been
  inflated into memory.

The repositories are written object by object with dulwich (helpers from
``test_hostile_trees``), because git refuses to create most of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dulwich.repo import Repo
from support.project import TIMEOUT, Project, ok
from support.servers import git_available
from test_hostile_trees import DIR, FILE, LINK, blob, commit_tree, raw_tree, refused, unpack_cached_repository

from gitimport import atomic
from gitimport.project.lock import read_lock
from gitimport.store import layout
from gitimport.store.objects import object_size, read_object
from gitimport.store.verify import dirhash

needs_git = pytest.mark.skipif(not git_available(), reason="git CLI not installed")

Entries = dict[bytes, tuple[int, bytes]]


def tree(repo: Repo, entries: Entries) -> bytes:
    """A tree holding ``entries`` (path -> mode, content); ``b"sub/x"`` makes the folder ``sub``."""
    here: list[tuple[bytes, int, bytes]] = []
    folders: dict[bytes, Entries] = {}
    for path, (mode, data) in entries.items():
        head, _, rest = path.partition(b"/")
        if rest:
            folders.setdefault(head, {})[rest] = (mode, data)
        else:
            here.append((head, mode, blob(repo, data)))
    here += [(name, DIR, tree(repo, sub)) for name, sub in folders.items()]
    return raw_tree(repo, here)


def package_repo(where: Path, entries: Entries) -> Path:
    """A bare repository at ``where`` whose tag v1 has ``pkg/__init__.py`` and ``entries`` under ``pkg/``."""
    where.mkdir(parents=True)
    repo = Repo.init_bare(str(where))
    commit_tree(repo, raw_tree(repo, [(b"pkg", DIR, tree(repo, {b"__init__.py": (FILE, b"VALUE = 1\n"), **entries}))]))
    repo.close()
    return where


def links(**targets: str) -> Entries:
    """Symlink entries: ``links(x="y/..")``; a ``__`` in a keyword stands for ``/``."""
    return {name.replace("__", "/").encode(): (LINK, target.encode()) for name, target in targets.items()}


# 1. symlinks are resolved, not read -----------------------------------------------------------


def test_a_link_that_climbs_out_after_a_link_runs_no_file_from_outside(project: Project, tmp_path: Path) -> None:
    """``l -> .`` and ``evil.py -> l/l/…/../../…/elsewhere/stolen.py``: read one at a time, each stays inside.

    Before the fix the sync succeeded (normpath turns ``l/..`` into nothing)
    and ``import pkg.evil`` ran ``stolen.py`` from outside the cache.
    """
    marker = tmp_path / "RAN"
    stolen = tmp_path / "elsewhere" / "stolen.py"
    stolen.parent.mkdir()
    stolen.write_text(f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    depth = len(project.cache.resolve().parts) + 2  # '..' climbs from .../trees-v2/<object>-pkg/pkg to '/'
    target = "l/" * depth + "../" * depth + str(stolen.resolve()).lstrip("/")
    project.configure({"pkg": f"{package_repo(tmp_path / 'repo', links(l='.', **{'evil.py': target}))}@v1:pkg"})

    result = project.cli("sync")
    imported = project.python("import pkg.evil")

    assert not marker.exists(), "a file outside the imported tree was run"
    assert imported.returncode != 0
    assert result.code == 1, result.out
    assert "Symlink 'evil.py' points outside the imported tree" in result.err and "through 'l' -> '.'" in result.err


ESCAPES = {
    "'..' after a link": links(l=".", x="l/../outside.txt"),
    "a link through a link": links(sub__d="..", link1="sub/d", x="link1/../etc/passwd"),
    "a chain of links": links(x="y/..", y="z", z="sub/up", sub__up=".."),
    "a link in a folder, up to the root": {b"sub/deep/f.txt": (FILE, b""), **links(sub__deep__up="../..", x="sub/deep/up/..")},
    "an absolute path through a link": links(sub__abs="/etc", x="sub/abs/passwd"),
}


@pytest.mark.parametrize("entries", ESCAPES.values(), ids=ESCAPES.keys())
def test_a_link_that_escapes_through_other_links_is_refused(project: Project, tmp_path: Path, entries: Entries) -> None:
    """Each link of these trees passes the old lexical check; followed as the OS follows them, ``x`` leaves the tree.

    Before the fix each sync succeeded (except the absolute one, refused for
    ``sub/abs`` itself) and ``x`` led outside the cached tree.
    """
    err = refused(project, package_repo(tmp_path / "repo", entries))

    assert "points outside the imported tree" in err
    assert "hint: links may lead only inside the imported tree" in err


def test_the_refusal_names_the_link_and_where_it_leads(project: Project, tmp_path: Path) -> None:
    err = refused(project, package_repo(tmp_path / "repo", links(x="y/..", y="z", z="sub/up", sub__up="..")))

    assert err.splitlines()[0] == (
        "error: Symlink 'x' points outside the imported tree ('y/..', through 'y' -> 'z', 'z' -> 'sub/up', 'sub/up' -> '..')."
    )


def test_a_link_loop_is_refused(project: Project, tmp_path: Path) -> None:
    """Before the fix this synced; the OS gives ELOOP on every use of ``a``."""
    err = refused(project, package_repo(tmp_path / "repo", links(a="b", b="sub/c", sub__c="../a")))

    assert "Symlink 'a' loops ('b', through 'b' -> 'sub/c', 'sub/c' -> '../a')." in err


def chain(length: int) -> Entries:
    """``l1 -> l2 -> … -> l<length> -> data.txt``: opening ``l1`` follows ``length`` links."""
    return {b"data.txt": (FILE, b"data\n"), **links(**{f"l{i}": f"l{i + 1}" for i in range(1, length)}, **{f"l{length}": "data.txt"})}


def test_a_chain_of_more_links_than_the_os_follows_is_refused_and_one_it_follows_is_kept(project: Project, tmp_path: Path) -> None:
    """Linux follows 40 links in one path (MAXSYMLINKS) and fails on the 41st with ELOOP; so does the check."""
    err = refused(project, package_repo(tmp_path / "long", chain(41)))
    assert "Symlink 'l1' ('l2') goes through more than 40 links." in err

    project.configure({"pkg": f"{package_repo(tmp_path / 'short', chain(40))}@v1:pkg"})
    assert project.cli("sync").code == 0
    assert (Path(project.cli("which", "pkg").out.strip()) / "l1").read_text() == "data\n"


@pytest.mark.skipif(sys.platform != "linux", reason="MAXSYMLINKS is 40 on Linux (32 on macOS)")
def test_the_link_limit_is_the_one_linux_applies(tmp_path: Path) -> None:
    for length, readable in ((40, True), (41, False)):
        folder = tmp_path / str(length)
        folder.mkdir()
        for name, (mode, data) in chain(length).items():
            if mode == LINK:
                os.symlink(data, folder / name.decode())
            else:
                (folder / name.decode()).write_bytes(data)
        if readable:
            assert (folder / "l1").read_bytes() == b"data\n"
        else:
            with pytest.raises(OSError, match="Too many levels of symbolic links"):
                (folder / "l1").read_bytes()


def test_a_link_that_names_a_link_in_another_case_is_refused(project: Project, tmp_path: Path) -> None:
    """On a case-insensitive file system ``UP`` is the link ``up -> .``, and ``UP/..`` leaves the tree."""
    err = refused(project, package_repo(tmp_path / "repo", links(up=".", x="UP/../outside.txt")))

    assert "Symlink 'x' names 'UP', which the tree has only as 'up'." in err
    assert "case-insensitive" in err


def test_links_that_stay_inside_are_kept_and_imported_through(project: Project, tmp_path: Path) -> None:
    entries = {
        b"helper.py": (FILE, b"WHERE = 'helper'\n"),
        b"sub/__init__.py": (FILE, b""),
        b"sub/mod.py": (FILE, b"WHERE = 'sub.mod'\n"),
        **links(
            sub__up="..",  # the imported root, from a folder
            alias="sub",  # a folder link: pkg.alias is a package
            **{
                "back.py": "sub/up/helper.py",  # through a link and back to the root
                "same.py": "alias/../helper.py",  # '..' after a link applies to its target: sub/.. is the root
                "dangling": "missing/../not-there.txt",  # missing names stay inside; allowed, never followed out
            },
        ),
    }
    project.configure({"pkg": f"{package_repo(tmp_path / 'repo', entries)}@v1:pkg"})

    assert project.cli("sync").code == 0
    assert project.cli("verify").code == 0
    out = ok(project.python("import pkg.back, pkg.same, pkg.alias.mod; print(pkg.back.WHERE, pkg.same.WHERE, pkg.alias.mod.WHERE)"))
    assert out.split() == ["helper", "helper", "sub.mod"]
    root = Path(project.cli("which", "pkg").out.strip()).resolve()
    for name in ("sub/up", "alias", "back.py", "same.py", "dangling"):
        assert Path(os.path.realpath(root / name)).is_relative_to(root), name  # what the OS makes of each link
    vendored = tmp_path / "vendored"
    assert project.cli("vendor", str(vendored)).code == 0
    assert os.readlink(vendored / "pkg" / "back.py") == "sub/up/helper.py"
    assert (vendored / "pkg" / "same.py").read_text() == "WHERE = 'helper'\n"


@pytest.mark.parametrize(
    ("target", "problem"),
    [(b"", "an empty target"), (b"a\x00b", "a NUL byte in its target"), (b"a/" * 2048, "a target of 4096 bytes (PATH_MAX is 4096)")],
    ids=["empty", "NUL", "4096 bytes"],
)
def test_a_link_no_file_system_can_hold_is_refused_in_one_sentence(project: Project, tmp_path: Path, target: bytes, problem: str) -> None:
    """Before the fix each was an "Internal error" (ENOENT, ValueError, ENAMETOOLONG from os.symlink)."""
    err = refused(project, package_repo(tmp_path / "repo", {b"l": (LINK, target)}))

    assert err.splitlines()[0] == f"error: Symlink 'l' has {problem}."


def test_a_name_too_long_for_the_file_system_is_refused_in_one_sentence(project: Project, tmp_path: Path) -> None:
    """Before the fix: "Internal error: OSError: [Errno 36] File name too long"."""
    err = refused(project, package_repo(tmp_path / "repo", {b"n" * 300 + b".txt": (FILE, b"x\n")}))

    assert err.splitlines()[0] == f"error: {'n' * 300}.txt cannot be written: its name or path is too long for the file system."


def test_names_that_differ_only_in_unicode_normalization_are_refused(project: Project, tmp_path: Path) -> None:
    """macOS file systems take 'é' composed (NFC) and decomposed (NFD) as one name."""
    err = refused(
        project, package_repo(tmp_path / "repo", {"caf\u00e9.txt".encode(): (FILE, b"1\n"), "cafe\u0301.txt".encode(): (FILE, b"2\n")})
    )

    assert "differ only in case or Unicode normalization" in err


# 2. names the digest can hash ------------------------------------------------------------------


def test_a_newline_in_a_name_could_make_two_trees_share_a_digest_and_is_refused(project: Project, tmp_path: Path) -> None:
    """The digest's lines are ``<sha256>  <path>\\n``: one file named ``a.py\\n<sha256 of b.py>  b.py`` forges two lines.

    Before the fix the forged tree synced and its lock recorded the same
    digest as the honest one.
    """
    honest = {b"a.py": (FILE, b"A = 1\n"), b"b.py": (FILE, b"B = 2\n")}
    forged_name = b"a.py\n" + hashlib.sha256(b"B = 2\n").hexdigest().encode() + b"  b.py"
    forged = {forged_name: (FILE, b"A = 1\n")}
    project.configure({"pkg": f"{package_repo(tmp_path / 'honest', honest)}@v1:pkg"})
    assert project.cli("sync").code == 0
    honest_digest = read_lock(project.lock_path).modules["pkg"].digest
    project.lock_path.unlink()
    atomic.remove(project.cache)
    init = hashlib.sha256(b"VALUE = 1\n").hexdigest()
    assert dirhash({"__init__.py": init, forged_name.decode(): hashlib.sha256(b"A = 1\n").hexdigest()}) == honest_digest

    err = refused(project, package_repo(tmp_path / "forged", forged))

    assert "The tree holds an unsafe entry name 'a.py\\n" in err


@pytest.mark.parametrize("name", [b"a\nb.py", b"tab\t.py", b"cr\r.txt", b"esc\x1b[2J.txt", b"del\x7f.txt", b"nel\xc2\x85.txt"], ids=repr)
def test_control_characters_in_names_are_refused(project: Project, tmp_path: Path, name: bytes) -> None:
    """Newlines break the digest; the other C0 and C1 controls, and DEL, would rewrite the terminal in every listing."""
    err = refused(project, package_repo(tmp_path / "repo", {b"sub/" + name: (FILE, b"x = 1\n")}))

    assert f"The tree holds an unsafe entry name {'sub/' + name.decode()!r}." in err


@pytest.mark.parametrize("name", [b"caf\xe9.py", b"caf\xe9.txt", b"\xed\xa0\x80.txt"], ids=repr)
def test_a_name_that_is_not_utf8_is_refused_in_one_sentence(project: Project, tmp_path: Path, name: bytes) -> None:
    """The digest sorts and hashes names as UTF-8.

    Before the fix a ``.py`` name crashed bytecode compilation ("Internal
    error: UnicodeEncodeError") and any other name was cached under a
    surrogate-escaped path (``"caf\\udce9.txt"`` in the manifest).
    """
    err = refused(project, package_repo(tmp_path / "repo", {b"sub/" + name: (FILE, b"x = 1\n")}))

    shown = ("sub/" + name.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert err.splitlines()[0] == f"error: The tree holds an entry name that is not valid UTF-8 ('{shown}')."
    assert "Internal error" not in err


# 3. max-file-size bounds memory ----------------------------------------------------------------

BIG = 96 * 1024**2


def measured(project: Project, *args: str) -> tuple[int, str, int]:
    """``gitimport ARGS`` as a grandchild: its exit code, its stderr, and its peak resident size in bytes."""
    wrapper = textwrap.dedent(
        """
        import json, resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # only this one child has been waited for
        print(json.dumps([done.returncode, done.stderr, peak * (1 if sys.platform == "darwin" else 1024)]))
        """
    )
    code, err, peak = json.loads(ok(project.plain_python(wrapper, sys.executable, "-m", "gitimport", *args)))
    return code, err, peak


def test_a_compressible_blob_over_max_file_size_is_refused_before_it_is_inflated(project: Project, tmp_path: Path) -> None:
    """96 MiB of zeros is 96 KiB in the repository; refusing it must not cost 96 MiB of memory.

    The repository is fetched by a first sync of another module of the same
    commit, so the measured sync only materializes.  Before the fix it peaked
    at 250 MiB, 2.6 times the blob (it inflated it, then copied it to hash
    it); after it, at 27 MiB, the interpreter and its imports.
    """
    repo = package_repo(tmp_path / "repo", {b"big.bin": (FILE, bytes(BIG)), b"other/__init__.py": (FILE, b"")})
    project.configure({"other": f"{repo}@v1:pkg/other"})
    assert project.gitimport("sync").returncode == 0
    project.configure({"pkg": f"{repo}@v1:pkg"}, settings='max-file-size = "1 MB"')

    code, err, peak = measured(project, "sync")

    assert code == 1 and "big.bin is 96.0 MiB, larger than max-file-size (1000000 bytes)" in err
    assert peak < BIG / 2, f"peak RSS {peak / 1024**2:.1f} MiB"
    assert project.lock_text() is not None and "[modules.pkg]" not in project.lock_text()  # type: ignore[operator]


def test_a_tree_over_max_tree_size_is_refused_before_anything_is_written(project: Project, tmp_path: Path) -> None:
    files = {f"f{i}.bin".encode(): (FILE, bytes([i]) * 1000) for i in range(10)}
    project.configure({"pkg": f"{package_repo(tmp_path / 'repo', files)}@v1:pkg"}, settings='max-tree-size = "5 KB"')

    result = project.cli("sync")

    assert result.code == 1 and "larger than max-tree-size" in result.err
    assert not (project.cache / layout.BLOBS).exists() or not any((project.cache / layout.BLOBS).rglob("*-644"))


def test_a_cached_object_whose_header_lies_about_its_size_is_refused(project: Project, tmp_path: Path) -> None:
    """The size limit is checked against the header, so a header that lies must not let the content through."""
    import zlib

    project.configure({"pkg": f"{package_repo(tmp_path / 'repo', {b'data.txt': (FILE, b'0123456789')})}@v1:pkg"})
    assert project.cli("sync").code == 0
    bare = unpack_cached_repository(project)
    cached = Repo(str(bare))
    data_id = blob(cached, b"0123456789").decode()
    cached.close()
    loose = bare / "objects" / data_id[:2] / data_id[2:]
    loose.chmod(0o644)
    loose.write_bytes(zlib.compress(b"blob 3\x000123456789"))  # the right content under a header that says 3 bytes
    for folder in (layout.TREES, layout.BLOBS):
        atomic.remove(project.cache / folder)

    result = project.cli("sync", "--offline")

    assert result.code == 1
    assert f"Git object {data_id} is corrupt: its header says 3 bytes, its content has 10." in result.err


@needs_git
@pytest.mark.parametrize("deltas", ["ofs-delta", "ref-delta"])
def test_every_object_size_is_read_from_its_header(tmp_path: Path, deltas: str) -> None:
    """Loose objects, whole packed objects and deltas (whose size is in the delta's own header)."""
    path = package_repo(tmp_path / "repo", {b"a.bin": (FILE, bytes(range(256)) * 4000), b"b.bin": (FILE, bytes(range(256)) * 4000 + b"!")})
    repo = Repo(str(path))
    loose = {sha.decode() for sha in repo.object_store}
    sizes = {sha: object_size(repo.object_store, sha) for sha in loose}
    repo.close()
    git = ["git", "-C", str(path), "-c", f"repack.useDeltaBaseOffset={'true' if deltas == 'ofs-delta' else 'false'}"]
    subprocess.run([*git, "repack", "-a", "-d", "-f", "-q"], check=True, timeout=TIMEOUT)
    (idx,) = (path / "objects" / "pack").glob("*.idx")
    listing = subprocess.run(["git", "verify-pack", "-v", str(idx)], check=True, capture_output=True, text=True, timeout=TIMEOUT).stdout
    delta_ids = {line.split()[0] for line in listing.splitlines() if len(line.split()) == 7}
    assert delta_ids, "git stored no object as a delta"
    repo = Repo(str(path))
    for sha in loose:
        kind = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}[repo.object_store.get_raw(sha.encode())[0]]
        assert object_size(repo.object_store, sha) == sizes[sha] == len(read_object(repo.object_store, sha, kind)), sha
    repo.close()


# 4. large files are written a chunk at a time ----------------------------------------------------


def big_content(size: int) -> bytes:
    """``size`` bytes that are not all alike (a misplaced chunk changes the hash), quick to make and to compress."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def test_a_large_blob_is_materialized_byte_identical_without_holding_it_in_memory(project: Project, tmp_path: Path) -> None:
    """A 96 MiB file must not cost 96 MiB of memory to write: it is inflated, hashed and written a chunk at a time.

    As above, a first sync fetches the repository, so the measured sync only
    materializes.  Before the fix it peaked at 224 MiB (the blob inflated,
    then joined); after it, at the interpreter and its imports.
    """
    data = big_content(BIG)
    repo = package_repo(tmp_path / "repo", {b"big.bin": (FILE, data), b"other/__init__.py": (FILE, b"")})
    project.configure({"other": f"{repo}@v1:pkg/other"})
    assert project.gitimport("sync").returncode == 0
    project.configure({"pkg": f"{repo}@v1:pkg"}, settings='max-file-size = "200 MB"\nmax-tree-size = "400 MB"')

    code, err, peak = measured(project, "sync")

    assert code == 0, err
    (written,) = (project.cache / layout.TREES).rglob("big.bin")
    assert hashlib.sha256(written.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert peak < BIG / 2, f"peak RSS {peak / 1024**2:.1f} MiB"


def damage_packed(project: Project, content: bytes) -> str:
    """Flip one byte in the middle of ``content``'s compressed data in the cache's pack; return its id."""
    (bare,) = (project.cache / layout.REPOS).iterdir()
    (pack,) = (bare / "objects" / "pack").glob("*.pack")
    with Repo(str(bare)) as cached:
        (packed,) = cached.object_store.packs
        object_id = blob(cached, content)
        offset = packed.index.object_offset(object_id)
    raw = bytearray(pack.read_bytes())
    raw[offset + 64] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(raw))
    return object_id.decode()


def forge_loose(project: Project, content: bytes) -> str:
    """Store other bytes of the same size under ``content``'s id, as a loose object; return the id."""
    import zlib

    bare = unpack_cached_repository(project)
    with Repo(str(bare)) as cached:
        object_id = blob(cached, content).decode()
    loose = bare / "objects" / object_id[:2] / object_id[2:]
    loose.chmod(0o644)
    loose.write_bytes(zlib.compress(b"blob %d\x00" % len(content) + content[::-1]))
    return object_id


@pytest.mark.parametrize("damage", [damage_packed, forge_loose], ids=["packed-corrupt", "loose-forged"])
def test_a_damaged_large_blob_is_refused_and_nothing_of_it_is_kept(project: Project, tmp_path: Path, damage: object) -> None:
    """Streaming checks at the end what reading whole checked first: the same error, and no tree, no stored blob."""
    data = big_content(3 * 1024**2)
    repo = package_repo(tmp_path / "repo", {b"big.bin": (FILE, data)})
    project.configure({"pkg": f"{repo}@v1:pkg"})
    assert project.cli("sync").code == 0
    lock = project.lock_text()
    for folder in (layout.TREES, layout.BLOBS):  # the repository is now the only copy of the file
        atomic.remove(project.cache / folder)
    object_id = damage(project, data)  # type: ignore[operator]

    result = project.cli("sync", "--offline")

    assert result.code == 1
    assert f"Git object {object_id} is corrupt" in result.err
    assert project.lock_text() == lock
    trees = project.cache / layout.TREES
    assert not trees.exists() or not any(trees.iterdir())
    assert not list((project.cache / layout.BLOBS).rglob(f"{object_id}-*"))


@needs_git
def test_a_large_blob_stored_as_a_delta_is_read_whole_and_one_stored_whole_in_chunks(tmp_path: Path) -> None:
    """dulwich inflates a delta whole (its base too); a whole entry is streamed, and both give the blob's bytes."""
    from gitimport.store.objects import STREAMED_BLOB_SIZE, blob_chunks

    base = big_content(2 * STREAMED_BLOB_SIZE)
    path = package_repo(tmp_path / "repo", {b"a.bin": (FILE, base), b"b.bin": (FILE, base + b"!")})
    subprocess.run(["git", "-C", str(path), "repack", "-a", "-d", "-f", "-q"], check=True, timeout=TIMEOUT)
    with Repo(str(path)) as repo:
        ids = {content: blob(repo, content).decode() for content in (base, base + b"!")}
        streamed = {content: blob_chunks(repo.object_store, object_id, len(content)) for content, object_id in ids.items()}
    assert sum(chunks is None for chunks in streamed.values()) == 1  # one of the two is a delta against the other
    for content, chunks in streamed.items():
        if chunks is not None:
            assert b"".join(chunks) == content


def test_a_large_blob_comes_from_the_blob_store_only_while_its_copy_there_is_sound(project: Project, tmp_path: Path) -> None:
    """A rebuilt tree links the stored copy; one changed on disk is passed over for the repository's, which replaces it."""
    data = big_content(3 * 1024**2)
    repo = package_repo(tmp_path / "repo", {b"big.bin": (FILE, data)})
    project.configure({"pkg": f"{repo}@v1:pkg"})
    assert project.cli("sync").code == 0
    (stored,) = (project.cache / layout.BLOBS).rglob(f"{hashlib.sha1(b'blob %d' % len(data) + bytes(1) + data).hexdigest()}-*")

    atomic.remove(project.cache / layout.TREES)
    assert project.cli("sync", "--offline").code == 0
    (linked,) = (project.cache / layout.TREES).rglob("big.bin")
    assert os.path.samefile(linked, stored)

    atomic.remove(project.cache / layout.TREES)
    stored.chmod(0o644)
    stored.write_bytes(data[::-1])
    assert project.cli("sync", "--offline").code == 0
    (rebuilt,) = (project.cache / layout.TREES).rglob("big.bin")
    assert rebuilt.read_bytes() == data
    assert stored.read_bytes() == data  # and the store holds the sound copy again
