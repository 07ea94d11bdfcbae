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
import os
import shutil
import socket
import threading
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
