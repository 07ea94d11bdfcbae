"""Benchmarks: gitimport against what users would do instead, in one run.

Each scenario times gitimport and a baseline on the same repository served by
the same loopback server, and prints medians and the ratio of medians
(gitimport / baseline; lower is better).  Absolute times on a shared machine
mean little; ratios measured side by side do.

    python benchmarks/run.py               # full run
    python benchmarks/run.py --smoke       # tiny sizes, one repetition (the test suite runs this)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.repos import build_fixture_repo  # noqa: E402
from support.servers import git_http_backend_available, serve_git_http_backend  # noqa: E402


@dataclass
class Row:
    scenario: str
    ours: float
    baseline: float
    baseline_name: str

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")


def median_seconds(action: Callable[[], None], repeat: int, setup: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(args: list[str], **kwargs: object) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITIMPORT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def cold_sync(work: Path, url: str, repeat: int) -> Row:
    """Empty cache to verified files, against git clone --depth 1 of the same commit."""
    project = work / "cold"
    project.mkdir()
    (project / "gitimport.toml").write_text(f'[modules]\nmylib = "{url}@v1:src"\n')
    cache = work / "cold-cache"
    env = clean_env(GITIMPORT_CACHE_DIR=str(cache))

    def reset() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        (project / "gitimport.lock").unlink(missing_ok=True)
        shutil.rmtree(work / "clone", ignore_errors=True)

    ours = median_seconds(lambda: run([sys.executable, "-m", "gitimport", "sync", "-q"], cwd=project, env=env), repeat, reset)
    baseline = median_seconds(lambda: run(["git", "clone", "-q", "--depth", "1", "--branch", "v1", url, str(work / "clone")]), repeat, reset)
    return Row("cold sync (fixture repo)", ours, baseline, "git clone --depth 1")


def warm_import(work: Path, url: str, repeat: int) -> Row:
    """A fresh interpreter importing the package: through gitimport vs a plain folder."""
    project = work / "warm"
    project.mkdir()
    (project / "gitimport.toml").write_text(f'[modules]\nmylib = "{url}@v1:src"\n')
    env = clean_env(GITIMPORT_CACHE_DIR=str(work / "warm-cache"))
    run([sys.executable, "-m", "gitimport", "sync", "-q"], cwd=project, env=env)
    which = subprocess.run([sys.executable, "-m", "gitimport", "which", "mylib"], cwd=project, env=env, capture_output=True, text=True, check=True)
    plain = work / "plain"
    shutil.copytree(Path(which.stdout.strip()), plain / "mylib")
    run([sys.executable, "-m", "compileall", "-q", str(plain)])
    code = "import mylib, mylib.sub.deep"
    gitimport_env = dict(env, GITIMPORT_RUN="1", GITIMPORT_CONFIG=str(project / "gitimport.toml"))
    plain_env = clean_env(PYTHONPATH=str(plain))
    ours = median_seconds(lambda: run([sys.executable, "-c", code], cwd=project, env=gitimport_env), repeat)
    baseline = median_seconds(lambda: run([sys.executable, "-c", code], cwd=project, env=plain_env), repeat)
    return Row("warm import, whole process", ours, baseline, "plain sys.path folder")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one repetition, to check the benchmark still runs")
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    repeat = 1 if options.smoke else options.repeat
    if not git_http_backend_available():
        print("git http-backend is not available; the benchmarks need git", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="gitimport-bench-") as scratch:
        work = Path(scratch)
        build_fixture_repo("toolbox", work / "repos" / "toolbox")
        with serve_git_http_backend(work / "repos") as server:
            url = server.repo_url("toolbox")
            rows = [cold_sync(work, url, repeat), warm_import(work, url, repeat)]
    print(f"{'scenario':34} {'gitimport':>11} {'baseline':>11}  {'ratio':>6}  baseline")
    for row in rows:
        print(f"{row.scenario:34} {row.ours * 1000:9.1f}ms {row.baseline * 1000:9.1f}ms  {row.ratio:5.2f}x  {row.baseline_name}")
    print(f"(medians of {repeat} run{'s' if repeat > 1 else ''}; Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
