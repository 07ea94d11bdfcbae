"""`gitimport sync` against real repositories on real servers (docs/configuration.md, docs/lock-file.md, docs/how-it-works.md, docs/commands.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet, add_commit, set_tag
from support.servers import SERVER_KINDS, Server

from gitimport.project.lock import read_lock
from gitimport.store import layout

THREE_NAMES = {
    "helper": "{url}@v1:tools/helper.py",  # rule 1: a single-file module
    "mylib": "{url}@v1:src",  # rule 3 on a src layout: src/mylib
    "rootmod": "{url}@v1:lib",  # rule 3: lib/rootmod.py
}


def three_names(url: str) -> dict[str, str]:
    return {name: spec.format(url=url) for name, spec in THREE_NAMES.items()}


def test_three_names_lock_to_the_tagged_commit(project: Project, git_http_backend_server: Server, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(git_http_backend_server.repo_url("toolbox")))

    result = project.cli("sync")

    assert result.code == 0, result.err
    lock = read_lock(project.lock_path)
    v1 = fixture_repos["toolbox"].tags["v1"]
    assert {name: entry.commit for name, entry in lock.modules.items()} == {"helper": v1, "mylib": v1, "rootmod": v1}
    assert (lock.modules["helper"].kind, lock.modules["helper"].path) == ("module", "tools/helper.py")
    assert (lock.modules["mylib"].kind, lock.modules["mylib"].path) == ("package", "src/mylib")
    assert (lock.modules["rootmod"].kind, lock.modules["rootmod"].path) == ("module", "lib/rootmod.py")
    assert "helper" in result.out and v1[:12] in result.out and "package" in result.out


def test_sync_output_names_what_was_fetched(project: Project, git_http_backend_server: Server) -> None:
    project.configure(three_names(git_http_backend_server.repo_url("toolbox")))

    result = project.cli("sync")

    assert f"Fetched {git_http_backend_server.repo_url('toolbox')}" in result.out
    assert "objects" in result.out


def test_two_modules_from_one_repository_are_fetched_once(project: Project, git_http_backend_server: Server) -> None:
    project.configure(three_names(git_http_backend_server.repo_url("toolbox")))

    assert project.cli("sync").code == 0

    # one request for the commits and their trees, one for the blobs of all three modules (a partial fetch)
    assert git_http_backend_server.fetches("toolbox") == 2


def test_different_spellings_of_one_repository_share_one_clone(project: Project, git_http_backend_server: Server) -> None:
    url = git_http_backend_server.repo_url("toolbox")
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}.git/@v1:src"})

    assert project.cli("sync").code == 0

    assert len(list((project.cache / layout.REPOS).iterdir())) == 1


@pytest.mark.parametrize("kind", sorted(SERVER_KINDS))
def test_every_server_kind_syncs_and_imports(project: Project, fixture_repos: FixtureSet, serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(kind, fixture_repos.root)
    project.configure(three_names(server.repo_url("toolbox")))

    assert project.cli("sync").code == 0, kind
    run = project.python("import helper, mylib, rootmod; print(helper.VERSION, mylib.VERSION, rootmod.VERSION)")

    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "1", "1"]


@pytest.mark.parametrize("form", ["file-url", "local-path"])
def test_local_repositories_sync_without_a_server(project: Project, fixture_repos: FixtureSet, form: str) -> None:
    path = fixture_repos["toolbox"].path
    url = path.as_uri() if form == "file-url" else str(path)
    project.configure(three_names(url))

    assert project.cli("sync").code == 0

    assert read_lock(project.lock_path).modules["mylib"].commit == fixture_repos["toolbox"].tags["v1"]


def test_relative_local_path_stays_relative_in_the_lock(project: Project, fixture_repos: FixtureSet) -> None:
    fixture_repos.copy_to(project.root / "repos")
    project.configure({"helper": "./repos/toolbox@v1:tools/helper.py"})

    assert project.cli("sync").code == 0

    entry = read_lock(project.lock_path).modules["helper"]
    assert entry.url == "./repos/toolbox"
    assert entry.spec == "./repos/toolbox@v1:tools/helper.py"


@pytest.mark.parametrize(
    ("name", "path", "kind", "locked_path"),
    [
        ("helper", "tools/helper.py", "module", "tools/helper.py"),  # rule 1
        ("anyname", "tools/helper.py", "module", "tools/helper.py"),  # rule 1: file name need not match
        ("mylib", "src/mylib", "package", "src/mylib"),  # rule 2
        ("mylib", "src", "package", "src/mylib"),  # rule 3, a folder inside the root
        ("rootmod", "lib", "module", "lib/rootmod.py"),  # rule 3, a file inside the root
        ("toplevel", "", "module", "toplevel.py"),  # no PATH: rule 3 at the repository root
        ("rootpkg", "", "package", "rootpkg"),  # no PATH: a package at the root
        ("nsdir", "nsdir", "namespace", "nsdir"),  # rule 4
        ("inner", "nsdir", "namespace", "nsdir/inner"),  # rule 3 finds a namespace folder
    ],
)
def test_path_rules(project: Project, fixture_repos: FixtureSet, name: str, path: str, kind: str, locked_path: str) -> None:
    url = str(fixture_repos["toolbox"].path)
    project.configure({name: f"{url}@v1:{path}" if path else f"{url}@v1"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    entry = read_lock(project.lock_path).modules[name]
    assert (entry.kind, entry.path) == (kind, locked_path)


def test_table_form_means_the_same_as_the_string(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    project.config_path.write_text(f'[modules]\nmylib = {{ git = "{url}", ref = "v1", path = "src" }}\n', encoding="utf-8")

    assert project.cli("sync").code == 0

    assert read_lock(project.lock_path).modules["mylib"].spec == f"{url}@v1:src"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("v2", "tags:v2"), ("dev", "branches:dev"), ("main", "branches:main"), ("HEAD", "branches:main"), ("refs/tags/v1", "tags:v1")],
)
def test_ref_forms_resolve_like_git(
    project: Project, git_http_backend_server: Server, fixture_repos: FixtureSet, ref: str, expected: str
) -> None:
    repo = fixture_repos["toolbox"]
    table, key = expected.split(":")
    project.configure({"helper": f"{git_http_backend_server.repo_url('toolbox')}@{ref}:tools/helper.py"})

    assert project.cli("sync").code == 0

    assert read_lock(project.lock_path).modules["helper"].commit == getattr(repo, table)[key]


def test_annotated_tag_locks_the_commit_not_the_tag_object(project: Project, http_server: Server, fixture_repos: FixtureSet) -> None:
    repo = fixture_repos["toolbox"]
    project.configure({"helper": f"{http_server.repo_url('toolbox')}@v2:tools/helper.py"})

    assert project.cli("sync").code == 0

    commit = read_lock(project.lock_path).modules["helper"].commit
    assert commit == repo.tags["v2"] != repo.tag_objects["v2"]


@pytest.mark.parametrize("kind", sorted(SERVER_KINDS))
def test_full_commit_id_that_is_no_ref_tip_is_fetched(project: Project, fixture_repos: FixtureSet, serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(kind, fixture_repos.root)
    commit = fixture_repos["other"].commits[0]
    project.configure({"othermod": f"{server.repo_url('other')}@{commit}"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    assert read_lock(project.lock_path).modules["othermod"].commit == commit
    assert project.python("import othermod; print(othermod.VERSION)").stdout.strip() == "0"


def test_lock_is_deterministic_and_not_rewritten(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")
    first = project.lock_path.read_bytes()
    mtime = project.lock_path.stat().st_mtime_ns

    second = project.cli("sync")

    assert project.lock_path.read_bytes() == first
    assert project.lock_path.stat().st_mtime_ns == mtime
    assert "Wrote" not in second.out


def test_lock_does_not_depend_on_config_order(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    url = str(fixture_repos["toolbox"].path)
    names = three_names(url)
    project.configure(names)
    project.cli("sync")
    first = project.lock_path.read_bytes()

    project.lock_path.unlink()
    project.configure(dict(reversed(list(names.items()))))
    project.cli("sync")

    assert project.lock_path.read_bytes() == first


def test_no_op_sync_imports_no_dulwich(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")

    code = "import sys; from gitimport.cli.main import main; rc = main(['sync', '-q']); print(rc, 'dulwich' in sys.modules)"
    run = project.plain_python(code)

    assert run.stdout.split() == ["0", "False"], run.stderr


def test_no_op_sync_works_with_the_server_stopped(project: Project, fixture_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("git-http-backend", fixture_repos.root)
    project.configure(three_names(server.repo_url("toolbox")))
    project.cli("sync")
    server.clear()

    assert project.cli("sync").code == 0
    assert server.requests == []


def test_locked_after_config_edit_exits_3_and_keeps_the_lock(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    project.configure(three_names(url))
    project.cli("sync")
    before = project.lock_text()

    project.configure({**three_names(url), "helper": f"{url}@v2:tools/helper.py"})
    result = project.cli("sync", "--locked")

    assert result.code == 3
    assert "out of date" in result.err and "helper" in result.err and "hint:" in result.err
    assert project.lock_text() == before


def test_locked_with_a_complete_lock_succeeds(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")

    assert project.cli("sync", "--locked").code == 0


def test_locked_with_a_removed_module_exits_3(project: Project, fixture_repos: FixtureSet) -> None:
    names = three_names(str(fixture_repos["toolbox"].path))
    project.configure(names)
    project.cli("sync")
    del names["rootmod"]
    project.configure(names)

    result = project.cli("sync", "--locked")

    assert result.code == 3 and "rootmod" in result.err


def test_removed_module_leaves_the_lock_on_plain_sync(project: Project, fixture_repos: FixtureSet) -> None:
    names = three_names(str(fixture_repos["toolbox"].path))
    project.configure(names)
    project.cli("sync")
    del names["rootmod"]
    project.configure(names)

    result = project.cli("sync")

    assert result.code == 0 and "Removed rootmod" in result.out
    assert "rootmod" not in read_lock(project.lock_path).modules


def test_locked_fills_an_empty_cache_from_the_lock(project: Project, fixture_repos: FixtureSet) -> None:
    import shutil

    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")
    before = project.lock_text()
    shutil.rmtree(project.cache)

    result = project.cli("sync", "--locked")

    assert result.code == 0, result.err
    assert project.lock_text() == before
    assert project.cli("verify").code == 0


def test_frozen_with_a_module_missing_from_the_lock_exits_3(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    project.configure({"helper": f"{url}@v1:tools/helper.py"})
    project.cli("sync")
    before = project.lock_text()
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v1:src"})

    result = project.cli("sync", "--frozen")

    assert result.code == 3 and "mylib is not in the lock" in result.err
    assert project.lock_text() == before


def test_frozen_from_the_environment(project: Project, fixture_repos: FixtureSet, monkeypatch: pytest.MonkeyPatch) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    monkeypatch.setenv("GITIMPORT_FROZEN", "1")

    result = project.cli("sync")

    assert result.code == 3
    assert project.lock_text() is None


def test_offline_with_lock_and_cache_succeeds(project: Project, fixture_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("git-http-backend", fixture_repos.root)
    project.configure(three_names(server.repo_url("toolbox")))
    project.cli("sync")
    server.clear()

    assert project.cli("sync", "--offline").code == 0
    assert server.requests == []


def test_offline_restores_a_deleted_tree_from_the_bare_repository(project: Project, fixture_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    import shutil

    server = serve("git-http-backend", fixture_repos.root)
    project.configure(three_names(server.repo_url("toolbox")))
    project.cli("sync")
    shutil.rmtree(project.cache / layout.TREES)
    server.clear()

    result = project.cli("sync", "--offline")

    assert result.code == 0, result.err
    assert server.requests == []
    assert project.cli("verify").code == 0


def test_upgrade_follows_a_moved_tag(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    project.configure({"helper": f"{repo.path}@v1:tools/helper.py"})
    project.cli("sync")
    set_tag(repo.path, "v1", repo.by_tree["c3"])

    plain = project.cli("sync")
    assert plain.code == 0 and read_lock(project.lock_path).modules["helper"].commit == repo.tags["v1"]

    upgraded = project.cli("sync", "--upgrade")
    assert upgraded.code == 0, upgraded.err
    assert read_lock(project.lock_path).modules["helper"].commit == repo.by_tree["c3"]
    assert "upgraded" in upgraded.out


def test_moved_tag_is_reported_and_not_followed(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    project.configure({"helper": f"{repo.path}@v1:tools/helper.py"})
    project.cli("sync")
    set_tag(repo.path, "v1", repo.by_tree["c3"])
    project.configure({"helper": f"{repo.path}@v1:tools/helper.py", "rootmod": f"{repo.path}@v2:lib"})

    result = project.cli("sync")  # contacts the remote for rootmod

    assert result.code == 0
    assert "tag 'v1' of helper moved" in result.err and "--upgrade helper" in result.err
    assert read_lock(project.lock_path).modules["helper"].commit == repo.tags["v1"]


def test_upgrade_of_one_name_leaves_the_others(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    project.configure({"helper": f"{repo.path}@main:tools/helper.py", "rootmod": f"{repo.path}@main:lib"})
    project.cli("sync")
    new = add_commit(repo.path, {"tools/helper.py": b"VERSION = 'new'\n"}, "change helper")

    result = project.cli("sync", "--upgrade", "helper")

    assert result.code == 0, result.err
    lock = read_lock(project.lock_path)
    assert lock.modules["helper"].commit == new
    assert lock.modules["rootmod"].commit == repo.branches["main"]


def test_locked_refuses_an_upgrade(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    project.configure({"helper": f"{repo.path}@main:tools/helper.py"})
    project.cli("sync")
    before = project.lock_text()

    result = project.cli("sync", "--locked", "--upgrade")

    assert result.code == 3 and project.lock_text() == before


def test_cache_trees_are_read_only_and_keep_their_names(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")

    path = Path(project.cli("which", "mylib").out.strip())

    assert path.name == "mylib" and (path / "core.py").is_file()
    assert not (path / "core.py").stat().st_mode & 0o222
    assert path.stat().st_mode & 0o200  # folders stay writable by their owner, so rm -rf works


def test_executable_bit_and_internal_symlink_are_kept(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    project.configure({"scripts": f"{url}@v1:scripts", "mylib": f"{url}@v1:src/mylib"})

    assert project.cli("sync").code == 0

    scripts = Path(project.cli("which", "scripts").out.strip())
    mylib = Path(project.cli("which", "mylib").out.strip())
    assert (scripts / "tool.sh").stat().st_mode & 0o100
    assert (mylib / "link.txt").is_symlink() and (mylib / "link.txt").read_text() == (mylib / "data" / "greeting.txt").read_text()


def test_digest_is_the_go_dirhash_of_the_files(project: Project, fixture_repos: FixtureSet) -> None:
    import hashlib

    project.configure({"mylib": f"{fixture_repos['toolbox'].path}@v1:src/mylib"})
    project.cli("sync")
    root = Path(project.cli("which", "mylib").out.strip())

    files = sorted(
        (p for p in root.rglob("*") if "__pycache__" not in p.parts and not p.is_dir()),
        key=lambda p: p.relative_to(root).as_posix().encode(),
    )
    lines = []
    for path in files:
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {path.relative_to(root).as_posix()}\n")
    expected = "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()

    assert read_lock(project.lock_path).modules["mylib"].digest == expected


def test_the_cache_on_disk_has_the_documented_layout(project: Project, fixture_repos: FixtureSet) -> None:
    """docs/how-it-works.md#cache-layout, spelled out: later releases read this cache, so its names are a format.

    The one test that writes the layout's names as strings; every other test
    takes them from gitimport.store.layout, so a renamed folder fails here.
    """
    import hashlib

    toolbox = fixture_repos["toolbox"].path
    project.configure({"mylib": f"{toolbox}@v1:src", "acme.tools": f"{toolbox}@v1:tools/helper.py"})
    assert project.cli("sync").code == 0
    mylib = read_lock(project.lock_path).modules["mylib"]
    tag = sys.implementation.cache_tag

    assert sorted(p.name for p in project.cache.iterdir()) == [
        "CACHEDIR.TAG",
        "blobs-v1",
        "dists-v2",
        "locks-v1",
        "namespaces-v1",
        "projects-v1.json",
        "repos-v1",
        "tmp-v1",
        "trees-v2",
    ]
    (bare,) = (project.cache / "repos-v1").iterdir()
    key, slug = bare.name.split("-", 1)
    assert len(key) == 32 and slug == "toolbox"
    entry = project.cache / "trees-v2" / f"{mylib.object}-mylib"
    assert sorted(p.name for p in entry.iterdir()) == sorted(["manifest.json", "mylib", "origins.d"])
    (origin,) = (entry / "origins.d").iterdir()
    assert json.loads(origin.read_text()) == {"commit": mylib.commit, "path": mylib.path}
    source = (entry / "mylib" / "__init__.py").read_bytes()
    blob_id = hashlib.sha1(b"blob %d\x00" % len(source) + source).hexdigest()
    assert (project.cache / "blobs-v1" / blob_id[:2] / f"{blob_id}-644").is_file()
    assert (project.cache / "dists-v2" / "modules").is_dir()

    assert project.python("import mylib").returncode == 0  # the first import writes each module's .pyc

    assert sorted(p.name for p in entry.iterdir()) == sorted(["manifest.json", "mylib", "origins.d", "pyc-records"])
    pyc_hash = hashlib.sha256((entry / "mylib" / "__pycache__" / f"__init__.{tag}.pyc").read_bytes()).hexdigest()
    records = [p.read_text() for p in (entry / "pyc-records").iterdir()]
    assert f"{pyc_hash}  mylib/__pycache__/__init__.{tag}.pyc\n" in records
    (stored,) = project.cache.glob(f"pyc-v1/*/*.{tag}.{pyc_hash}.pyc")
    source_hash = stored.name.split(".", 1)[0]
    assert len(source_hash) == 64 and stored.parent.name == source_hash[:2]


def test_config_in_pyproject_toml(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    (project.root / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[tool.gitimport.modules]\nhelper = "{url}@v1:tools/helper.py"\n'
    )
    sub = project.root / "deep" / "er"
    sub.mkdir(parents=True)

    result = Project(sub, project.cache).cli("sync")

    assert result.code == 0, result.err
    assert "helper" in read_lock(project.root / "gitimport.lock").modules


def test_gitimport_toml_wins_over_pyproject_and_sync_warns(project: Project, fixture_repos: FixtureSet) -> None:
    url = str(fixture_repos["toolbox"].path)
    (project.root / "pyproject.toml").write_text(f'[tool.gitimport.modules]\nrootmod = "{url}@v1:lib"\n')
    project.configure({"helper": f"{url}@v1:tools/helper.py"})

    result = project.cli("sync")

    assert result.code == 0
    assert "takes precedence" in result.err
    assert list(read_lock(project.lock_path).modules) == ["helper"]


def test_import_works_without_the_runtime_snapshot(project: Project, fixture_repos: FixtureSet) -> None:
    """The snapshot in __pycache__ is an optimization: without it, the config and lock are read."""
    import shutil

    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")
    shutil.rmtree(project.root / "__pycache__")

    run = project.python("import helper; print(helper.VERSION)")

    assert run.stdout.strip() == "1", run.stderr


def test_stale_runtime_snapshot_is_not_used(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.configure({"helper": f"{url}@v1:tools/helper.py"})
    project.cli("sync")
    project.configure({"helper": f"{url}@v2:tools/helper.py"})
    project.cli("sync")

    run = project.python("import helper; print(helper.VERSION)")

    assert run.stdout.strip() == "2", run.stderr


def test_no_op_sync_takes_the_fast_path_without_parsing_toml(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")

    code = "import sys; from gitimport.cli.main import main; rc = main(['sync']); print(rc, 'tomllib' in sys.modules or 'tomli' in sys.modules, 'dulwich' in sys.modules)"
    run = project.plain_python(code)

    assert run.stdout.splitlines()[0].startswith("Nothing to do: 3 modules locked and cached")
    assert run.stdout.splitlines()[-1].split() == ["0", "False", "False"], run.stderr


def test_fast_path_is_not_taken_when_the_cache_lost_a_tree(project: Project, fixture_repos: FixtureSet) -> None:
    import shutil

    project.configure(three_names(str(fixture_repos["toolbox"].path)))
    project.cli("sync")
    shutil.rmtree(next((project.cache / layout.TREES).iterdir()))

    result = project.cli("sync")

    assert result.code == 0 and "Nothing to do" not in result.out
    assert project.cli("verify").code == 0


def test_fast_path_is_not_taken_after_a_frozen_sync_left_extra_lock_entries(project: Project, fixture_repos: FixtureSet) -> None:
    names = three_names(str(fixture_repos["toolbox"].path))
    project.configure(names)
    project.cli("sync")
    del names["rootmod"]
    project.configure(names)
    project.cli("sync", "--frozen")

    result = project.cli("sync", "--locked")

    assert result.code == 3 and "rootmod" in result.err


def test_an_upgrade_shares_unchanged_files_with_the_old_tree(project: Project, mutable_repos: FixtureSet) -> None:
    repo = mutable_repos["toolbox"]
    project.configure({"mylib": f"{repo.path}@main:src"})
    project.cli("sync")
    assert project.python("import mylib").returncode == 0  # writes the .pyc files, and keeps them in pyc-v1
    old = Path(project.cli("which", "mylib").out.strip())
    add_commit(repo.path, {"src/mylib/sub/deep.py": b"VERSION = 'new'\n\ndef depth():\n    return 2\n"}, "change one file")

    assert project.cli("sync", "--upgrade").code == 0

    new = Path(project.cli("which", "mylib").out.strip())
    assert new != old
    assert (new / "core.py").stat().st_ino == (old / "core.py").stat().st_ino  # one copy on disk
    run = project.python("import mylib.core, mylib.sub.deep, traceback; print(mylib.sub.deep.VERSION, mylib.core.add.__code__.co_filename)")
    assert run.stdout.split() == ["new", str(new / "core.py")], run.stderr  # the shared .pyc names this tree's file
    assert {p.name for p in (new / "__pycache__").iterdir()} == {p.name for p in (old / "__pycache__").iterdir()}
    core_pyc = next((new / "__pycache__").glob("core.*.pyc"))
    assert core_pyc.stat().st_ino == next((old / "__pycache__").glob("core.*.pyc")).stat().st_ino  # linked, not compiled again
    deep_pyc = next((new / "sub" / "__pycache__").glob("deep.*.pyc"))
    assert deep_pyc.stat().st_ino != next((old / "sub" / "__pycache__").glob("deep.*.pyc")).stat().st_ino
    assert (new / "sub" / "deep.py").stat().st_ino != (old / "sub" / "deep.py").stat().st_ino
    assert project.cli("verify").code == 0


def test_a_tampered_stored_blob_is_not_reused(project: Project, mutable_repos: FixtureSet) -> None:
    import os
    import shutil

    repo = mutable_repos["toolbox"]
    project.configure({"mylib": f"{repo.path}@v1:src"})
    project.cli("sync")
    root = Path(project.cli("which", "mylib").out.strip())
    os.chmod(root / "core.py", 0o644)
    (root / "core.py").write_text("TAMPERED = True\n")  # also changes the stored copy: same inode
    shutil.rmtree(root.parent)

    assert project.cli("sync").code == 0

    restored = Path(project.cli("which", "mylib").out.strip())
    assert "TAMPERED" not in (restored / "core.py").read_text()
    assert project.cli("verify").code == 0


def test_an_upgrade_fetches_only_the_new_objects(project: Project, mutable_repos: FixtureSet, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("git-http-backend", mutable_repos.root)
    project.configure({"mylib": f"{server.repo_url('toolbox')}@main:src"})
    first = project.cli("sync")
    add_commit(mutable_repos["toolbox"].path, {"src/mylib/data/greeting.txt": b"changed\n"}, "one file")

    second = project.cli("sync", "--upgrade")

    objects = [int(line.split(": ")[1].split()[0]) for line in (first.out + second.out).splitlines() if line.startswith("Fetched")]
    # the first sync fetched only what src/ needs (a partial fetch); the upgrade: a commit, the trees down to the file, the blob
    assert len(objects) == 2 and objects[1] <= 10 and objects[1] * 2 < objects[0], (first.out, second.out)


def test_global_options_before_the_command_count(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure(three_names(str(fixture_repos["toolbox"].path)))

    result = project.cli("-q", "sync")

    assert result.code == 0 and result.out == ""
    assert project.cli("-v", "--config", str(project.config_path), "list").code == 0
