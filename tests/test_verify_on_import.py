"""`verify = "import"`: a tampered cache file is detected before it is imported (issue 5, item 2)."""

from __future__ import annotations

import os
from pathlib import Path

from support.project import Project
from support.repos import FixtureSet


def tamper(project: Project, name: str, relative: str) -> Path:
    root = Path(project.cli("which", name).out.strip())
    target = root / relative if root.is_dir() else root
    os.chmod(target, 0o644)
    target.write_text(target.read_text() + "\nTAMPERED = True\n")
    return target


def synced(project: Project, fixture_repos: FixtureSet, settings: str = "") -> None:
    url = fixture_repos["toolbox"].path
    project.configure({"mylib": f"{url}@v1:src", "helper": f"{url}@v1:tools/helper.py"}, settings=settings)
    assert project.cli("sync").code == 0


def test_tampered_file_is_refused_on_import(project: Project, fixture_repos: FixtureSet) -> None:
    synced(project, fixture_repos, settings='verify = "import"')
    target = tamper(project, "mylib", "core.py")

    run = project.python("import mylib")

    assert run.returncode == 1
    assert "Refusing to import 'mylib'" in run.stderr and str(target) in run.stderr and "was modified" in run.stderr
    assert "gitimport sync --repair" in run.stderr


def test_untouched_modules_import_with_verification_on(project: Project, fixture_repos: FixtureSet) -> None:
    synced(project, fixture_repos, settings='verify = "import"')
    tamper(project, "mylib", "core.py")

    run = project.python("import helper; print(helper.VERSION)")

    assert run.stdout.strip() == "1", run.stderr


def test_verification_from_the_environment(project: Project, fixture_repos: FixtureSet) -> None:
    synced(project, fixture_repos)
    tamper(project, "helper", "")

    run = project.python("import helper", GITIMPORT_VERIFY="import")

    assert run.returncode == 1 and "Refusing to import 'helper'" in run.stderr


def test_repair_restores_what_verification_refused(project: Project, fixture_repos: FixtureSet) -> None:
    synced(project, fixture_repos, settings='verify = "import"')
    tamper(project, "mylib", "core.py")

    repaired = project.cli("sync", "--repair")
    run = project.python("import mylib; print(mylib.VERSION, hasattr(mylib.core, 'TAMPERED'))")

    assert repaired.code == 0 and "repairing mylib" in repaired.err
    assert run.stdout.split() == ["1", "False"], run.stderr


def test_bad_verify_setting(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"}, settings='verify = "always"')

    result = project.cli("sync")

    assert result.code == 2 and "'verify' must be one of off, import" in result.err


# .pyc files changed, unrecorded or forged with a record: tests/test_bytecode.py
