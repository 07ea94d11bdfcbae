"""Benchmarks: gitimport against what users would do instead, side by side, in one run.

Every scenario runs on repositories this script generates (deterministic,
cached under /tmp/gitimport-bench-repos) and serves on 127.0.0.1 with
``git http-backend``, the same server for every contestant.  Contestants run
interleaved; the table shows medians and the ratio of medians, gitimport /
baseline (lower is better), against the target of each scenario.

    python benchmarks/run.py                      # every scenario, issue sizes
    python benchmarks/run.py --smoke              # tiny sizes, one repetition (the test suite runs this)
    python benchmarks/run.py --only 2,4 --repeat 30
    python benchmarks/run.py --markdown results.md

Scenarios (``--only`` takes numbers or names):
  1 cold        empty cache to files: vs git clone --depth 1 + git archive, vs pip install, and (with the
                first import of the package) vs git clone --filter=blob:none --sparse --depth 1 + sparse-checkout set
  2 warm        warm import of a 100-module package vs a plain folder; verify = "import" vs off
  3 others      100 stdlib imports with the finder installed vs without
  4 noop        no-op sync vs python -c "import tomllib"; no dulwich, no connection
  5 upgrade     one commit later, one file changed: time vs git fetch + archive, cache growth
  6 jobs        16 repositories, sync --jobs 8 vs --jobs 1
  7 memory      peak RSS of scenario 1 vs git's largest process
  8 httpimport  a 50-module package: gitimport vs httpimport, first and second process
  9 run         gitimport run -- python -c pass vs python -c pass
  10 scale      scenario 1 at 3,000 / 30,000 / 100,000 files, same 300-file PATH: a curve of gitimport, git's
                shallow clone and git's partial sparse clone; row 1d = gitimport at 100,000 files / at 3,000
  11 mirror     a new runner's locked sync from a tree mirror (nginx or http.server) vs from git: scenario 1's
                package, and scenario 6's 16 repositories with --jobs 8

Rows are listed by key (1a, 1b, 1c, 1d, 2a, ...), whatever order the scenarios ran in; tables a scenario adds
(scenario 10's curve) follow the rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

import bench_repos  # noqa: E402
import bench_scenarios as bench  # noqa: E402
from support.servers import git_http_backend_available, serve_git_http_backend  # noqa: E402


def parse_only(text: str | None) -> list[str]:
    if not text:
        return list(bench.SCENARIOS)
    by_name = {name: number for number, (name, _) in bench.SCENARIOS.items()}
    chosen = []
    for part in text.replace(" ", "").split(","):
        number = by_name.get(part, part)
        if number not in bench.SCENARIOS:
            raise SystemExit(
                f"run.py: unknown scenario {part!r}; choose from {', '.join(f'{n} {m}' for n, (m, _) in bench.SCENARIOS.items())}"
            )
        chosen.append(number)
    return sorted(set(chosen))


# --------------------------------------------------------------------------
# Machine and output
# --------------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    def output(args: list[str]) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = (
        "import dulwich, dulwich.pack as p; v = dulwich.__version__\n"
        "print(v if isinstance(v, str) else '.'.join(map(str, v)), p.apply_delta.__module__)"
    )
    dulwich = output([sys.executable, "-c", probe]).split()
    rust = "Rust extensions" if dulwich[-1:] == ["dulwich._pack"] else "pure Python"
    return [
        ("CPUs", f"{os.cpu_count()} x {model}"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("git", output(["git", "--version"])),
        ("dulwich", f"{dulwich[0] if dulwich else '?'} ({rust})"),
    ]


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.2f} s"
    return f"{value:.1f} {unit}"


def cells(row: bench.Row) -> list[str]:
    ratio = row.ratio
    target = f"≤{row.target:.2f}x" if row.target is not None else "-"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return [
        row.key,
        row.scenario,
        fmt(row.ours, row.unit),
        fmt(row.baseline, row.unit),
        f"{ratio:.2f}x" if ratio is not None else "n/a",
        target,
        met,
        row.versus,
    ]


HEADERS = ["#", "scenario", "gitimport", "baseline", "ratio", "target", "met", "baseline is"]


def row_order(row: bench.Row) -> tuple[int, str]:
    """1a, 1b, ..., 1d, 2a, ..., 10: by scenario number, then letter."""
    digits = "".join(c for c in row.key if c.isdigit())
    return int(digits or 0), row.key


def aligned(table: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    out = []
    for line in table:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        out.append("  ".join(parts) + "  " + line[-1])
    return out


def text_table(rows: list[bench.Row]) -> str:
    out = aligned([HEADERS] + [cells(r) for r in rows], {2, 3, 4})
    notes = [f"  {r.key}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["notes:", *notes] if notes else []))


def text_extra(table: bench.Table) -> str:
    out = [table.title + ":"] + ["  " + line for line in aligned([table.headers, *table.lines], set(range(1, len(table.headers))))]
    return "\n".join(out + [f"  {note}" for note in table.notes])


def markdown_extra(table: bench.Table) -> list[str]:
    lines = ["", table.title + ":", "", "| " + " | ".join(table.headers) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in table.lines]
    return lines + ([""] + [f"- {note}" for note in table.notes] if table.notes else [])


def markdown(rows: list[bench.Row], info: list[tuple[str, str]], header: str, tables: list[bench.Table]) -> str:
    lines = [header, "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    notes = [f"- {r.key}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    for table in tables:
        lines += markdown_extra(table)
    lines += ["", "Machine:", "", *[f"- {k}: {v}" for k, v in info]]
    return "\n".join(lines) + "\n"


def compile_gitimport() -> str:
    """A real install has .pyc files for gitimport itself: write them once before timing; return its folder."""
    code = "import gitimport, os; print(os.path.dirname(gitimport.__file__))"
    folder = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=bench.clean_env(), cwd=tempfile.gettempdir()
    ).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=True, env=bench.clean_env())
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: checks that every scenario still runs")
    parser.add_argument("--repeat", type=int, metavar="N", help="repetitions of every scenario (default: 5 for syncs, 15 for imports)")
    parser.add_argument("--only", metavar="SCENARIOS", help="comma-separated scenario numbers or names, e.g. 2,noop")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table and the machine as markdown")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    parser.add_argument(
        "--gitimport-src",
        type=Path,
        metavar="DIR",
        help="time the gitimport package found in DIR (e.g. a patched copy) instead of the installed one",
    )
    options = parser.parse_args(argv)
    if options.gitimport_src:
        bench.GITIMPORT_SRC = str(options.gitimport_src.resolve())
    chosen = parse_only(options.only)
    if not git_http_backend_available():
        print("run.py: git and git http-backend are needed to serve the repositories", file=sys.stderr)
        return 1
    sizes = bench.SMOKE if options.smoke else bench.FULL
    cold_repeat = options.repeat or (1 if options.smoke else 5)
    import_repeat = options.repeat or (1 if options.smoke else 15)
    gitimport_folder = compile_gitimport()
    started = time.perf_counter()
    rows: list[bench.Row] = []
    failed = []
    scratch = Path(tempfile.mkdtemp(prefix="gitimport-bench-"))
    try:
        with serve_git_http_backend(bench_repos.CACHE_ROOT if bench_repos.CACHE_ROOT.is_dir() else _make_cache_root()) as server:
            ctx = bench.Context(
                work=scratch,
                server_url=server.url,
                sizes=sizes,
                cold_repeat=cold_repeat,
                import_repeat=import_repeat,
                warmup=0 if options.smoke else 2,
                server_requests=lambda: len(server.requests),
            )
            for number in chosen:
                name, scenario = bench.SCENARIOS[number]
                began = time.perf_counter()
                print(f"scenario {number} ({name}) ...", file=sys.stderr, flush=True)
                try:
                    rows += scenario(ctx)
                except Exception as exc:  # report, go on with the others, exit 1 at the end
                    failed.append(number)
                    traceback.print_exc()
                    rows += [
                        bench.Row(
                            key,
                            f"scenario {number} ({name}) failed",
                            None,
                            None,
                            "s",
                            "-",
                            None,
                            f"{type(exc).__name__}: {exc}".splitlines()[0],
                        )
                        for key in bench.ROW_KEYS[number]
                    ]
                print(f"scenario {number} ({name}) took {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    finally:
        if options.keep:
            print(f"scratch folder kept: {scratch}", file=sys.stderr)
        else:
            bench.rmtree(scratch)
    info = [*machine(), ("gitimport", gitimport_folder)]
    header = (
        f"medians of {cold_repeat} (syncs) and {import_repeat} (imports) interleaved runs; "
        f"ratio = gitimport / baseline, lower is better{'; SMOKE sizes' if options.smoke else ''}"
    )
    rows.sort(key=row_order)
    print(text_table(rows))
    for table in ctx.tables:
        print(text_extra(table))
    print(header)
    if ctx.facts:
        print("repositories: " + "; ".join(f"{k}: {v}" for k, v in ctx.facts.items()))
    for key, value in info:
        print(f"{key}: {value}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if options.markdown:
        extra = [("repositories", "; ".join(f"{k}: {v}" for k, v in ctx.facts.items()))] if ctx.facts else []
        options.markdown.write_text(markdown(rows, info + extra, header, ctx.tables))
    return 1 if failed else 0


def _make_cache_root() -> Path:
    bench_repos.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    return bench_repos.CACHE_ROOT


if __name__ == "__main__":
    sys.exit(main())
