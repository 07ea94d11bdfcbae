"""The benchmark suite still runs: ``benchmarks/run.py --smoke`` exits 0 and prints every row.

The smoke run uses tiny repositories and one repetition, so its numbers mean
nothing; what it checks is that no scenario has rotted (a renamed option, a
changed cache layout, a contestant that no longer imports what it should).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import git_http_backend_available

ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = ["1a", "1b", "1c", "1d", "2a", "2b", "2c", "2d", "3a", "3b", "4", "5a", "5b", "6", "7", "8a", "8b", "9", "11a", "11b"]

pytestmark = pytest.mark.skipif(not git_http_backend_available(), reason="the benchmarks need git and git http-backend")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    markdown = tmp_path_factory.mktemp("bench") / "results.md"
    proc = subprocess.run(  # in the environment conftest cleared of GITIMPORT_* variables
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--markdown", str(markdown)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, markdown


def test_smoke_run_exits_0(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = smoke_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"


@pytest.mark.parametrize("key", ROW_KEYS)
def test_smoke_run_prints_every_scenario_row(smoke_run: tuple[subprocess.CompletedProcess[str], Path], key: str) -> None:
    proc, _ = smoke_run
    rows = [line for line in proc.stdout.splitlines() if re.match(rf"{re.escape(key)}\s", line)]
    assert rows, f"no row {key} in:\n{proc.stdout}"
    assert "failed" not in rows[0], rows[0]


def test_smoke_run_prints_the_machine_and_writes_markdown(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, markdown = smoke_run
    for label in ("CPUs:", "Python:", "git:", "dulwich:"):
        assert label in proc.stdout
    text = markdown.read_text()
    assert "| 1a |" in text and "| 8b |" in text and "Machine:" in text


def test_smoke_run_prints_the_scale_curve(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Scenario 10 prints its curve: one line per repository size, in the text output and the markdown."""
    proc, markdown = smoke_run
    assert "Scenario 10 (scale)" in proc.stdout, proc.stdout
    curve = proc.stdout.split("Scenario 10 (scale)", 1)[1].splitlines()
    for files in ("30", "60", "100"):
        assert any(re.match(rf"\s+{files}\s", line) for line in curve), f"no line for {files} files in:\n{proc.stdout}"
    assert "Scenario 10 (scale)" in markdown.read_text()
