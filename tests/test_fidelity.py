"""A package imported through gitimport behaves like the same package installed by pip.

Each test syncs the `fidelity` fixture (fixtures/fidelity: a src-layout package
`fidelpkg` at tag v1) into a private cache and exercises one thing that code
does with an installed package (runpy, resources, inspect, tracebacks, import
failures, pkgutil, reload, pickle, process pools, namespace portions,
precedence over site-packages) in fresh interpreters under `gitimport run`.
What test_runtime.py already covers (module attributes, bytecode, spawn and
forkserver pools, -I/-E/-m) is not repeated here.
"""

from __future__ import annotations

import ast
import json
import marshal
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support.project import TIMEOUT, Project, ok
from support.repos import FIXTURES_DIR, FixtureSet

import gitimport

SOURCE = FIXTURES_DIR / "fidelity" / "c1" / "src" / "fidelpkg"
"""The package's files as committed, to compare what the cache serves with."""

MODULES = ["__main__", "broken_syntax", "core", "counter", "raises_on_import", "reader", "resources_pkg", "sub", "tool"]
"""What pkgutil finds directly inside fidelpkg, as it would in site-packages."""


def line_of(relative: str, text: str) -> int:
    """1-based number of the first line of a committed file that contains ``text``."""
    lines = (SOURCE / relative).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def sync(project: Project, modules: dict[str, str]) -> None:
    project.configure(modules)
    result = project.cli("sync")
    assert result.code == 0, result.err


@pytest.fixture
def fidel(project: Project, fixture_repos: FixtureSet) -> Project:
    """A project with `fidelpkg` pinned to the fidelity fixture at v1, synced."""
    sync(project, {"fidelpkg": f"{fixture_repos['fidelity'].path}@v1:src"})
    return project


def in_cache(project: Project, path: str) -> bool:
    return os.path.realpath(path).startswith(str(project.cache.resolve()) + os.sep)


# ---------------------------------------------------------------------------
# runpy
# ---------------------------------------------------------------------------


def test_python_dash_m_runs_the_package_main_and_a_module_main(fidel: Project) -> None:
    package = fidel.run(sys.executable, "-m", "fidelpkg")
    module = fidel.run(sys.executable, "-m", "fidelpkg.tool")

    assert (ok(package), package.stderr) == ("fidelpkg main\n", "")
    assert (ok(module), module.stderr) == ("tool main\n", "")


# ---------------------------------------------------------------------------
# Package data
# ---------------------------------------------------------------------------


def test_importlib_resources_files_reads_data_shipped_in_the_commit(fidel: Project) -> None:
    code = """
        import importlib.resources as resources
        root = resources.files("fidelpkg")
        print(sorted(p.name for p in root.iterdir()))
        print(repr(root.joinpath("data", "hello.txt").read_text(encoding="utf-8")))
        print(sorted(p.name for p in root.joinpath("data").iterdir()))
        print(repr(root.joinpath("data/nested/more.txt").read_bytes()))
        with resources.as_file(root / "data" / "hello.txt") as path:
            print(path)
            print(repr(path.read_text(encoding="utf-8")))
    """
    listing, hello, data, more, path, as_file_text = ok(fidel.python(code)).splitlines()

    committed = sorted(p.name for p in SOURCE.iterdir() if p.name != "__pycache__")
    assert listing == repr(sorted([*committed, "__pycache__"]))
    assert hello == repr("hello\n")
    assert data == repr(["hello.txt", "nested"])
    assert more == repr(b"more data\n")
    assert in_cache(fidel, path) and path.endswith(os.path.join("fidelpkg", "data", "hello.txt"))
    assert as_file_text == repr("hello\n")


def test_legacy_importlib_resources_functions_read_a_regular_package(fidel: Project) -> None:
    code = """
        import importlib.resources as resources, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated in 3.11, restored in 3.13
        print(repr(resources.read_text("fidelpkg.resources_pkg", "blob.txt")))
        print(resources.is_resource("fidelpkg.resources_pkg", "blob.txt"), resources.is_resource("fidelpkg.resources_pkg", "nope.txt"))
        print(sorted(set(resources.contents("fidelpkg.resources_pkg")) & {"__init__.py", "blob.txt"}))
        with resources.open_binary("fidelpkg.resources_pkg", "blob.txt") as handle:
            print(repr(handle.read()))
    """
    text, is_resource, contents, binary = ok(fidel.python(code)).splitlines()

    assert text == repr("blob data\n")
    assert is_resource == "True False"
    assert contents == repr(["__init__.py", "blob.txt"])
    assert binary == repr(b"blob data\n")


def test_pkgutil_get_data_and_open_next_to_file_read_package_data(fidel: Project) -> None:
    code = """
        import pkgutil, fidelpkg.reader
        print(repr(pkgutil.get_data("fidelpkg", "data/hello.txt")))
        print(repr(pkgutil.get_data("fidelpkg", "data/nested/more.txt")))
        print(repr(fidelpkg.reader.hello()))
    """

    assert ok(fidel.python(code)).splitlines() == [repr(b"hello\n"), repr(b"more data\n"), repr("hello\n")]


# ---------------------------------------------------------------------------
# Source, linecache, tracebacks
# ---------------------------------------------------------------------------


def test_inspect_and_linecache_read_the_committed_source(fidel: Project) -> None:
    fail_line = line_of("core.py", 'raise ValueError("boom")')
    code = f"""
        import inspect, json, linecache, fidelpkg.core as core
        print(json.dumps({{
            "thing": inspect.getsource(core.Thing),
            "make_thing": inspect.getsource(core.make_thing),
            "module": inspect.getsource(core),
            "sourcefile": inspect.getsourcefile(core.Thing),
            "file": core.__file__,
            "code_file": core.fail.__code__.co_filename,
            "line": linecache.getline(core.__file__, {fail_line}),
        }}))
    """

    info = json.loads(ok(fidel.python(code)))

    committed = (SOURCE / "core.py").read_text(encoding="utf-8")
    assert info["module"] == committed
    assert info["thing"].startswith("class Thing:") and info["thing"] in committed
    assert info["make_thing"] == "def make_thing(value):\n    return Thing(value * 2)\n"
    assert info["sourcefile"] == info["file"] == info["code_file"]
    assert in_cache(fidel, info["file"]) and info["file"].endswith(os.path.join("fidelpkg", "core.py"))
    assert info["line"] == '    raise ValueError("boom")\n'


def test_uncaught_exception_traceback_shows_the_cached_file_and_source_line(fidel: Project) -> None:
    result = fidel.python("import fidelpkg.core\nfidelpkg.core.fail()\n")

    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1] == "ValueError: boom"
    frame = next(i for i, line in enumerate(lines) if "in fail" in line)
    path = lines[frame].split('"')[1]
    assert in_cache(fidel, path) and path.endswith(os.path.join("fidelpkg", "core.py"))
    assert f"line {line_of('core.py', 'boom')}, in fail" in lines[frame]
    assert lines[frame + 1].strip() == 'raise ValueError("boom")'


# ---------------------------------------------------------------------------
# Failures while a module executes
# ---------------------------------------------------------------------------


def test_exception_raised_at_import_reaches_the_caller_as_itself(fidel: Project) -> None:
    code = """
        import os, sys, traceback, fidelpkg
        for _ in (1, 2):
            try:
                import fidelpkg.raises_on_import
            except RuntimeError as exc:
                last = traceback.extract_tb(exc.__traceback__)[-1]
                print(type(exc).__name__, exc.args, os.path.basename(last.filename), last.lineno, last.line)
        print("fidelpkg.raises_on_import" in sys.modules, hasattr(fidelpkg, "raises_on_import"))
    """
    first, second, leftovers = ok(fidel.python(code)).splitlines()

    line = line_of("raises_on_import.py", "raise")
    assert first == f"RuntimeError ('import-time',) raises_on_import.py {line} raise RuntimeError(\"import-time\")"
    assert second == first  # not cached half-done: a second import runs the module again
    assert leftovers == "False False"


def test_syntax_error_in_a_module_reaches_the_caller_with_file_and_line(fidel: Project) -> None:
    code = """
        import json, sys, fidelpkg
        try:
            import fidelpkg.broken_syntax
        except SyntaxError as exc:
            print(json.dumps({"type": type(exc).__name__, "filename": exc.filename, "lineno": exc.lineno, "text": exc.text}))
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("fidelpkg"))), hasattr(fidelpkg, "broken_syntax"))
    """

    error_line, modules_line = ok(fidel.python(code)).splitlines()

    error = json.loads(error_line)
    assert error["type"] == "SyntaxError"
    assert in_cache(fidel, error["filename"]) and error["filename"].endswith(os.path.join("fidelpkg", "broken_syntax.py"))
    assert error["lineno"] == line_of("broken_syntax.py", "def broken(:")
    assert error["text"].strip() == "def broken(:"
    assert modules_line == json.dumps(["fidelpkg", "fidelpkg.core"]) + " False"


# ---------------------------------------------------------------------------
# pkgutil and importlib
# ---------------------------------------------------------------------------


def test_pkgutil_lists_and_walks_the_package_and_import_module_finds_submodules(fidel: Project) -> None:
    code = """
        import importlib, pkgutil, fidelpkg
        print(sorted(m.name for m in pkgutil.iter_modules(fidelpkg.__path__)))
        print(sorted(m.name for m in pkgutil.iter_modules(fidelpkg.__path__) if m.ispkg))
        errors = []
        print(sorted(m.name for m in pkgutil.walk_packages(fidelpkg.__path__, "fidelpkg.", onerror=errors.append)), errors)
        leaf = importlib.import_module("fidelpkg.sub.leaf")
        print(leaf.leaf_thing() == fidelpkg.Thing("fidelpkg.core"), leaf.core is fidelpkg.core)
    """
    listed, packages, walked, leaf = ok(fidel.python(code)).splitlines()

    assert listed == repr(MODULES)
    assert packages == repr(["resources_pkg", "sub"])
    assert walked == repr(sorted([f"fidelpkg.{name}" for name in MODULES] + ["fidelpkg.sub.leaf"])) + " []"
    assert leaf == "True True"


def test_pkgutil_iter_modules_lists_a_pinned_top_level_package(fidel: Project) -> None:
    # pip-installed packages show up here (help("modules"), completion of `import fid`).
    code = "import pkgutil; print([(m.name, m.ispkg) for m in pkgutil.iter_modules() if m.name == 'fidelpkg'])"

    assert ok(fidel.python(code)) == "[('fidelpkg', True)]\n"


def test_reload_reexecutes_a_module_the_package_and_a_submodule(fidel: Project) -> None:
    code = """
        import importlib, sys, fidelpkg, fidelpkg.counter, fidelpkg.sub.leaf
        counter, leaf = fidelpkg.counter, fidelpkg.sub.leaf
        print(counter.RUNS, importlib.reload(counter) is counter, counter.RUNS)
        print(importlib.reload(fidelpkg) is fidelpkg is sys.modules["fidelpkg"], fidelpkg.__file__ == fidelpkg.__spec__.origin)
        print(importlib.reload(leaf) is leaf, leaf.leaf_thing() == fidelpkg.Thing("fidelpkg.core"))
        print(importlib.reload(counter).RUNS)
    """

    assert ok(fidel.python(code)).splitlines() == ["1 True 2", "True True", "True True", "3"]


def test_find_spec_returns_specs_in_the_cache(fidel: Project) -> None:
    code = """
        import importlib.machinery, importlib.util, json
        package = importlib.util.find_spec("fidelpkg")
        leaf = importlib.util.find_spec("fidelpkg.sub.leaf")
        print(json.dumps({
            "package": [package.name, package.origin, package.submodule_search_locations, package.parent, package.has_location],
            "leaf": [leaf.name, leaf.origin, leaf.submodule_search_locations, leaf.parent, isinstance(leaf.loader, importlib.machinery.SourceFileLoader)],
            "missing": importlib.util.find_spec("fidelpkg.no_such_module") is None,
        }))
    """

    info = json.loads(ok(fidel.python(code)))

    name, origin, locations, parent, has_location = info["package"]
    assert (name, parent, has_location) == ("fidelpkg", "fidelpkg", True)
    assert in_cache(fidel, origin) and origin.endswith(os.path.join("fidelpkg", "__init__.py"))
    assert locations == [os.path.dirname(origin)]
    name, leaf_origin, leaf_locations, leaf_parent, loader = info["leaf"]
    assert (name, leaf_locations, leaf_parent, loader) == ("fidelpkg.sub.leaf", None, "fidelpkg.sub", True)
    assert leaf_origin == os.path.join(locations[0], "sub", "leaf.py")
    assert info["missing"] is True


def test_modules_of_a_cached_package_are_served_without_the_path_finder(fidel: Project) -> None:
    """A materialized tree never changes: its folders are listed once, and no FileFinder is made for them."""
    code = """
        import sys, fidelpkg.sub.leaf
        cached = [p for p in sys.path_importer_cache if p.startswith(fidelpkg.__path__[0])]
        print(fidelpkg.sub.leaf.__spec__.cached == fidelpkg.sub.leaf.__cached__, cached)
    """

    assert ok(fidel.python(code)).split() == ["True", "[]"]


@pytest.mark.parametrize("flags", [["--check-hash-based-pycs", "always"], ["--check-hash-based-pycs", "never"], ["-O"], ["-B"]])
def test_submodules_import_the_same_under_every_bytecode_flag(fidel: Project, flags: list[str]) -> None:
    code = """
        import inspect, fidelpkg.sub.leaf as leaf
        print(leaf.__name__, inspect.getsourcefile(leaf) == leaf.__file__, leaf.__file__.endswith("leaf.py"))
    """

    assert ok(fidel.python(code, *flags)).split() == ["fidelpkg.sub.leaf", "True", "True"]


# ---------------------------------------------------------------------------
# pickle and process pools
# ---------------------------------------------------------------------------


def test_pickle_round_trips_in_process_and_in_a_second_process(fidel: Project, tmp_path: Path) -> None:
    stored = tmp_path / "thing.pickle"
    write = f"""
        import pickle, fidelpkg.core
        data = pickle.dumps(fidelpkg.core.Thing(3))
        print(pickle.loads(data) == fidelpkg.core.Thing(3), type(pickle.loads(data)) is fidelpkg.Thing)
        open({str(stored)!r}, "wb").write(data)
    """
    read = f"""
        import pickle, sys
        thing = pickle.load(open({str(stored)!r}, "rb"))
        print(repr(thing), type(thing).__module__, type(thing) is sys.modules["fidelpkg.core"].Thing)
        print(sys.modules["fidelpkg.core"].__file__)
    """

    assert ok(fidel.python(write)) == "True True\n"
    described, path = ok(fidel.python(read)).splitlines()

    assert described == "Thing(3) fidelpkg.core True"
    assert in_cache(fidel, path)


def test_process_pool_workers_call_package_functions(fidel: Project) -> None:
    code = """
        import concurrent.futures, multiprocessing, fidelpkg.core as core
        for context in (None, multiprocessing.get_context("spawn")):
            with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
                things = list(pool.map(core.make_thing, [1, 2]))
                print(things == [core.Thing(2), core.Thing(4)], pool.submit(core.where).result() == core.__file__)
    """

    assert ok(fidel.python(code)) == "True True\nTrue True\n"


# ---------------------------------------------------------------------------
# Namespace packages with portions from several places
# ---------------------------------------------------------------------------


@pytest.fixture
def acme(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> tuple[Project, Path]:
    """`acme.alpha` from the fidelity repo, `acme.beta` from toolbox, `acme/gamma.py` on a folder for PYTHONPATH."""
    sync(
        project,
        {
            "acme.alpha": f"{fixture_repos['fidelity'].path}@v1:src/fidelpkg",
            "acme.beta": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py",
        },
    )
    portion = tmp_path / "pythonpath" / "acme"
    portion.mkdir(parents=True)
    (portion / "gamma.py").write_text('WHERE = "pythonpath"\n', encoding="utf-8")
    return project, portion.parent


def test_namespace_portions_from_two_repositories_and_pythonpath_all_import(acme: tuple[Project, Path]) -> None:
    project, pythonpath = acme
    code = """
        import acme.alpha, acme.beta, acme.gamma, acme
        print(acme.alpha.Thing(1) == acme.alpha.core.Thing(1), type(acme.alpha.Thing(1)).__module__)
        print(acme.beta.helper(), acme.gamma.WHERE)
        print(getattr(acme, "__file__", None), list(acme.__path__))
        print(acme.alpha.__file__); print(acme.beta.__file__)
    """

    alpha, beta_gamma, parent, alpha_file, beta_file = ok(project.python(code, PYTHONPATH=str(pythonpath))).splitlines()

    assert alpha == "True acme.alpha.core"
    assert beta_gamma == "helper v1 pythonpath"
    file, path = parent.split(" ", 1)
    portions = ast.literal_eval(path)  # the printed list
    assert file == "None" and portions[0] == str(pythonpath / "acme")  # the sys.path portion comes first
    assert len(portions) == 2 and portions[1].startswith(str(project.cache))  # then the pinned portions, from the cache
    assert in_cache(project, alpha_file) and in_cache(project, beta_file)


def test_pkgutil_lists_pinned_portions_of_a_namespace_package(acme: tuple[Project, Path]) -> None:
    # The namespace-package plugin pattern: pip-installed portions all show up here.
    project, pythonpath = acme
    code = "import acme, pkgutil; print(sorted(m.name for m in pkgutil.iter_modules(acme.__path__, 'acme.')))"

    assert ok(project.python(code, PYTHONPATH=str(pythonpath))) == "['acme.alpha', 'acme.beta', 'acme.gamma']\n"


# ---------------------------------------------------------------------------
# Precedence over an installed distribution
# ---------------------------------------------------------------------------


def _venv_with_installed_fidelpkg(root: Path) -> Path:
    """A venv that has gitimport (by .pth, as pip would) and a different `fidelpkg` installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=TIMEOUT)
    venv_python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout.strip()
    site = Path(purelib)
    ours = Path(sysconfig.get_paths()["purelib"])
    source_root = Path(gitimport.__file__).resolve().parents[1]
    # "_" sorts before "g": sys.path is complete when gitimport-run.pth runs.
    (site / "_gitimport_paths.pth").write_text(f"{source_root}\n{ours}\n", encoding="utf-8")
    run_pth = ours / "gitimport-run.pth"
    (site / "gitimport-run.pth").write_bytes((run_pth if run_pth.exists() else source_root / "gitimport-run.pth").read_bytes())
    (site / "fidelpkg").mkdir()
    (site / "fidelpkg" / "__init__.py").write_text('WHERE = "installed"\n', encoding="utf-8")
    dist_info = site / "fidelpkg-0.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fidelpkg\nVersion: 0.0.1\n", encoding="utf-8")
    (dist_info / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (dist_info / "RECORD").write_text("fidelpkg/__init__.py,,\nfidelpkg-0.0.1.dist-info/METADATA,,\n", encoding="utf-8")
    return venv_python


def test_pinned_name_wins_over_an_installed_distribution(fidel: Project, tmp_path: Path) -> None:
    venv_python = str(_venv_with_installed_fidelpkg(tmp_path / "venv"))
    code = "import importlib.metadata as md, fidelpkg; print(fidelpkg.WHERE, md.version('fidelpkg')); print(fidelpkg.__file__)"

    def where(*command: str) -> list[str]:
        return ok(fidel.execute(*command)).splitlines()

    pinned, pinned_file = where(venv_python, "-m", "gitimport", "run", "--", venv_python, "-c", code)
    installed, installed_file = where(venv_python, "-c", code)

    assert pinned == "git 1.0.0" and in_cache(fidel, pinned_file)
    assert installed == "installed 0.0.1" and installed_file.startswith(str(tmp_path / "venv"))


# ---------------------------------------------------------------------------
# Upgrading gitimport
# ---------------------------------------------------------------------------


def test_a_runtime_snapshot_written_by_the_previous_release_is_not_fatal(fidel: Project) -> None:
    ok(fidel.python("import fidelpkg"))  # a warm start writes the runtime snapshot
    (snapshot,) = (fidel.root / "__pycache__").glob("*.marshal")
    data = marshal.loads(snapshot.read_bytes())
    del data["dists"]  # what gitimport 8077fe4 wrote under the same SNAPSHOT_VERSION
    snapshot.write_bytes(marshal.dumps(data))

    result = fidel.python("import fidelpkg; print(fidelpkg.WHERE)")

    assert (result.stdout, result.stderr) == ("git\n", "")
