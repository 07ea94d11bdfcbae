"""PEP 723 scripts: `[tool.gitimport.modules]` in a `# /// script` block, lock beside the script."""

from __future__ import annotations

import sys

from support.project import Project
from support.repos import FixtureSet

from gitimport.project.lock import read_lock

SCRIPT = """\
# /// script
# requires-python = ">=3.9"
# [tool.gitimport.modules]
# helper = "{url}@v2:tools/helper.py"
# ///
import helper

print("helper", helper.VERSION)
"""


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


INSTALLING_SCRIPT = """\
# /// script
# [tool.gitimport.modules]
# helper = "{url}@v2:tools/helper.py"
# ///
import gitimport

gitimport.install()
import helper

print("helper", helper.VERSION)
"""


def test_install_from_a_script_run_by_plain_python_reads_its_block(project: Project, fixture_repos: FixtureSet) -> None:
    """``python script.py`` with ``gitimport.install()`` inside: the block beside the code is the config, as under ``gitimport run``."""
    script = project.root / "installs.py"
    script.write_text(INSTALLING_SCRIPT.format(url=fixture_repos["toolbox"].path), encoding="utf-8")
    project.cli("sync", str(script))

    cold = project.execute(sys.executable, str(script))
    warm = project.execute(sys.executable, str(script))

    assert (cold.stdout, warm.stdout) == ("helper 2\n", "helper 2\n"), cold.stderr + warm.stderr


def test_install_from_a_script_without_a_block_still_finds_the_project(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    project.cli("sync")
    script = project.root / "plain.py"
    script.write_text("import gitimport\ngitimport.install()\nimport helper\nprint('helper', helper.VERSION)\n", encoding="utf-8")

    run = project.execute(sys.executable, str(script), cwd=project.root)

    assert run.stdout == "helper 1\n", run.stderr


def test_first_run_of_a_script_sees_the_distribution_it_just_fetched(project: Project, fixture_repos: FixtureSet) -> None:
    """metapkg calls importlib.metadata.version() of itself at import: on the cold run its .dist-info is new."""
    script = project.root / "versioned.py"
    script.write_text(
        f'# /// script\n# [tool.gitimport.modules]\n# metapkg = "{fixture_repos["meta"].path}@v2.5.0:src"\n# ///\n'
        "import metapkg\nprint(metapkg.__version__)\n",
        encoding="utf-8",
    )

    cold = project.gitimport("run", str(script))

    assert cold.stdout == "2.5.0\n", cold.stderr
