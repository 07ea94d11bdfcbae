"""`pin()`: inline imports from a spec, in real interpreters with a private cache."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from support.project import Project, ok
from support.repos import FixtureRepo, FixtureSet
from support.servers import Server, serve_git_http_backend


def _world(tmp_path: Path, server: Server) -> Project:
    work = tmp_path / "work"
    work.mkdir()
    return Project(work, tmp_path / "cache", server.url)


@pytest.fixture
def world(tmp_path: Path, git_http_backend_server: Server) -> Project:
    """A folder without any gitimport config, a private cache, and the fixture repositories on git http-backend.

    ``world.spec("v1:tools/helper.py")`` is the toolbox's helper at v1; its
    code runs in plain interpreters (``world.plain_python``), not under ``gitimport run``.
    """
    return _world(tmp_path, git_http_backend_server)


@pytest.fixture
def toolbox(fixture_repos: FixtureSet) -> FixtureRepo:
    """The toolbox repository, for its tags."""
    return fixture_repos["toolbox"]


def test_pin_of_an_exact_commit_imports_the_module_under_its_file_name(world: Project, toolbox: FixtureRepo) -> None:
    spec = world.spec(f"{toolbox.tags['v1']}:tools/helper.py")
    code = f"""
        import json, sys
        from gitimport.pin import pin
        module = pin({spec!r})
        import helper
        print(json.dumps({{
            "name": module.__name__,
            "registered": sys.modules.get("helper") is module,
            "same": helper is module,
            "version": module.VERSION,
            "file": module.__file__,
        }}))
    """

    info = json.loads(ok(world.plain_python(code)))

    assert info["name"] == "helper" and info["registered"] and info["same"]
    assert info["version"] == "1"
    assert info["file"].startswith(str(world.cache)) and info["file"].endswith("helper.py")


def test_pin_with_a_name_registers_it_for_import(world: Project, toolbox: FixtureRepo) -> None:
    spec = world.spec(f"{toolbox.tags['v2']}:tools/helper.py")
    code = f"""
        from gitimport.pin import pin
        module = pin({spec!r}, name="h2")
        import h2
        print(h2 is module, h2.__name__, h2.VERSION)
    """

    assert ok(world.plain_python(code)) == "True h2 2\n"


def test_pin_of_a_package_keeps_relative_imports_working(world: Project, toolbox: FixtureRepo) -> None:
    spec = world.spec(f"{toolbox.tags['v1']}:src/mylib")
    code = f"""
        from gitimport.pin import pin
        mylib = pin({spec!r})
        import mylib.core
        print(mylib.__name__, mylib.add(2, 2), mylib.core.nesting())
    """

    assert ok(world.plain_python(code)) == "mylib 4 2\n"


def test_pin_refuses_a_commit_that_the_ref_does_not_resolve_to(world: Project, toolbox: FixtureRepo) -> None:
    v1, v2 = toolbox.tags["v1"], toolbox.tags["v2"]
    code = f"""
        import sys, warnings
        warnings.simplefilter("ignore")
        from gitimport.pin import pin
        try:
            pin({world.spec("v1:tools/helper.py")!r}, commit={v2!r})
        except ImportError as exc:
            print("refused:", exc)
        print("helper" in sys.modules)
    """

    out = ok(world.plain_python(code))

    assert out.startswith("refused:")
    assert v1[:12] in out and v2[:12] in out
    assert out.rstrip().endswith("False")


def test_pin_with_a_matching_commit_imports_it(world: Project, toolbox: FixtureRepo) -> None:
    v1 = toolbox.tags["v1"]
    code = f"""
        import warnings
        from gitimport.pin import pin
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = pin({world.spec("v1:tools/helper.py")!r}, commit={v1!r})
        print(module.VERSION, len(caught))
    """

    assert ok(world.plain_python(code)) == "1 0\n"


def test_pin_of_a_moving_ref_warns_once(world: Project) -> None:
    spec = world.spec("main:tools/helper.py")
    code = f"""
        import warnings
        from gitimport.pin import pin
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = pin({spec!r})
            second = pin({spec!r})
        print(first is second, first.VERSION, len(caught))
        print(caught[0].message if caught else "")
    """

    summary, message = ok(world.plain_python(code)).splitlines()

    assert summary == "True 3 1"
    assert "commit=" in message


def test_moving_ref_warning_points_at_the_pin_call(world: Project, tmp_path: Path) -> None:
    script = tmp_path / "pinner.py"
    script.write_text(
        "import sys, warnings\n"
        "from gitimport.pin import pin\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    pin(sys.argv[1])\n"
        "print(caught[0].filename, caught[0].lineno)\n",
        encoding="utf-8",
    )
    result = world.execute(sys.executable, str(script), world.spec("main:tools/helper.py"))

    assert ok(result) == f"{script} 5\n"


def test_pin_of_a_relative_path_resolves_against_the_calling_file(world: Project, tmp_path: Path, toolbox: FixtureRepo) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(toolbox.path, scripts / "repos" / "toolbox", symlinks=True)
    script = scripts / "use_pin.py"
    script.write_text(
        textwrap.dedent(
            """
            import warnings
            from gitimport.pin import pin
            warnings.simplefilter("ignore")
            module = pin("./repos/toolbox@v1:tools/helper.py")
            print(module.VERSION)
            """
        ),
        encoding="utf-8",
    )
    result = world.execute(sys.executable, str(script))

    assert ok(result) == "1\n"


@pytest.fixture
def stoppable_world(tmp_path: Path, fixture_repos: FixtureSet) -> Iterator[tuple[Project, Callable[[], None]]]:
    """A world and a function that stops its server early (connections are then refused)."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_git_http_backend(fixture_repos.root))
        yield _world(tmp_path, server), stack.close


def test_warm_pin_of_an_exact_commit_needs_no_dulwich_and_no_network(
    stoppable_world: tuple[Project, Callable[[], None]], toolbox: FixtureRepo
) -> None:
    world, stop_server = stoppable_world
    spec = world.spec(f"{toolbox.tags['v2']}:src/mylib")
    code = f"""
        import sys
        from gitimport.pin import pin
        module = pin({spec!r})
        print(module.VERSION, any(m.split(".")[0] == "dulwich" for m in sys.modules))
    """
    ok(world.plain_python(code))
    stop_server()

    assert ok(world.plain_python(code)) == "2 False\n"


def test_a_pin_imports_under_python_O_which_compiles_its_own_bytecode(world: Project, toolbox: FixtureRepo) -> None:
    """The cached tree has no -O bytecode yet: the cold path compiles it, though no config names the pin."""
    spec = world.spec(f"{toolbox.tags['v1']}:tools/helper.py")
    code = f"from gitimport.pin import pin; print(pin({spec!r}).VERSION)"
    assert ok(world.plain_python(code)).strip() == "1"

    optimized = world.execute(sys.executable, "-O", "-c", code)

    assert optimized.returncode == 0, optimized.stderr
    assert optimized.stdout.strip() == "1"
