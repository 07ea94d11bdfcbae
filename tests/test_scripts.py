"""PEP 723 scripts: `[tool.gitimport.modules]` in a `# /// script` block, lock beside the script."""

from __future__ import annotations

import sys

from support.project import Project
from support.repos import FixtureSet

from gitimport.project.lock import read_lock

SCRIPT = '''\
# /// script
# requires-python = ">=3.9"
# [tool.gitimport.modules]
# helper = "{url}@v2:tools/helper.py"
# ///
import helper

print("helper", helper.VERSION)
'''


def write_script(project: Project, url: str) -> str:
    path = project.root / "tool.py"
    path.write_text(SCRIPT.format(url=url), encoding="utf-8")
    return str(path)


def test_sync_of_a_script_writes_its_lock_beside_it(project: Project, fixture_repos: FixtureSet) -> None:
    script = write_script(project, str(fixture_repos["toolbox"].path))

    result = project.cli("sync", script)

    assert result.code == 0, result.err
    assert read_lock(project.root / "tool.py.lock").modules["helper"].commit == fixture_repos["toolbox"].tags["v2"]
    assert not project.lock_path.exists()


def test_run_of_a_script_uses_its_block(project: Project, fixture_repos: FixtureSet) -> None:
    script = write_script(project, str(fixture_repos["toolbox"].path))
    project.cli("sync", script)

    run = project.gitimport("run", script)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "helper 2\n"


def test_run_of_a_script_syncs_on_first_import(project: Project, fixture_repos: FixtureSet) -> None:
    script = write_script(project, str(fixture_repos["toolbox"].path))

    run = project.gitimport("run", script)

    assert run.stdout == "helper 2\n", run.stderr
    assert (project.root / "tool.py.lock").exists()


def test_upgrade_option_before_the_script(project: Project, fixture_repos: FixtureSet) -> None:
    script = write_script(project, str(fixture_repos["toolbox"].path))
    project.cli("sync", script)

    result = project.cli("sync", "--upgrade", script)

    assert result.code == 0, result.err


def test_run_of_python_with_a_script_uses_its_block(project: Project, fixture_repos: FixtureSet) -> None:
    script = write_script(project, str(fixture_repos["toolbox"].path))
    project.cli("sync", script)

    run = project.run(sys.executable, script)

    assert run.stdout == "helper 2\n", run.stderr
