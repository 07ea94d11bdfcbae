"""`pin()`: inline imports from a spec, in real interpreters with a private cache."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from support.repos import FixtureRepo, FixtureSet
from support.servers import Server, serve_git_http_backend

TIMEOUT = 120


@dataclass
class PinWorld:
    """A folder without any gitimport config, a private cache and the toolbox URL."""

    work: Path
    cache: Path
    toolbox: str
    repo: FixtureRepo

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITIMPORT_")}
        env["GITIMPORT_CACHE_DIR"] = str(self.cache)
        return env

    def python(self, code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=cwd or self.work,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def _world(tmp_path: Path, server: Server, fixture_repos: FixtureSet) -> PinWorld:
    work = tmp_path / "work"
    work.mkdir()
    return PinWorld(work, tmp_path / "cache", server.repo_url("toolbox"), fixture_repos["toolbox"])


@pytest.fixture
def world(tmp_path: Path, git_http_backend_server: Server, fixture_repos: FixtureSet) -> PinWorld:
    return _world(tmp_path, git_http_backend_server, fixture_repos)


def test_pin_of_an_exact_commit_imports_the_module_under_its_file_name(world: PinWorld) -> None:
    spec = f"{world.toolbox}@{world.repo.tags['v1']}:tools/helper.py"
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

    info = json.loads(ok(world.python(code)))

    assert info["name"] == "helper" and info["registered"] and info["same"]
    assert info["version"] == "1"
    assert info["file"].startswith(str(world.cache)) and info["file"].endswith("helper.py")


def test_pin_with_a_name_registers_it_for_import(world: PinWorld) -> None:
    spec = f"{world.toolbox}@{world.repo.tags['v2']}:tools/helper.py"
    code = f"""
        from gitimport.pin import pin
        module = pin({spec!r}, name="h2")
        import h2
        print(h2 is module, h2.__name__, h2.VERSION)
    """

    assert ok(world.python(code)) == "True h2 2\n"


def test_pin_of_a_package_keeps_relative_imports_working(world: PinWorld) -> None:
    spec = f"{world.toolbox}@{world.repo.tags['v1']}:src/mylib"
    code = f"""
        from gitimport.pin import pin
        mylib = pin({spec!r})
        import mylib.core
        print(mylib.__name__, mylib.add(2, 2), mylib.core.nesting())
    """

    assert ok(world.python(code)) == "mylib 4 2\n"


def test_pin_refuses_a_commit_that_the_ref_does_not_resolve_to(world: PinWorld) -> None:
    v1, v2 = world.repo.tags["v1"], world.repo.tags["v2"]
    code = f"""
        import sys, warnings
        warnings.simplefilter("ignore")
        from gitimport.pin import pin
        try:
            pin({world.toolbox + "@v1:tools/helper.py"!r}, commit={v2!r})
        except ImportError as exc:
            print("refused:", exc)
        print("helper" in sys.modules)
    """

    out = ok(world.python(code))

    assert out.startswith("refused:")
    assert v1[:12] in out and v2[:12] in out
    assert out.rstrip().endswith("False")


def test_pin_with_a_matching_commit_imports_it(world: PinWorld) -> None:
    v1 = world.repo.tags["v1"]
    code = f"""
        import warnings
        from gitimport.pin import pin
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = pin({world.toolbox + "@v1:tools/helper.py"!r}, commit={v1!r})
        print(module.VERSION, len(caught))
    """

    assert ok(world.python(code)) == "1 0\n"


def test_pin_of_a_moving_ref_warns_once(world: PinWorld) -> None:
    spec = f"{world.toolbox}@main:tools/helper.py"
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

    summary, message = ok(world.python(code)).splitlines()

    assert summary == "True 3 1"
    assert "commit=" in message


def test_moving_ref_warning_points_at_the_pin_call(world: PinWorld, tmp_path: Path) -> None:
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
    result = subprocess.run(
        [sys.executable, str(script), f"{world.toolbox}@main:tools/helper.py"],
        cwd=world.work,
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert ok(result) == f"{script} 5\n"


def test_pin_of_a_relative_path_resolves_against_the_calling_file(world: PinWorld, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(world.repo.path, scripts / "repos" / "toolbox", symlinks=True)
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
    result = subprocess.run([sys.executable, str(script)], cwd=world.work, env=world.env(), capture_output=True, text=True, timeout=TIMEOUT)

    assert ok(result) == "1\n"


@pytest.fixture
def stoppable_world(tmp_path: Path, fixture_repos: FixtureSet) -> Iterator[tuple[PinWorld, Callable[[], None]]]:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_git_http_backend(fixture_repos.root))
        yield _world(tmp_path, server, fixture_repos), stack.close


def test_warm_pin_of_an_exact_commit_needs_no_dulwich_and_no_network(stoppable_world: tuple[PinWorld, Callable[[], None]]) -> None:
    world, stop_server = stoppable_world
    spec = f"{world.toolbox}@{world.repo.tags['v2']}:src/mylib"
    code = f"""
        import sys
        from gitimport.pin import pin
        module = pin({spec!r})
        print(module.VERSION, any(m.split(".")[0] == "dulwich" for m in sys.modules))
    """
    ok(world.python(code))
    stop_server()

    assert ok(world.python(code)) == "2 False\n"
