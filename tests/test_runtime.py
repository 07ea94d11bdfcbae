"""Run time as a user meets it: `gitimport run`, the finder, the cache's files and bytecode.

Every test builds a project folder with a gitimport.toml, uses a private cache
(GITIMPORT_CACHE_DIR) and runs real interpreters as subprocesses against a real
`git http-backend` on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from support.project import Project, ok, other_python
from support.repos import FixtureSet
from support.servers import Server, serve_git_http_backend

from gitimport.store import layout


def make_project(tmp_path: Path, url: str, name: str = "project") -> Project:
    """A project folder with a private cache whose specs name the repositories served at ``url``."""
    root = tmp_path / name
    root.mkdir()
    return Project(root, tmp_path / f"{name}-cache", url)


ALL_MODULES = {
    "helper": "v1:tools/helper.py",
    "mylib": "v1:src",
    "nsdir": "v1:nsdir",
    "acme.tools": "v1:tools/helper.py",
}


@pytest.fixture
def proj(tmp_path: Path, git_http_backend_server: Server) -> Project:
    return make_project(tmp_path, git_http_backend_server.url)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, fixture_repos: FixtureSet) -> Iterator[Project]:
    """One project with every module of ALL_MODULES synced; tests only read it."""
    with serve_git_http_backend(fixture_repos.root) as server:
        project = make_project(tmp_path_factory.mktemp("synced"), server.url)
        project.configure({name: project.spec(ref) for name, ref in ALL_MODULES.items()})
        ok(project.gitimport("sync"))
    yield project  # the server is stopped: everything below runs offline


@pytest.fixture
def stoppable(fixture_repos: FixtureSet, tmp_path: Path) -> Iterator[tuple[Project, Callable[[], None]]]:
    """A project and a function that stops its server early (connections are then refused)."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_git_http_backend(fixture_repos.root))
        yield make_project(tmp_path, server.url), stack.close


# ---------------------------------------------------------------------------
# 1. gitimport run: stdout and exit status
# ---------------------------------------------------------------------------


def test_run_passes_the_child_stdout_through_unchanged(synced: Project) -> None:
    result = synced.python("import helper, mylib; print('helper', helper.VERSION); print('add', mylib.add(2, 3))")

    assert ok(result) == "helper 1\nadd 5\n"


def test_run_returns_the_command_exit_status(synced: Project) -> None:
    result = synced.python("import sys, helper; print(helper.helper()); sys.exit(7)")

    assert result.returncode == 7
    assert result.stdout == "helper v1\n"


def test_run_prints_nothing_to_stdout_even_when_an_import_syncs(proj: Project) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})

    result = proj.python("import helper; print(helper.VERSION)")

    assert ok(result) == "1\n"


def test_run_of_a_missing_command_is_a_usage_error(synced: Project) -> None:
    result = synced.run("no-such-command-gitimport-test")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "no-such-command-gitimport-test" in result.stderr


# ---------------------------------------------------------------------------
# 2. The finder in grandchildren
# ---------------------------------------------------------------------------

GRANDCHILD = """
import subprocess, sys
done = subprocess.run([sys.executable, *{flags!r}], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
"""


@pytest.mark.parametrize(
    "flags",
    [
        ["-c", "import helper; print(helper.VERSION)"],
        ["-I", "-c", "import helper; print(helper.VERSION)"],
        ["-E", "-c", "import helper; print(helper.VERSION)"],
        ["-I", "-m", "mylib.sub.deep"],
    ],
    ids=["plain", "isolated", "ignore-env", "dash-m"],
)
def test_grandchild_interpreters_have_the_finder(synced: Project, flags: list[str]) -> None:
    result = synced.python(GRANDCHILD.format(flags=flags))

    assert ok(result) == ("" if "-m" in flags else "1\n")


POOL_SCRIPT = """
import multiprocessing
import sys


def version(name):
    import importlib
    module = importlib.import_module(name)
    return module.__name__, module.VERSION, module.__file__


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(1) as pool:
        for name, value, path in pool.map(version, ["helper", "mylib.sub.deep"]):
            print(name, value, path)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_multiprocessing_workers_have_the_finder(synced: Project, tmp_path: Path, method: str) -> None:
    script = tmp_path / f"pool_{method}.py"
    script.write_text(POOL_SCRIPT, encoding="utf-8")

    lines = ok(synced.run(sys.executable, str(script), method)).splitlines()

    assert [line.split()[:2] for line in lines] == [["helper", "1"], ["mylib.sub.deep", "1"]]
    assert all(line.split()[2].startswith(str(synced.cache)) for line in lines)


def test_child_that_changes_folder_still_finds_the_config(synced: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subfolder = synced.root / "sub"
    subfolder.mkdir(exist_ok=True)
    code = textwrap.dedent(
        f"""
        import os, subprocess, sys
        print(os.environ["GITIMPORT_CONFIG"])
        os.chdir({str(elsewhere)!r})
        done = subprocess.run([sys.executable, "-c", "import helper; print(helper.VERSION)"], capture_output=True, text=True)
        sys.stderr.write(done.stderr)
        print(done.stdout.strip())
        """
    )

    config_line, version = ok(synced.run(sys.executable, "-c", code, cwd=subfolder)).splitlines()

    assert os.path.isabs(config_line)
    assert os.path.samefile(config_line, synced.config_path)
    assert version == "1"


# ---------------------------------------------------------------------------
# 3. Warm path
# ---------------------------------------------------------------------------

HEAVY = "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dulwich', 'tomllib', 'tomli')))"


def test_warm_import_needs_no_network_and_imports_no_dulwich_or_toml(synced: Project) -> None:
    # The `synced` server is already stopped: a network access would fail.
    result = synced.python(f"import sys, helper, mylib, mylib.sub.deep; print(helper.VERSION, mylib.VERSION); {HEAVY}")

    assert ok(result) == "1 1\n[]\n"


def test_warm_import_does_not_contact_the_server(proj: Project, git_http_backend_server: Server) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py"), "mylib": proj.spec("v1:src")})
    ok(proj.gitimport("sync"))
    git_http_backend_server.clear()

    ok(proj.python("import helper, mylib"))

    assert git_http_backend_server.requests == []


# ---------------------------------------------------------------------------
# 4. Module attributes
# ---------------------------------------------------------------------------

ATTRIBUTES = """
import json, os, mylib
spec = mylib.__spec__
print(json.dumps({
    "file": mylib.__file__,
    "path": list(mylib.__path__),
    "origin": spec.origin,
    "has_location": spec.has_location,
    "cached": spec.cached,
    "cached_exists": os.path.exists(spec.cached),
    "name": mylib.__name__,
}))
"""


def test_package_attributes_point_into_the_cache(synced: Project) -> None:
    info = json.loads(ok(synced.python(ATTRIBUTES)))

    cache = str(synced.cache.resolve())
    assert os.path.realpath(info["file"]).startswith(cache + os.sep)
    assert info["file"].endswith(os.path.join("mylib", "__init__.py"))
    assert info["path"] == [os.path.dirname(info["file"])]
    assert info["origin"] == info["file"]
    assert info["has_location"] is True
    assert f"{os.sep}__pycache__{os.sep}__init__." in info["cached"]
    assert info["cached_exists"] is True
    assert info["name"] == "mylib"


def test_submodules_relative_imports_and_data_files(synced: Project) -> None:
    code = """
        import importlib.resources, mylib.sub.deep, mylib.core
        print(mylib.sub.deep.depth(), mylib.core.nesting(), mylib.add(1, 2))
        print(mylib.sub.deep.__file__)
        print(importlib.resources.files("mylib").joinpath("data/greeting.txt").read_text().strip())
    """
    numbers, deep_file, greeting = ok(synced.python(code)).splitlines()

    assert numbers == "2 2 3"
    assert deep_file.startswith(str(synced.cache))
    assert deep_file.endswith(os.path.join("mylib", "sub", "deep.py"))
    assert greeting == "Hello from mylib 1"


def test_single_file_module_keeps_its_file_name(synced: Project) -> None:
    code = "import helper; print(helper.__file__); print(helper.__spec__.origin); print(hasattr(helper, '__path__'))"
    path, origin, is_package = ok(synced.python(code)).splitlines()

    assert path == origin
    assert path.startswith(str(synced.cache))
    assert path.endswith(f"{os.sep}helper.py")
    assert is_package == "False"


def test_namespace_package_from_the_cache(synced: Project) -> None:
    code = """
        import nsdir, nsdir.inner.mod, nsdir.portion_a
        print(list(nsdir.__path__)[0]); print(getattr(nsdir, "__file__", None))
        print(nsdir.inner.mod.VERSION, nsdir.portion_a.VERSION)
        print(nsdir.inner.mod.__file__)
    """
    path, file, versions, mod_file = ok(synced.python(code)).splitlines()

    assert path.startswith(str(synced.cache)) and path.endswith("nsdir")
    assert file == "None"
    assert versions == "1 1"
    assert mod_file == os.path.join(path, "inner", "mod.py")


def test_dotted_name_gets_a_namespace_parent(synced: Project) -> None:
    code = """
        import acme.tools
        print(acme.tools.__name__, acme.tools.VERSION, acme.tools.helper())
        print(acme.__spec__.origin, getattr(acme, "__file__", None), type(acme.__path__).__name__ != "NoneType")
        print(acme.tools.__file__)
    """
    first, parent, file = ok(synced.python(code)).splitlines()

    assert first == "acme.tools 1 helper v1"
    assert parent == "None None True"
    assert file.startswith(str(synced.cache)) and file.endswith("helper.py")


def test_dotted_name_parent_takes_in_portions_on_sys_path(synced: Project, tmp_path: Path) -> None:
    portion = tmp_path / "portions" / "acme"
    portion.mkdir(parents=True)
    (portion / "local.py").write_text("WHERE = 'local'\n", encoding="utf-8")
    code = f"""
        import sys
        sys.path.insert(0, {str(portion.parent)!r})
        import acme.tools, acme.local
        print(acme.tools.VERSION, acme.local.WHERE)
    """

    assert ok(synced.python(code)) == "1 local\n"


# ---------------------------------------------------------------------------
# 5. Cold path
# ---------------------------------------------------------------------------


def test_cold_import_without_a_cache_fetches(proj: Project, git_http_backend_server: Server) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    ok(proj.gitimport("sync"))
    shutil.rmtree(proj.cache)
    git_http_backend_server.clear()

    assert ok(proj.python("import helper; print(helper.VERSION)")) == "1\n"
    assert git_http_backend_server.fetches("toolbox") == 2  # the commit and its trees, then the blob (a partial fetch)
    assert (proj.cache / layout.TREES).is_dir()


def test_cold_import_records_a_module_missing_from_the_lock(proj: Project, fixture_repos: FixtureSet) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    ok(proj.gitimport("sync"))
    proj.configure({"helper": proj.spec("v1:tools/helper.py"), "mylib": proj.spec("v2:src")})

    assert ok(proj.python("import mylib; print(mylib.VERSION)")) == "2\n"
    lock = proj.lock_path.read_text(encoding="utf-8")
    assert "[modules.mylib]" in lock and fixture_repos["toolbox"].tags["v2"] in lock
    assert "[modules.helper]" in lock


def test_cold_import_without_server_or_cache_says_to_sync(stoppable: tuple[Project, Callable[[], None]]) -> None:
    project, stop_server = stoppable
    project.configure({"helper": project.spec("v1:tools/helper.py")})
    ok(project.gitimport("sync"))
    shutil.rmtree(project.cache)
    stop_server()
    code = """
        try:
            import helper
        except ImportError as exc:
            print(type(exc).__name__, exc.name)
            print(str(exc))
    """

    first, *message = ok(project.python(code)).splitlines()

    kind, name = first.split()
    assert kind != "ImportError" and name == "helper"  # a subclass, named for the module
    text = "\n".join(message)
    assert "'helper'" in text and "gitimport sync" in text


def test_cold_import_failure_reads_cleanly_on_stderr(stoppable: tuple[Project, Callable[[], None]]) -> None:
    project, stop_server = stoppable
    project.configure({"helper": project.spec("v1:tools/helper.py")})
    ok(project.gitimport("sync"))
    shutil.rmtree(project.cache)
    stop_server()

    result = project.python("import helper")

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("Traceback") == 1 and "During handling" not in result.stderr
    assert "dulwich" not in result.stderr
    *_, error_line, hint_line = result.stderr.strip().splitlines()
    assert "ImportError" in error_line and "'helper'" in error_line
    assert hint_line.startswith("hint:") and "gitimport sync" in hint_line


def test_frozen_import_of_an_unlocked_module_says_to_sync(proj: Project) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    ok(proj.gitimport("sync"))
    before = proj.lock_path.read_bytes()
    proj.configure({"helper": proj.spec("v1:tools/helper.py"), "mylib": proj.spec("v1:src")})
    code = """
        try:
            import mylib
        except ImportError as exc:
            print("refused:", exc)
    """

    out = ok(proj.python(code, GITIMPORT_FROZEN="1"))

    assert out.startswith("refused:") and "gitimport sync" in out and "mylib" in out
    assert proj.lock_path.read_bytes() == before


def test_cold_path_os_error_reaches_the_importer_as_import_error(proj: Project, tmp_path: Path) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("", encoding="utf-8")
    code = """
        try:
            import helper
        except ImportError as exc:
            print("ImportError", exc.name)
        except Exception as exc:
            print("escaped", type(exc).__name__)
    """

    out = ok(proj.python(code, GITIMPORT_CACHE_DIR=str(not_a_folder / "cache")))

    assert out == "ImportError helper\n"


# ---------------------------------------------------------------------------
# 6. A spec changed after sync
# ---------------------------------------------------------------------------


def test_changed_spec_imports_the_new_ref(proj: Project, fixture_repos: FixtureSet) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    ok(proj.gitimport("sync"))
    ok(proj.python("import helper"))  # a warm start, so a snapshot of v1 exists
    proj.configure({"helper": proj.spec("v2:tools/helper.py")})

    assert ok(proj.python("import helper; print(helper.VERSION)")) == "2\n"
    assert fixture_repos["toolbox"].tags["v2"] in proj.lock_path.read_text(encoding="utf-8")


def test_changed_spec_under_frozen_refuses_instead_of_importing_stale_code(proj: Project) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py")})
    ok(proj.gitimport("sync"))
    ok(proj.python("import helper"))
    before = proj.lock_path.read_bytes()
    proj.configure({"helper": proj.spec("v2:tools/helper.py")})
    code = """
        try:
            import helper
            print("imported", helper.VERSION)
        except ImportError as exc:
            print("refused:", exc)
    """

    out = ok(proj.python(code, GITIMPORT_FROZEN="1"))

    assert out.startswith("refused:") and "gitimport sync" in out
    assert proj.lock_path.read_bytes() == before


# ---------------------------------------------------------------------------
# 7. Bytecode: see test_bytecode.py
# ---------------------------------------------------------------------------


def test_other_python_version_imports_the_same_code(synced: Project) -> None:
    other = other_python()
    if other is None:
        pytest.skip("no second Python version with gitimport installed")

    out = ok(synced.run(other, "-c", "import sys, helper, mylib; print(helper.VERSION, mylib.add(1, 1), mylib.__file__)"))

    version, total, path = out.split()
    assert (version, total) == ("1", "2")
    assert path.startswith(str(synced.cache))


# ---------------------------------------------------------------------------
# 8. gitimport.install() in-process
# ---------------------------------------------------------------------------

INSTALL = """
import json, sys, gitimport
from importlib.machinery import PathFinder
first = gitimport.install()
second = gitimport.install()
ours = [f for f in sys.meta_path if type(f).__name__ == "GitImportFinder"]
position = sys.meta_path.index(first)
import helper
gitimport.uninstall()
try:
    import mylib
    after = "imported"
except ImportError:
    after = "ImportError"
print(json.dumps({
    "same": first is second,
    "count": len(ours),
    "before_path_finder": sys.meta_path[position] is PathFinder,
    "helper": helper.VERSION,
    "left": [type(f).__name__ for f in sys.meta_path if type(f).__name__ == "GitImportFinder"],
    "after": after,
}))
"""


def test_install_is_idempotent_and_uninstall_removes_it(synced: Project) -> None:
    info = json.loads(ok(synced.plain_python(INSTALL)))

    assert info == {
        "same": True,
        "count": 1,
        "before_path_finder": True,
        "helper": "1",
        "left": [],
        "after": "ImportError",
    }


def test_install_warns_when_a_configured_name_was_imported_elsewhere(synced: Project, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "helper.py").write_text("VERSION = 'local'\n", encoding="utf-8")
    code = f"""
        import sys, warnings
        sys.path.insert(0, {str(local)!r})
        import helper
        import gitimport
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gitimport.install()
        print(len(caught))
        print(caught[0].message if caught else "")
    """

    count, message = ok(synced.plain_python(code)).splitlines()

    assert count == "1"
    assert "helper" in message


def test_install_warning_points_at_the_callers_line(synced: Project, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "helper.py").write_text("VERSION = 'local'\n", encoding="utf-8")
    script = tmp_path / "installer.py"
    script.write_text(
        f"import sys, warnings\nsys.path.insert(0, {str(local)!r})\nimport helper, gitimport\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    gitimport.install()\n"
        "print(caught[0].filename, caught[0].lineno)\n",
        encoding="utf-8",
    )
    result = synced.execute(sys.executable, str(script))

    assert ok(result) == f"{script} 6\n"


# ---------------------------------------------------------------------------
# 10. which, list, verify, repair
# ---------------------------------------------------------------------------


def test_which_prints_only_an_existing_path(synced: Project) -> None:
    out = ok(synced.gitimport("which", "mylib"))

    assert out.endswith("\n") and out.count("\n") == 1
    path = Path(out.strip())
    assert path.is_absolute() and path.is_dir() and path.name == "mylib"
    assert (path / "__init__.py").is_file()


def test_list_json_shows_commits_and_cached(synced: Project, fixture_repos: FixtureSet) -> None:
    items = json.loads(ok(synced.gitimport("list", "--json")))

    by_name = {item["name"]: item for item in items}
    assert sorted(by_name) == sorted(ALL_MODULES)
    v1 = fixture_repos["toolbox"].tags["v1"]
    assert all(item["commit"] == v1 and item["cached"] is True for item in items)


def test_verify_catches_a_modified_file_and_repair_restores_it(proj: Project) -> None:
    proj.configure({"helper": proj.spec("v1:tools/helper.py"), "mylib": proj.spec("v1:src")})
    ok(proj.gitimport("sync"))
    assert proj.gitimport("verify").returncode == 0
    target = Path(ok(proj.gitimport("which", "mylib")).strip()) / "core.py"
    original = target.read_bytes()
    target.chmod(target.stat().st_mode | stat.S_IWUSR)
    target.write_bytes(original + b"\nVERSION = 'evil'\n")

    bad = proj.gitimport("verify")

    assert bad.returncode == 1
    assert str(target) in bad.stdout + bad.stderr
    ok(proj.gitimport("sync", "--repair"))
    assert target.read_bytes() == original
    assert proj.gitimport("verify").returncode == 0
    assert ok(proj.python("import mylib.core; print(mylib.core.VERSION)")) == "1\n"
