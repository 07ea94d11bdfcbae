"""The finder's cold path never runs a pinned module in gitimport's own machinery.

A project may pin a module that gitimport itself imports to fetch and lock:
``urllib3`` (HTTP), ``packaging`` (requirements), ``fcntl`` (the cache's
locks, imported when first taken), ``dulwich``, ``platformdirs``.  If the cold path ran in the importing process, the finder
would serve gitimport its user's pinned copy: fetched code would run inside a
sync, and an incompatible version would break every later cold import.  Each
decoy below writes a marker file when it is imported, so a test sees whether
gitimport ran it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.project import Project
from support.servers import Server

DECOY = """\
import os
with open(os.environ["DECOY_MARKER"], "a") as handle:
    handle.write(__name__ + "\\n")
raise ImportError("the user's pinned {name}, not gitimport's")
"""


def decoy_repository(tmp_path: Path, names: list[str]) -> Path:
    """A git repository whose root holds one decoy package per name, plus ``innocent.py``."""
    work = tmp_path / "decoys"
    for name in names:
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text(DECOY.format(name=name))
    (work / "innocent.py").write_text("VALUE = 'innocent'\n")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "decoys"]):
        subprocess.run(["git", "-C", str(work), *command], check=True)
    subprocess.run(["git", "-C", str(work), "tag", "v1"], check=True)
    return work


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "decoys-imported.txt"
    monkeypatch.setenv("DECOY_MARKER", str(path))
    return path


@pytest.mark.parametrize("decoy", ["urllib3", "packaging", "fcntl", "dulwich", "platformdirs"])
def test_a_cold_import_over_http_never_imports_a_pinned_dependency_of_gitimport(
    project: Project, tmp_path: Path, git_http_backend_server: Server, marker: Path, decoy: str
) -> None:
    repo = decoy_repository(tmp_path, [decoy])
    project.configure({decoy: f"{repo}@v1"})
    assert project.cli("sync").code == 0
    project.configure({decoy: f"{repo}@v1", "helper": f"{git_http_backend_server.repo_url('toolbox')}@v1:tools/helper.py"})

    run = project.python("import helper; print(helper.VERSION)")  # helper is not in the lock: the cold path fetches it

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1"
    assert not marker.exists(), marker.read_text()


def test_bytecode_for_another_optimization_level_never_imports_a_pinned_fcntl(project: Project, tmp_path: Path, marker: Path) -> None:
    repo = decoy_repository(tmp_path, ["fcntl"])
    project.configure({"fcntl": f"{repo}@v1", "innocent": f"{repo}@v1"})
    assert project.cli("sync").code == 0

    run = project.python("import innocent; print(innocent.VALUE)", "-OO")  # no -OO bytecode yet: the cold path compiles it

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "innocent"
    assert not marker.exists(), marker.read_text()


def test_a_cold_path_failure_still_reads_as_one_import_error(project: Project, tmp_path: Path, marker: Path) -> None:
    repo = decoy_repository(tmp_path, ["urllib3"])
    project.configure({"urllib3": f"{repo}@v1", "missing": f"{repo}@v1:nowhere"})

    run = project.python("import missing")

    assert run.returncode == 1
    assert "Cannot import 'missing' with gitimport: PATH 'nowhere'" in run.stderr
    assert "Traceback" in run.stderr and run.stderr.count("Error:") <= 2
    assert not marker.exists()


@pytest.mark.parametrize("decoy", ["urllib3", "packaging", "fcntl"])
def test_pin_never_imports_a_pinned_dependency_of_gitimport(
    project: Project, tmp_path: Path, git_http_backend_server: Server, marker: Path, decoy: str
) -> None:
    repo = decoy_repository(tmp_path, [decoy])
    project.configure({decoy: f"{repo}@v1"})
    assert project.cli("sync").code == 0
    spec = f"{git_http_backend_server.repo_url('toolbox')}@v1:tools/helper.py"

    run = project.python(f"from gitimport.pin import pin; print(pin({spec!r}).VERSION)")

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1"
    assert not marker.exists(), marker.read_text()
