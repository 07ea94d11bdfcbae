"""`verify = "import"`: a tampered cache file is detected before it is imported (issue 5, item 2)."""

from __future__ import annotations

import os
from pathlib import Path

from support.project import Project
from support.repos import FixtureSet

from gitimport.store import layout


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


def test_a_pyc_swapped_in_the_cache_is_refused(project: Project, fixture_repos: FixtureSet) -> None:
    synced(project, fixture_repos, settings='verify = "import"')
    root = Path(project.cli("which", "mylib").out.strip())
    (pyc,) = (root / "__pycache__").glob("core.*.pyc")
    os.chmod(pyc, 0o644)
    data = bytearray(pyc.read_bytes())
    data[-8] ^= 0xFF  # inside the marshalled code, past the header
    pyc.write_bytes(bytes(data))

    run = project.python("import mylib")

    assert run.returncode == 1 and "was modified" in run.stderr


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


def test_a_pyc_forged_with_its_record_is_found_by_verify_and_repaired(project: Project, fixture_repos: FixtureSet) -> None:
    """An attacker who can write the cache rewrites a .pyc and its record: verify compiles again and compares."""
    import json
    import py_compile

    synced(project, fixture_repos)
    root = Path(project.cli("which", "mylib").out.strip())
    (pyc,) = (root / "__pycache__").glob("core.*.pyc")
    evil = root.parent / "evil.py"
    evil.write_text("INJECTED = True\nfrom .sub.deep import depth\ndef add(a, b):\n    return a + b\n")
    os.chmod(pyc, 0o644)
    pyc.unlink()
    py_compile.compile(str(evil), cfile=str(pyc), dfile="mylib/core.py", invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    evil.unlink()
    (record,) = [p for p in root.parent.iterdir() if layout.is_bytecode_record(p.name)]
    listed = json.loads(record.read_text())
    import hashlib

    listed[str(pyc.relative_to(root.parent))] = hashlib.sha256(pyc.read_bytes()).hexdigest()
    os.chmod(record, 0o644)
    record.write_text(json.dumps(listed))

    verify = project.cli("verify")
    repaired = project.cli("sync", "--repair")
    run = project.python("import mylib.core; print(hasattr(mylib.core, 'INJECTED'))")

    assert verify.code == 1 and "does not match its source" in verify.out + verify.err
    assert repaired.code == 0 and "repairing mylib" in repaired.err
    assert run.stdout.strip() == "False", run.stderr
    assert project.cli("verify").code == 0
