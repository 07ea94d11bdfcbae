"""Tree mirrors: `cache export` writes the locked trees as plain files; sync reads them first (docs/tree-mirrors.md).

One project syncs from a real git server and exports its cache; a second
project, with the same config and lock and an empty cache, syncs from the
mirror: served by nginx (the distribution's package, when installed), by
Python's http.server, from a ``file://`` URL and from a plain folder.  The
git server is stopped first, so a sync that still needed it would fail.
Then the ways a mirror goes wrong: a tampered or truncated archive, a
missing one, a mirror that is down or never answers, one that redirects
where the host policy forbids, one that needs credentials.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from support.project import Project, ok
from support.repos import FixtureSet
from support.servers import HOST, Server, nginx_executable, nginx_requests, serve_static_nginx, serve_static_python

from gitimport.errors import MirrorError
from gitimport.project.lock import read_lock
from gitimport.remote.mirror import LAYOUT, binding_archive, index_pack, tree_archive, write_pack
from gitimport.store import layout

Serve = Callable[..., Server]
TOOLBOX = {"mylib": "v1:src", "helper": "v1:tools/helper.py", "rootpkg": "v1:rootpkg"}
IMPORT_ALL = "import mylib, helper, rootpkg, importlib.metadata as m; print(mylib.VERSION, m.version('toolbox'), helper.__name__)"


@pytest.fixture
def exported(tmp_path: Path, mutable_repos: FixtureSet, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, Path, Path]:
    """(the exporting project, its mirror folder, the folder of git repositories it synced from, now unserved).

    The repositories are a private copy, and they are moved away after the
    export, so nothing, on any protocol, can still serve them.
    """
    server = serve("git-http-backend", mutable_repos.root)
    source = Project(tmp_path / "source", tmp_path / "source-cache", server.url)
    source.root.mkdir()
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(source.cache))
    monkeypatch.chdir(source.root)
    source.configure({name: source.spec(ref_path) for name, ref_path in TOOLBOX.items()})
    assert source.cli("sync").code == 0
    mirror = tmp_path / "mirror"
    result = source.cli("cache", "export", str(mirror))
    assert result.code == 0, result.err
    gone = tmp_path / "repos-gone"
    mutable_repos.root.rename(gone)  # the git server now answers 404 for everything
    return source, mirror, gone


def consumer(tmp_path: Path, source: Project, monkeypatch: pytest.MonkeyPatch, mirrors: str) -> Project:
    """A second checkout of the source project (same config and lock), with an empty cache and ``tree-mirrors``."""
    project = Project(tmp_path / "consumer", tmp_path / "consumer-cache", source.url)
    project.root.mkdir()
    config = source.config_path.read_text(encoding="utf-8")
    project.config_path.write_text(f"tree-mirrors = {mirrors}\n{config}", encoding="utf-8")
    shutil.copy(source.lock_path, project.lock_path)
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(project.cache))
    monkeypatch.chdir(project.root)
    return project


def mirror_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("fetch: ")]


def test_export_writes_one_tree_archive_and_one_binding_archive_per_module(exported: tuple[Project, Path, Path]) -> None:
    source, mirror, _ = exported
    lock = read_lock(source.lock_path)
    expected = {tree_archive(e.object) for e in lock.modules.values()} | {binding_archive(e.commit, e.path) for e in lock.modules.values()}
    written = {p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file()}
    assert written == expected
    assert all(name.startswith(f"{LAYOUT}/") for name in written)

    again = source.cli("cache", "export", str(mirror))  # a second export adds only what is new: nothing

    assert again.code == 0
    assert "Wrote 0 archives" in again.out and f"{len(expected)} archives already there" in again.out


@pytest.mark.parametrize("how", ["folder", "file-url", "http.server", "nginx"])
def test_a_sync_with_the_git_server_gone_is_served_by_the_mirror(
    tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    source, mirror, _ = exported
    with contextlib.ExitStack() as stack:
        if how == "nginx":
            if nginx_executable() is None:
                pytest.skip("nginx is not installed (.ci/run installs it)")
            location = stack.enter_context(serve_static_nginx(mirror)).url + "/"
        elif how == "http.server":
            location = stack.enter_context(serve_static_python(mirror)).url
        else:
            location = mirror.as_uri() if how == "file-url" else str(mirror)
        project = consumer(tmp_path, source, monkeypatch, f'["{location}"]')
        lock_before = project.lock_text()

        result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert project.lock_text() == lock_before
    assert ok(project.python(IMPORT_ALL)) == "1 1.0.0 helper\n"
    lines = mirror_lines(result.out)
    assert len(lines) == 1 and lines[0].count(" served (tree ") == 3, lines
    assert "restored" in result.out
    assert project.cli("verify").code == 0
    assert not (project.cache / layout.REPOS).exists() or not any((project.cache / layout.REPOS).iterdir())


def test_nginx_serves_each_archive_once(tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    if nginx_executable() is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    source, mirror, _ = exported
    with serve_static_nginx(mirror) as nginx:
        project = consumer(tmp_path, source, monkeypatch, f'["{nginx.url}/"]')
        assert project.cli("sync").code == 0
        served = nginx_requests(nginx)
    assert sorted(path for path, status in served if status == 200) == sorted(
        f"/{p.relative_to(mirror).as_posix()}" for p in mirror.rglob("*.pack")
    )


@pytest.fixture
def with_git_back(exported: tuple[Project, Path, Path], mutable_repos: FixtureSet) -> tuple[Project, Path]:
    """The exported project and mirror, with its git server serving again (a mirror that fails must fall back to it)."""
    source, mirror, gone = exported
    gone.rename(mutable_repos.root)
    return source, mirror


def module_archive(mirror: Path, source: Project, name: str, which: str) -> Path:
    entry = read_lock(source.lock_path).modules[name]
    return mirror / (tree_archive(entry.object) if which == "tree" else binding_archive(entry.commit, entry.path))


def packed_objects(pack: Path) -> list[tuple[bytes, bytes]]:
    """The (type, content) objects of a pack without deltas, as ``write_pack`` writes them."""
    data = pack.read_bytes()
    objects, position = [], 12
    for _ in range(int.from_bytes(data[8:12], "big")):
        byte = data[position]
        kind, position = (byte >> 4) & 7, position + 1
        while byte & 0x80:
            byte, position = data[position], position + 1
        inflater = zlib.decompressobj()
        content = inflater.decompress(data[position:])
        position = len(data) - len(inflater.unused_data)
        objects.append(({1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}[kind], content))
    return objects


def tamper(pack: Path, old: bytes, new: bytes) -> None:
    """Rewrite ``pack`` with ``old`` replaced by ``new`` in every blob: a well-formed archive with other content."""
    write_pack(pack, [(kind, data.replace(old, new) if kind == b"blob" else data) for kind, data in packed_objects(pack)])


@pytest.mark.parametrize("damage", ["content", "truncated"])
def test_a_tampered_archive_is_refused_and_git_serves_instead(
    tmp_path: Path, with_git_back: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    source, mirror = with_git_back
    archive = module_archive(mirror, source, "mylib", "tree")
    if damage == "content":
        tamper(archive, b'VERSION = "1"', b'VERSION = "666"')
    else:
        archive.write_bytes(archive.read_bytes()[:-30])
    project = consumer(tmp_path, source, monkeypatch, f'["{mirror}"]')

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert "warning: tree mirror" in result.err and "mylib" in result.err and "fail verification" in result.err
    assert ok(project.python(IMPORT_ALL)) == "1 1.0.0 helper\n"  # git's copy, not the mirror's
    assert f"Fetched {source.url}/toolbox" in result.out
    (line,) = [line for line in mirror_lines(result.out) if str(mirror) in line]
    assert "helper served" in line and "rootpkg served" in line
    assert ("mylib refused" if damage == "content" else "mylib not served") in line


def test_a_missing_archive_falls_back_to_git_quietly(
    tmp_path: Path, with_git_back: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror = with_git_back
    module_archive(mirror, source, "helper", "binding").unlink()
    project = consumer(tmp_path, source, monkeypatch, f'["{mirror}"]')

    result = project.cli("sync", "-v")

    assert result.code == 0, result.err
    assert "warning" not in result.err
    assert any("helper not served: it has no" in line for line in mirror_lines(result.out))
    assert f"Fetched {source.url}/toolbox" in result.out
    assert ok(project.python(IMPORT_ALL)) == "1 1.0.0 helper\n"


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


def test_a_mirror_that_is_down_is_tried_once_then_the_next_serves(
    tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror, _ = exported
    with serve_static_python(mirror, stall=30) as stalled:
        project = consumer(tmp_path, source, monkeypatch, f'["{stalled.url}/", "{mirror}"]')
        config = project.config_path.read_text(encoding="utf-8")
        project.config_path.write_text(f"timeout = 1\n{config}", encoding="utf-8")

        result = project.cli("sync", "-v")

        contacted = len(stalled.requests)
    assert result.code == 0, result.err
    assert contacted == 1  # three modules, one timeout: the mirror is skipped once it failed
    assert any("timed out" in line for line in mirror_lines(result.out))
    assert ok(project.python(IMPORT_ALL)) == "1 1.0.0 helper\n"


def test_a_refused_connection_falls_through_to_the_next_mirror(
    tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror, _ = exported
    with refusing_port() as port:
        project = consumer(tmp_path, source, monkeypatch, f'["http://{HOST}:{port}/mirror/", "{mirror.as_uri()}"]')
        result = project.cli("sync", "-v")
    assert result.code == 0, result.err
    assert any("cannot be reached" in line for line in mirror_lines(result.out))


def test_a_redirect_outside_the_host_policy_is_refused(
    tmp_path: Path, with_git_back: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror = with_git_back
    with serve_static_python(mirror, redirect_to="http://mirror.example.org") as redirecting:
        project = consumer(tmp_path, source, monkeypatch, f'["{redirecting.url}/"]')
        result = project.cli("sync", "-v")
    assert result.code == 0, result.err
    assert "Refusing the redirect" in result.err and "mirror.example.org" in result.err
    assert f"Fetched {source.url}/toolbox" in result.out  # git served every module


@pytest.mark.parametrize(
    ("mirrors", "settings", "refused"),
    [
        ('["http://mirror.example.org/"]', "", "not encrypted"),
        ('["https://mirror.example.org/"]', 'allow-hosts = ["127.0.0.1"]', "not in allow-hosts"),
        ('["ftp://mirror.example.org/"]', "", "not an http(s):// or file:// URL"),
    ],
)
def test_a_mirror_the_config_does_not_allow_is_an_error(
    tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch, mirrors: str, settings: str, refused: str
) -> None:
    source, _, _ = exported
    project = consumer(tmp_path, source, monkeypatch, mirrors)
    if settings:
        project.config_path.write_text(f"{settings}\n{project.config_path.read_text(encoding='utf-8')}", encoding="utf-8")

    result = project.cli("sync")

    assert result.code == 2
    assert refused in result.err
    assert not (project.cache / layout.TREES).exists()


def test_mirror_credentials_come_from_netrc_and_are_never_written(
    tmp_path: Path, exported: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror, _ = exported
    secret = "s3cr3t-mirror-token"
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {HOST} login fleet password {secret}\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with serve_static_python(mirror, auth=("fleet", secret)) as private:
        project = consumer(tmp_path, source, monkeypatch, f'["{private.url}/"]')
        result = project.cli("sync", "-v")
        statuses = {request.status for request in private.requests}
    assert result.code == 0, result.err
    assert statuses == {200}
    assert secret not in result.out + result.err + (project.lock_text() or "")
    for path in project.cache.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_the_environment_variable_overrides_the_config(
    tmp_path: Path, with_git_back: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mirror = with_git_back
    project = consumer(tmp_path, source, monkeypatch, "[]")
    monkeypatch.setenv("GITIMPORT_TREE_MIRRORS", f"{tmp_path / 'nowhere'} {mirror}")

    served = project.cli("sync", "-v")

    assert served.code == 0, served.err
    assert f"Fetched {source.url}" not in served.out
    shutil.rmtree(project.cache)
    monkeypatch.setenv("GITIMPORT_TREE_MIRRORS", "")  # empty: no mirror, whatever the config says
    config = project.config_path.read_text(encoding="utf-8").replace("tree-mirrors = []", f'tree-mirrors = ["{mirror}"]')
    project.config_path.write_text(config, encoding="utf-8")

    from_git = project.cli("sync", "-v")

    assert from_git.code == 0, from_git.err
    assert f"Fetched {source.url}/toolbox" in from_git.out


def test_generated_files_and_metadata_come_out_the_same_from_a_mirror(
    tmp_path: Path, mutable_repos: FixtureSet, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve("git-http-backend", mutable_repos.root)
    source = Project(tmp_path / "source", tmp_path / "source-cache", server.url)
    source.root.mkdir()
    monkeypatch.setenv("GITIMPORT_CACHE_DIR", str(source.cache))
    monkeypatch.chdir(source.root)
    source.configure({"scmpkg": source.spec("v1.4.0:src", repo="buildfiles"), "mylib": source.spec("v2:src")})
    assert source.cli("sync").code == 0
    mirror = tmp_path / "mirror"
    assert source.cli("cache", "export", str(mirror)).code == 0
    mutable_repos.root.rename(tmp_path / "gone")
    code = "import scmpkg, mylib, importlib.metadata as m; print(scmpkg.__version__, m.version('scmpkg'), m.version('toolbox'))"
    expected = ok(source.python(code))
    project = consumer(tmp_path, source, monkeypatch, f'["{mirror}"]')

    result = project.cli("sync", "--jobs", "2", "-v")

    assert result.code == 0, result.err
    (line,) = mirror_lines(result.out)  # two repositories through one mirror: both reported
    assert "scmpkg served" in line and "mylib served" in line
    assert ok(project.python(code)) == expected
    assert read_lock(project.lock_path) == read_lock(source.lock_path)
    assert project.cli("verify").code == 0


def test_export_names_what_the_cache_cannot_export(tmp_path: Path, exported: tuple[Project, Path, Path]) -> None:
    source, _, _ = exported
    shutil.rmtree(source.cache / layout.REPOS)

    result = source.cli("cache", "export", str(tmp_path / "other-mirror"))

    assert result.code == 1
    assert "was not exported: the cache has no copy of" in result.err
    assert "3 modules could not be exported" in result.err


# --------------------------------------------------------------------------
# The archive format, checked before anything is inflated
# --------------------------------------------------------------------------


def pack_bytes(*entries: bytes, claimed: int | None = None) -> bytes:
    """A pack of ``entries`` with its right checksum; its header claims ``claimed`` objects (default: as many as there are)."""
    import hashlib

    count = len(entries) if claimed is None else claimed
    body = b"PACK" + (2).to_bytes(4, "big") + count.to_bytes(4, "big") + b"".join(entries)
    return body + hashlib.sha1(body).digest()


def entry(type_num: int, size: int, data: bytes) -> bytes:
    header = bytearray([(type_num << 4) | (size & 0x0F) | (0x80 if size > 15 else 0)])
    size >>= 4
    while size:
        header.append((size & 0x7F) | (0x80 if size > 127 else 0))
        size >>= 7
    return bytes(header) + zlib.compress(data)


@pytest.mark.parametrize(
    ("pack", "why"),
    [
        (pack_bytes(entry(3, 2**30, b"tiny")), "over the limit"),  # a gigabyte claimed: refused from the header
        (pack_bytes(entry(7, 4, b"\x00" * 20 + b"x")), "delta"),
        (pack_bytes(entry(3, 3, b"four")), "more than its header says"),
        (pack_bytes(entry(3, 5, b"four")), "less than its header says"),
        (pack_bytes(entry(3, 4, b"four"))[:-25], "checksum is wrong"),  # cut short: the last 20 bytes are no checksum
        (pack_bytes(entry(3, 4, b"four"))[:-1] + b"!", "checksum is wrong"),
        (pack_bytes(entry(3, 4, b"four")) + b"more", "checksum is wrong"),
        (pack_bytes(entry(3, 4, b"four"), claimed=2), "cut short"),  # the checksum is right, the second object is missing
        (pack_bytes(entry(3, 4, b"")[:1] + b"\xff" * 8), "not a valid zlib stream"),
        (pack_bytes(entry(0, 4, b"four")), "no object type"),
        (b"PK\x03\x04" + b"\x00" * 40, "checksum is wrong"),
    ],
)
def test_index_pack_refuses_what_is_not_a_sound_archive(tmp_path: Path, pack: bytes, why: str) -> None:
    path = tmp_path / "incoming.pack"
    path.write_bytes(pack)
    with pytest.raises(MirrorError, match=why) as refused:
        index_pack(path, max_object_size=1024)
    assert refused.value.damaged


def test_index_pack_names_every_object_by_its_content(tmp_path: Path) -> None:
    from gitimport.store.objects import git_hash

    objects = [(b"blob", b"one\n"), (b"blob", b""), (b"blob", bytes(range(256)) * 40)]
    write_pack(tmp_path / "x.pack", objects)
    index_pack(tmp_path / "x.pack", max_object_size=1 << 20)
    listed = subprocess.run(["git", "show-index"], stdin=(tmp_path / "x.idx").open("rb"), capture_output=True, check=True).stdout
    assert sorted(line.split()[1].decode() for line in listed.splitlines()) == sorted(git_hash(kind, data) for kind, data in objects)


def test_an_https_mirror_is_trusted_as_git_would_trust_it(
    tmp_path: Path, with_git_back: tuple[Project, Path], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    """TLS to a mirror is verified with git's http.sslCAInfo; an untrusted certificate falls back to git."""
    from support.redirects import front, self_signed_certificate

    source, mirror = with_git_back
    cert, key = self_signed_certificate(tmp_path)
    with serve_static_python(mirror) as plain, front("relay", plain.url, tls=(cert, key)) as tls:
        project = consumer(tmp_path, source, monkeypatch, f'["{tls.url}/"]')
        untrusted = project.cli("sync", "-v")
        shutil.rmtree(project.cache)
        (isolated_home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {cert}\n")
        trusted = project.cli("sync", "-v")

    assert untrusted.code == 0, untrusted.err
    assert f"Fetched {source.url}/toolbox" in untrusted.out  # git served: the mirror's certificate is not trusted
    (line,) = [line for line in mirror_lines(untrusted.out) if tls.url in line]
    assert "not served: it failed TLS (certificate verify failed" in line and "skipped for the rest of this sync" in line, line
    assert trusted.code == 0, trusted.err
    assert f"Fetched {source.url}" not in trusted.out
    assert mirror_lines(trusted.out)[0].count(" served (tree ") == 3
