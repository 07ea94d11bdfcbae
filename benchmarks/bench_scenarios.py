"""The benchmark scenarios: each times gitimport and its baseline side by side.

Every scenario takes a :class:`Context` (scratch folder, the loopback git
server, sizes, repetitions) and returns :class:`Row` objects.  Contestants of
one scenario run interleaved (rotating order every repetition), so drift on a
shared machine hits both alike; a row holds the medians and their ratio,
gitimport / baseline, lower is better.

Child processes get a clean environment: no ``GITIMPORT_*`` variables, no
``PYTHONDONTWRITEBYTECODE`` (a real install has ``.pyc`` files), no user or
system git configuration.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import bench_repos
from bench_repos import BuiltRepo, git_env

PYTHON = sys.executable
TIME_BIN = "/usr/bin/time"
GITIMPORT_SRC: str | None = None
"""``--gitimport-src``: a folder holding another ``gitimport`` package (a patched copy) to time instead."""

# --------------------------------------------------------------------------
# Parameters and results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Every size the scenarios use; ``FULL`` is the issue's, ``SMOKE`` only checks that all runs."""

    mono_files: int
    mono_package: int
    mono_commits: int
    mono_file_bytes: int
    warm_modules: int
    warm_lines: int
    lock_modules: int
    stdlib_modules: int
    multi_repos: int
    multi_files: int
    multi_commits: int
    jobs: int
    http_modules: int
    http_lines: int
    scale_files: tuple[int, ...]
    """Scenario 10: repository sizes, smallest first (commits and file sizes are the monorepo's)."""
    scale_package: int


FULL = Sizes(3000, 300, 1000, 7200, 100, 200, 50, 100, 16, 100, 20, 8, 50, 100, (3000, 30000, 100000), 300)
SMOKE = Sizes(60, 20, 10, 1500, 10, 40, 5, 100, 3, 10, 3, 8, 5, 30, (30, 60, 100), 10)


@dataclass
class Row:
    """One line of the table: medians of gitimport and of a baseline, and a target for the ratio."""

    key: str
    scenario: str
    ours: float | None
    baseline: float | None
    unit: str  # "s" or "MiB"
    versus: str
    target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if ratio is None or self.target is None else ratio <= self.target


@dataclass
class Table:
    """A table a scenario prints besides its rows (scenario 10's curve)."""

    title: str
    headers: list[str]
    lines: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    work: Path
    server_url: str
    sizes: Sizes
    cold_repeat: int
    import_repeat: int
    warmup: int
    server_requests: Callable[[], int]
    facts: dict[str, str] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)

    def url(self, repo: BuiltRepo) -> str:
        return f"{self.server_url}/{repo.name}"


class BenchError(RuntimeError):
    """A contestant failed: the benchmark is broken, not slow."""


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV")
    env = {k: v for k, v in git_env().items() if not k.startswith("GITIMPORT_") and k not in drop}
    env.update(extra)
    if GITIMPORT_SRC:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (GITIMPORT_SRC, env.get("PYTHONPATH")) if p)
    return env


def gitimport_command() -> list[str]:
    """The ``gitimport`` console script beside this interpreter (what users run), else ``-m``."""
    script = Path(PYTHON).parent / "gitimport"
    return [str(script)] if script.is_file() else [PYTHON, "-m", "gitimport"]


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a process to completion; return (wall seconds, stdout).  Raises BenchError on failure."""
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env if env is not None else clean_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise BenchError(f"{' '.join(str(a) for a in args)} exited {proc.returncode}:\n{tail}")
    return elapsed, proc.stdout


def pipe(first: list[str], second: list[str], env: dict[str, str]) -> float:
    """``first | second``; return wall seconds."""
    start = time.perf_counter()
    producer = subprocess.Popen(first, stdout=subprocess.PIPE, env=env)
    consumer = subprocess.Popen(second, stdin=producer.stdout, env=env)
    assert producer.stdout is not None
    producer.stdout.close()
    codes = (consumer.wait(), producer.wait())
    elapsed = time.perf_counter() - start
    if any(codes):
        raise BenchError(f"{' '.join(first)} | {' '.join(second)} exited {codes}")
    return elapsed


def git_archive(git_dir: Path, commit: str, path: str, dest: Path) -> float:
    dest.mkdir(parents=True, exist_ok=True)
    return pipe(["git", f"--git-dir={git_dir}", "archive", commit, path], ["tar", "-x", "-C", str(dest)], git_env())


_RSS_WRAPPER = """import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mib(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Peak resident set of ``args`` and the children it waited for, in MiB.

    ``/usr/bin/time -f %M`` where present, else ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process.
    """
    env = env if env is not None else clean_env()
    if os.path.exists(TIME_BIN):
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
            run([TIME_BIN, "-f", "%M", "-o", out.name, *args], cwd=cwd, env=env)
            return int(out.read().split()[-1]) / 1024
    _, stdout = run([PYTHON, "-c", _RSS_WRAPPER, *args], cwd=cwd, env=env)
    return int(stdout.split()[-1]) / 1024


def interleave(contestants: dict[str, Callable[[], dict[str, float]]], repeat: int, warmup: int = 0) -> dict[str, dict[str, float]]:
    """Run each contestant ``repeat`` times in rotating order; return the median of each metric."""
    names = list(contestants)
    for _ in range(warmup):
        for name in names:
            contestants[name]()
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for number in range(repeat):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            for metric, value in contestants[name]().items():
                samples[name].setdefault(metric, []).append(value)
    return {name: {metric: statistics.median(values) for metric, values in metrics.items()} for name, metrics in samples.items()}


def timed_child(statement: str, check: str, env: dict[str, str], cwd: Path, expected: str, what: str) -> dict[str, float]:
    """A fresh interpreter that times ``statement`` itself; returns process and statement seconds.

    ``check`` is an expression printed after the statement; its text must contain
    ``expected``, so a contestant that imported the wrong thing fails loudly.
    """
    code = f"import time\n_start = time.perf_counter()\n{statement}\n_elapsed = time.perf_counter() - _start\n"
    code += f"print(_elapsed)\nprint({check})\n"
    wall, stdout = run([PYTHON, "-c", code], cwd=cwd, env=env)
    lines = stdout.strip().splitlines()
    if len(lines) < 2 or expected not in lines[1]:
        raise BenchError(f"{what}: expected {expected!r} in {lines[1:]!r}")
    return {"process": wall, "statement": float(lines[0])}


# --------------------------------------------------------------------------
# Files and folders
# --------------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def tree_size(*folders: Path) -> int:
    """Bytes in the files below ``folders`` (apparent sizes, like ``du -b``; a hard-linked file counts once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for folder in folders:
        for base, _dirs, files in os.walk(folder):
            for name in files:
                info = os.lstat(os.path.join(base, name))
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
    return total


def rmtree(path: Path) -> None:
    """Remove a folder that may hold read-only files (the cache's)."""
    if not path.exists():
        return

    def writable(func: Callable[[str], object], target: str, *_: object) -> None:
        os.chmod(os.path.dirname(target), 0o755)
        func(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=writable)
    else:
        shutil.rmtree(path, onerror=writable)


@dataclass
class Project:
    """A folder with a gitimport.toml whose cache is its own ``cache/``."""

    folder: Path
    modules: dict[str, str]
    extra: str = ""
    cache: Path = Path()

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.cache == Path():
            self.cache = self.folder / "cache"
        self.write()

    @property
    def config(self) -> Path:
        return self.folder / "gitimport.toml"

    def write(self) -> None:
        lines = [f'cache-dir = "{self.cache}"', self.extra, "", "[modules]"]
        lines += [f'{name} = "{spec}"' for name, spec in self.modules.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def reset(self) -> None:
        """Empty cache, no lock, no runtime snapshot: a first sync on this machine."""
        rmtree(self.cache)
        (self.folder / "gitimport.lock").unlink(missing_ok=True)
        rmtree(self.folder / "__pycache__")

    def sync(self, *flags: str) -> float:
        return run([*gitimport_command(), "sync", "-q", *flags], cwd=self.folder, env=clean_env())[0]

    def run_env(self) -> dict[str, str]:
        """What ``gitimport run`` sets for its children."""
        return clean_env(GITIMPORT_RUN="1", GITIMPORT_CONFIG=str(self.config))

    def cache_size(self) -> int:
        """Bytes of repositories and materialized trees (and of any other object store a later layout adds)."""
        skip = {"tmp-v1", "locks-v1", "dists-v1"}
        return tree_size(*(p for p in self.cache.iterdir() if p.is_dir() and p.name not in skip))

    def bare_repo(self) -> Path:
        repos = sorted((self.cache / "repos-v1").iterdir())
        if len(repos) != 1:
            raise BenchError(f"expected one repository in {self.cache / 'repos-v1'}, found {len(repos)}")
        return repos[0]


def count_objects(git_dir: Path) -> int:
    """Loose plus packed objects of a repository (``git count-objects -v``)."""
    _, out = run(["git", f"--git-dir={git_dir}", "count-objects", "-v"], env=git_env())
    values = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return int(values["count"]) + int(values["in-pack"])


# --------------------------------------------------------------------------
# Scenario 1 and 7: cold sync of a subpackage, and its memory
# --------------------------------------------------------------------------

PIP_TEMPLATE_PACKAGES = ("setuptools>=61", "wheel")


def pip_template() -> tuple[Path | None, str]:
    """A venv holding pip, setuptools and wheel (cached like the repositories); (None, why) if it cannot be made."""
    tag = f"{sys.implementation.cache_tag}-{hashlib.sha256(os.path.realpath(PYTHON).encode()).hexdigest()[:10]}"
    template = bench_repos.CACHE_ROOT / f"venv-{tag}"
    marker = template / "bench-ready"
    if marker.is_file():
        return template, marker.read_text().strip()
    staging = Path(tempfile.mkdtemp(prefix=".venv-", dir=bench_repos.CACHE_ROOT))
    try:
        venv = staging / "venv"
        run([PYTHON, "-m", "venv", str(venv)])
        vpython = str(venv / "bin" / "python")
        run([vpython, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_TEMPLATE_PACKAGES])
        _, versions = run(
            [
                vpython,
                "-c",
                "import importlib.metadata as m; print(*(p + ' ' + m.version(p) for p in ('pip', 'setuptools', 'wheel')), sep=', ')",
            ]
        )
        (venv / "bench-ready").write_text(versions.strip() + "\n")
        rmtree(template)
        os.rename(venv, template)
    except (BenchError, OSError) as exc:
        return None, f"no pip template venv: {str(exc).splitlines()[0]}"
    finally:
        rmtree(staging)
    return template, marker.read_text().strip()


def _monorepo(ctx: Context) -> BuiltRepo:
    s = ctx.sizes
    return bench_repos.monorepo(s.mono_files, s.mono_package, s.mono_commits, s.mono_file_bytes)


PACKAGE_PATH = "libs/target/src/bigpkg"
SHALLOW = "git clone --depth 1 --bare + git archive | tar -x"
SPARSE = "git clone --filter=blob:none --sparse --depth 1 + git sparse-checkout set PATH"


def first_import(modules: list[str], env: dict[str, str], cwd: Path, where: Path, what: str) -> float:
    """Wall seconds of a fresh interpreter importing every module of ``modules`` (the package first), which must come from ``where``."""
    package = modules[0]
    statement = f"import importlib, sys\nfor _name in {modules!r}:\n    importlib.import_module(_name)"
    check = f"len([m for m in sys.modules if m == {package!r} or m.startswith({package + '.'!r})]), sys.modules[{package!r}].__file__"
    return timed_child(statement, check, env, cwd, f"{len(modules)} {where}", what)["process"]


def gitimport_cold(project: Project, modules: list[str], cwd: Path) -> Callable[[], dict[str, float]]:
    """Empty cache, ``gitimport sync``; then the first import of every module, in a fresh process."""

    def go() -> dict[str, float]:
        project.reset()
        elapsed = project.sync()
        trees = project.cache / "trees-v2"
        if not any(trees.glob(f"*-{modules[0]}/{modules[0]}/__init__.py")):
            raise BenchError(f"gitimport sync did not materialize {modules[0]}")
        imported = first_import(modules, project.run_env(), cwd, trees, f"gitimport's first import of {modules[0]}")
        return {"time": elapsed, "import": imported, "total": elapsed + imported}

    return go


def git_shallow(url: str, commit: str, scratch: Path) -> Callable[[], dict[str, float]]:
    """``git clone --depth 1 --bare`` of v1, then ``git archive`` of PACKAGE_PATH into a folder."""

    def go() -> dict[str, float]:
        rmtree(scratch)
        scratch.mkdir(parents=True)
        clone = run(["git", "clone", "-q", "--depth", "1", "--bare", "--branch", "v1", url, str(scratch / "clone.git")], env=git_env())[0]
        extract = git_archive(scratch / "clone.git", commit, PACKAGE_PATH, scratch / "out")
        if not (scratch / "out" / PACKAGE_PATH / "__init__.py").is_file():
            raise BenchError("git archive wrote no bigpkg")
        return {"time": clone + extract}

    return go


def git_sparse(url: str, scratch: Path, modules: list[str], cwd: Path, files: int, objects: list[int]) -> Callable[[], dict[str, float]]:
    """git's partial, sparse, shallow clone of v1 narrowed to PACKAGE_PATH; then the first import from the checkout.

    The clone must have been filtered: it may hold far fewer objects than the
    commit has files (``objects`` collects the count of every run).
    """

    def go() -> dict[str, float]:
        rmtree(scratch)
        scratch.mkdir(parents=True)
        checkout = scratch / "checkout"
        args = ["git", "clone", "-q", "--filter=blob:none", "--sparse", "--depth", "1", "--branch", "v1", url, str(checkout)]
        clone = run(args, env=git_env())[0]
        narrow = run(["git", "-C", str(checkout), "sparse-checkout", "set", PACKAGE_PATH], env=git_env())[0]
        if not (checkout / PACKAGE_PATH / "__init__.py").is_file():
            raise BenchError("git sparse-checkout set wrote no bigpkg")
        count = count_objects(checkout / ".git")
        if count >= files:
            raise BenchError(f"the partial clone holds {count} objects for {files} files: the server did not filter")
        objects.append(count)
        src = checkout / PACKAGE_PATH.rsplit("/", 1)[0]
        imported = first_import(modules, clean_env(PYTHONPATH=str(src)), cwd, src, "first import from the sparse checkout")
        return {"time": clone + narrow, "import": imported, "total": clone + narrow + imported}

    return go


def scenario_cold(ctx: Context) -> list[Row]:
    repo = _monorepo(ctx)
    url, commit = ctx.url(repo), repo.tags["v1"]
    project = Project(ctx.work / "s1", {"bigpkg": f"{url}@v1:{PACKAGE_PATH}"})
    template, pip_versions = pip_template()
    modules = bench_repos.package_modules("bigpkg", int(repo.facts["package_files"]))
    sparse_objects: list[int] = []
    ours = gitimport_cold(project, modules, ctx.work)
    git = git_shallow(url, commit, ctx.work / "s1-git")
    sparse = git_sparse(url, ctx.work / "s1-sparse", modules, ctx.work, int(repo.facts["files"]), sparse_objects)

    contestants = {"gitimport": ours, "git": git, "sparse": sparse}
    venv = ctx.work / "s1-venv"
    if template is not None:

        def pip() -> dict[str, float]:
            rmtree(venv)
            shutil.copytree(template, venv, symlinks=True)
            args = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
            args += ["--no-index", "--no-cache-dir", "--disable-pip-version-check", f"git+{url}@v1#subdirectory=libs/target"]
            elapsed = run(args, cwd=ctx.work, env=clean_env())[0]
            if not list(venv.glob("lib/python*/site-packages/bigpkg/__init__.py")):
                raise BenchError("pip did not install bigpkg")
            return {"time": elapsed}

        contestants["pip"] = pip
    results = interleave(contestants, ctx.cold_repeat)
    rmtree(venv)
    size = f"{repo.facts['package_files']}-file package in a {repo.facts['files']}-file, {repo.facts['commits']}-commit repo"
    ctx.facts["monorepo"] = (
        f"{repo.facts['files']} files, {int(repo.facts['bytes']) / 2**20:.1f} MiB of files at v1, "
        f"pack {tree_size(repo.path / 'objects') / 2**20:.1f} MiB, {repo.facts['commits']} commits; "
        f"bigpkg: {repo.facts['package_files']} files, {int(repo.facts['package_bytes']) / 2**20:.1f} MiB"
    )
    rows = [
        Row(
            "1a",
            f"cold sync: {size}",
            results["gitimport"]["time"],
            results["git"]["time"],
            "s",
            SHALLOW,
            0.75,
        ),
    ]
    pip_name = "pip install --no-deps --no-build-isolation git+http…#subdirectory= into a fresh venv"
    if "pip" in results:
        rows.append(
            Row(
                "1b",
                "cold sync vs pip install",
                results["gitimport"]["time"],
                results["pip"]["time"],
                "s",
                pip_name,
                0.15,
                f"setuptools backend, build isolation off; {pip_versions}",
            )
        )
    else:
        rows.append(Row("1b", "cold sync vs pip install", results["gitimport"]["time"], None, "s", pip_name, 0.15, pip_versions))
    ours_r, sparse_r = results["gitimport"], results["sparse"]
    rows.append(
        Row(
            "1c",
            f"cold sync + first import of all {len(modules)} modules",
            ours_r["total"],
            sparse_r["total"],
            "s",
            f"{SPARSE} + the same first import (writes .pyc); same git http-backend, uploadpack.allowFilter on",
            1.0,
            f"sync alone {fmt_ms(ours_r['time'])} vs clone + sparse-checkout {fmt_ms(sparse_r['time'])} "
            f"({ours_r['time'] / sparse_r['time']:.2f}x); first import {fmt_ms(ours_r['import'])} vs {fmt_ms(sparse_r['import'])}; "
            f"objects in the partial clone: {int(statistics.median(sparse_objects))}",
        )
    )
    return rows


def scenario_memory(ctx: Context) -> list[Row]:
    repo = _monorepo(ctx)
    url, commit = ctx.url(repo), repo.tags["v1"]
    project = Project(ctx.work / "s7", {"bigpkg": f"{url}@v1:{PACKAGE_PATH}"})
    scratch = ctx.work / "s7-git"

    def ours() -> dict[str, float]:
        project.reset()
        return {"rss": peak_rss_mib([*gitimport_command(), "sync", "-q"], cwd=project.folder)}

    def git() -> dict[str, float]:
        rmtree(scratch)
        scratch.mkdir()
        clone = peak_rss_mib(
            ["git", "clone", "-q", "--depth", "1", "--bare", "--branch", "v1", url, str(scratch / "clone.git")], env=git_env()
        )
        archive = peak_rss_mib(
            ["git", f"--git-dir={scratch / 'clone.git'}", "archive", "-o", str(scratch / "out.tar"), commit, PACKAGE_PATH], env=git_env()
        )
        (scratch / "out").mkdir()
        untar = peak_rss_mib(["tar", "-x", "-C", str(scratch / "out"), "-f", str(scratch / "out.tar")])
        return {"rss": max(clone, archive, untar)}

    results = interleave({"gitimport": ours, "git": git}, min(ctx.cold_repeat, 3))
    how = "/usr/bin/time -f %M" if os.path.exists(TIME_BIN) else "getrusage(RUSAGE_CHILDREN)"
    return [
        Row(
            "7",
            "peak RSS of the cold sync (scenario 1)",
            results["gitimport"]["rss"],
            results["git"]["rss"],
            "MiB",
            "largest git process: clone --depth 1 / archive / tar",
            2.0,
            f"measured with {how}",
        )
    ]


# --------------------------------------------------------------------------
# Scenario 10: cost that grows with PATH, not with the repository
# --------------------------------------------------------------------------


def settled(contestant: Callable[[], dict[str, float]]) -> Callable[[], dict[str, float]]:
    """``contestant``, then ``os.sync()`` (not timed).

    A shallow clone of the largest repository leaves a few hundred MiB of dirty
    pages; written back during the next contestant, they would be charged to
    it (gitimport's fsyncs wait for them).
    """

    def go() -> dict[str, float]:
        result = contestant()
        os.sync()
        return result

    return go


def scenario_scale(ctx: Context) -> list[Row]:
    """Scenario 1 at several repository sizes, PATH fixed: gitimport, git's shallow clone and git's sparse clone, as a curve.

    Every contestant at every size runs in one interleaved rotation, so drift
    on a shared machine spreads over all of them, and the growth of one
    contestant from the smallest repository to the largest (row 1d) compares
    times taken in the same minutes.
    """
    s = ctx.sizes
    repos = [bench_repos.monorepo(n, s.scale_package, s.mono_commits, s.mono_file_bytes) for n in s.scale_files]
    modules = bench_repos.package_modules("bigpkg", s.scale_package)
    contestants: dict[str, Callable[[], dict[str, float]]] = {}
    sparse_objects: dict[int, list[int]] = {}
    scratch: list[Path] = []
    sizes = [int(repo.facts["files"]) for repo in repos]
    for files, repo in zip(sizes, repos):
        url = ctx.url(repo)
        project = Project(ctx.work / f"s10-{files}", {"bigpkg": f"{url}@v1:{PACKAGE_PATH}"})
        sparse_objects[files] = []
        scratch += [project.folder, ctx.work / f"s10-git-{files}", ctx.work / f"s10-sparse-{files}"]
        contestants[f"gitimport {files}"] = gitimport_cold(project, modules, ctx.work)
        contestants[f"shallow {files}"] = git_shallow(url, repo.tags["v1"], scratch[-2])
        contestants[f"sparse {files}"] = git_sparse(url, scratch[-1], modules, ctx.work, files, sparse_objects[files])
    try:
        results = interleave({name: settled(go) for name, go in contestants.items()}, ctx.cold_repeat)
    finally:
        for folder in scratch:
            rmtree(folder)
    packs = {files: tree_size(repo.path / "objects") / 2**20 for files, repo in zip(sizes, repos)}
    ctx.facts["scale"] = ", ".join(f"{files} files (pack {packs[files]:.1f} MiB)" for files in sizes) + (
        f"; {repos[0].facts['commits']} commits each; PATH {s.scale_package} files"
    )
    small, large = sizes[0], sizes[-1]
    lines = []
    for files in sizes:
        ours, shallow, sparse = results[f"gitimport {files}"], results[f"shallow {files}"], results[f"sparse {files}"]
        lines.append(
            [
                f"{files:,}",
                f"{packs[files]:.1f} MiB",
                fmt_ms(ours["time"]),
                fmt_ms(ours["import"]),
                fmt_ms(shallow["time"]),
                fmt_ms(sparse["time"]),
                fmt_ms(sparse["import"]),
                f"{ours['time'] / shallow['time']:.2f}x",
                f"{ours['time'] / sparse['time']:.2f}x",
                f"{ours['total'] / sparse['total']:.2f}x",
                f"{ours['time'] / results[f'gitimport {small}']['time']:.2f}x",
                str(int(statistics.median(sparse_objects[files]))),
            ]
        )
    ctx.tables.append(
        Table(
            f"Scenario 10 (scale): cold sync of the same {s.scale_package}-file PATH in repositories of growing size; "
            f"medians of {ctx.cold_repeat}, all sizes interleaved",
            [
                "files",
                "pack",
                "gitimport sync",
                "gitimport import",
                "git shallow",
                "git sparse",
                "sparse import",
                "sync / shallow",
                "sync / sparse",
                "sync+import / sparse+import",
                "gitimport vs smallest",
                "sparse clone objects",
            ],
            lines,
            [
                f"git shallow: {SHALLOW}",
                f"git sparse: {SPARSE}",
                f"import: a fresh interpreter importing all {len(modules)} modules of the package "
                "(gitimport from its cache compiling and writing each .pyc on this first import; git from the checkout, the same)",
            ],
        )
    )

    def growth(kind: str) -> float:
        return results[f"{kind} {large}"]["time"] / results[f"{kind} {small}"]["time"]

    return [
        Row(
            "1d",
            f"cold sync, {large}-file repo vs {small}-file repo (same {s.scale_package}-file PATH)",
            results[f"gitimport {large}"]["time"],
            results[f"gitimport {small}"]["time"],
            "s",
            f"gitimport's cold sync of the {small}-file repository",
            1.3,
            f"the same growth for git: shallow clone + archive {growth('shallow'):.2f}x, "
            f"partial sparse clone {growth('sparse'):.2f}x (scenario 10's curve)",
        )
    ]


# --------------------------------------------------------------------------
# Scenario 2: warm import, and import-time verification
# --------------------------------------------------------------------------


def scenario_warm(ctx: Context) -> list[Row]:
    s = ctx.sizes
    repo = bench_repos.package_repo("warm", "pkg100", s.warm_modules, s.warm_lines)
    spec = {"pkg100": f"{ctx.url(repo)}@v1:src/pkg100"}
    project = Project(ctx.work / "s2", spec)
    checked = Project(ctx.work / "s2-verify", spec, extra='verify = "import"', cache=project.cache)
    project.reset()
    project.sync()
    checked.sync()
    plain = ctx.work / "s2-plain"
    rmtree(plain)
    bench_repos.export_tree(repo, repo.tags["v1"], "src/pkg100", plain)
    run([PYTHON, "-m", "compileall", "-q", str(plain / "src")])
    plain_env = clean_env(PYTHONPATH=str(plain / "src"))
    count = "len([m for m in sys.modules if m.startswith('pkg100.')]), pkg100.__file__"
    statement = "import sys\nimport pkg100"

    def child(env: dict[str, str], cwd: Path, where: Path) -> Callable[[], dict[str, float]]:
        def go() -> dict[str, float]:
            return timed_child(statement, count, env, cwd, f"{s.warm_modules} {where}", f"import pkg100 from {where}")

        return go

    cache_trees = project.cache / "trees-v2"
    results = interleave(
        {
            "gitimport": child(project.run_env(), ctx.work, cache_trees),
            "plain": child(plain_env, ctx.work, plain),
            "verify": child(checked.run_env(), ctx.work, cache_trees),
        },
        ctx.import_repeat,
        ctx.warmup,
    )
    lines = repo.facts["lines"]
    what = f"{s.warm_modules}-module package ({lines} lines)"
    ours, base, verify = results["gitimport"], results["plain"], results["verify"]
    return [
        Row(
            "2a",
            f"warm import of a {what}: whole process",
            ours["process"],
            base["process"],
            "s",
            "same tree in a folder on sys.path, with .pyc",
            0.97,
        ),
        Row(
            "2b",
            "warm import: the import statement",
            ours["statement"],
            base["statement"],
            "s",
            "same tree in a folder on sys.path, with .pyc",
            0.90,
            "time.perf_counter() inside the child",
        ),
        Row("2c", 'verify = "import": the import statement', verify["statement"], ours["statement"], "s", "gitimport with verify off"),
        Row("2d", 'verify = "import": whole process', verify["process"], ours["process"], "s", "gitimport with verify off"),
    ]


# --------------------------------------------------------------------------
# Scenario 3 and 4: everyone else's imports; the no-op sync
# --------------------------------------------------------------------------

STDLIB_CANDIDATES = [
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bdb",
    "bisect",
    "bz2",
    "calendar",
    "cmath",
    "cmd",
    "code",
    "codeop",
    "colorsys",
    "compileall",
    "concurrent.futures",
    "configparser",
    "contextvars",
    "copy",
    "cProfile",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "doctest",
    "email.mime.text",
    "email.parser",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "http.cookies",
    "http.server",
    "imaplib",
    "inspect",
    "ipaddress",
    "json",
    "keyword",
    "linecache",
    "locale",
    "logging",
    "logging.handlers",
    "lzma",
    "mailbox",
    "mimetypes",
    "modulefinder",
    "multiprocessing",
    "netrc",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "pprint",
    "profile",
    "pstats",
    "py_compile",
    "pyclbr",
    "queue",
    "quopri",
    "random",
    "reprlib",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "symtable",
    "tabnanny",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "typing",
    "unittest",
    "unittest.mock",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "wave",
    "weakref",
    "webbrowser",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "xml.sax",
    "xmlrpc.client",
    "zipapp",
    "zipfile",
    "zipimport",
    "zoneinfo",
]


def _lock_project(ctx: Context) -> tuple[Project, BuiltRepo]:
    repo = bench_repos.modules_repo(ctx.sizes.lock_modules, 40)
    url = ctx.url(repo)
    modules = {f"mod{n:02d}": f"{url}@v1:mods/mod{n:02d}.py" for n in range(ctx.sizes.lock_modules)}
    project = Project(ctx.work / "s3", modules)
    if not (project.folder / "gitimport.lock").is_file():
        project.reset()
        project.sync()
    return project, repo


def stdlib_modules(project: Project, count: int) -> list[str]:
    """``count`` standard-library modules importable here and loaded at start-up by neither contestant."""
    probe = "import sys\nprint(' '.join(sorted(sys.modules)))"
    loaded: set[str] = set()
    for env in (project.run_env(), clean_env()):
        loaded.update(run([PYTHON, "-c", probe], cwd=project.folder, env=env)[1].split())
    candidates = [m for m in STDLIB_CANDIDATES if m not in loaded]
    check = """import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        continue
    print(name)
"""
    importable = run([PYTHON, "-c", check, *candidates], cwd=project.folder)[1].split()
    return importable[:count]


def scenario_others(ctx: Context) -> list[Row]:
    project, _repo = _lock_project(ctx)
    modules = stdlib_modules(project, ctx.sizes.stdlib_modules)
    statement = "import sys\nimport " + ", ".join(modules)
    check = "sum(1 for f in sys.meta_path if type(f).__name__ == 'GitImportFinder')"
    cwd = ctx.work

    def with_finder() -> dict[str, float]:
        return timed_child(statement, check, project.run_env(), cwd, "1", "finder installed")

    def without() -> dict[str, float]:
        return timed_child(statement, check, clean_env(), cwd, "0", "finder not installed")

    results = interleave({"gitimport": with_finder, "plain": without}, ctx.import_repeat, ctx.warmup)
    ours, base = results["gitimport"], results["plain"]
    what = f"{len(modules)} stdlib modules, finder with a lock of {ctx.sizes.lock_modules} modules"
    return [
        Row("3a", f"{what}: the imports", ours["statement"], base["statement"], "s", "same imports without the finder", 1.01),
        Row(
            "3b", "same, whole process (finder start-up included)", ours["process"], base["process"], "s", "same process without the finder"
        ),
    ]


def scenario_noop(ctx: Context) -> list[Row]:
    project, _repo = _lock_project(ctx)
    baseline_module = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    before = ctx.server_requests()

    def ours() -> dict[str, float]:
        return {"time": project.sync()}

    def tomllib() -> dict[str, float]:
        return {"time": run([PYTHON, "-c", f"import {baseline_module}"], cwd=project.folder)[0]}

    results = interleave({"gitimport": ours, "python": tomllib}, ctx.import_repeat, ctx.warmup)
    requests = ctx.server_requests() - before
    probe = "import sys\nfrom gitimport.cli.main import main\ncode = main(['sync', '-q'])\nprint(code, 'dulwich' in sys.modules)"
    _, out = run([PYTHON, "-c", probe], cwd=project.folder)
    code, dulwich = out.split()
    note = f"dulwich imported: {'yes' if dulwich == 'True' else 'no'}; requests to the server: {requests}"
    ok = code == "0" and dulwich == "False" and requests == 0
    return [
        Row(
            "4",
            f"no-op sync ({ctx.sizes.lock_modules} modules locked and cached)",
            results["gitimport"]["time"],
            results["python"]["time"],
            "s",
            f'python -c "import {baseline_module}"',
            2.0,
            note + ("" if ok else " (REQUIREMENT NOT MET)"),
        )
    ]


# --------------------------------------------------------------------------
# Scenario 9: what `gitimport run` adds to every command
# --------------------------------------------------------------------------


def scenario_run(ctx: Context) -> list[Row]:
    """``gitimport run -- python -c pass`` against ``python -c pass``: two interpreter start-ups are the floor (2.0x)."""
    project, _repo = _lock_project(ctx)
    run([*gitimport_command(), "run", "--", "true"], cwd=project.folder)  # the launchers are written once, by the first run

    def ours() -> dict[str, float]:
        return {"time": run([*gitimport_command(), "run", "--", PYTHON, "-c", "pass"], cwd=project.folder)[0]}

    def python() -> dict[str, float]:
        return {"time": run([PYTHON, "-c", "pass"], cwd=project.folder)[0]}

    results = interleave({"gitimport": ours, "python": python}, ctx.import_repeat, ctx.warmup)
    return [
        Row(
            "9",
            f"gitimport run -- python -c pass ({ctx.sizes.lock_modules} modules locked)",
            results["gitimport"]["time"],
            results["python"]["time"],
            "s",
            'python -c "pass"',
            2.3,
            _wrapper_note(),
        )
    ]


def _wrapper_note() -> str:
    """Whether the console script imports ``re`` before gitimport runs (pip 23 and 24's wrapper does; 25 and later do not)."""
    command = gitimport_command()
    if len(command) > 1:
        return "gitimport run through python -m gitimport (no console script beside this interpreter)"
    text = Path(command[0]).read_text(encoding="utf-8", errors="replace")
    imports_re = any(line.strip() == "import re" for line in text.splitlines())
    return f"console script {command[0]}: {'imports re first (pip before 25 wrote it)' if imports_re else 'no import re'}"


# --------------------------------------------------------------------------
# Scenario 5: a small upgrade
# --------------------------------------------------------------------------


def scenario_upgrade(ctx: Context) -> list[Row]:
    repo = _monorepo(ctx)
    url, v1, v2 = ctx.url(repo), repo.tags["v1"], repo.tags["v2"]
    project = Project(ctx.work / "s5", {"bigpkg": f"{url}@v1:{PACKAGE_PATH}"})
    scratch = ctx.work / "s5-git"
    _, out = run(["git", "rev-list", "--objects", v2, f"^{v1}"], cwd=repo.path, env=git_env())
    new_objects = len(out.splitlines())
    seen: dict[str, list[float]] = {"growth": [], "first": [], "fetched": [], "git_fetched": []}

    def ours() -> dict[str, float]:
        project.modules["bigpkg"] = f"{url}@v1:{PACKAGE_PATH}"
        project.write()
        project.reset()
        project.sync()
        first, objects = project.cache_size(), count_objects(project.bare_repo())
        project.modules["bigpkg"] = f"{url}@v2:{PACKAGE_PATH}"
        project.write()
        elapsed = project.sync()
        seen["growth"].append(project.cache_size() - first)
        seen["first"].append(first)
        seen["fetched"].append(count_objects(project.bare_repo()) - objects)
        return {"time": elapsed}

    def git() -> dict[str, float]:
        rmtree(scratch)
        scratch.mkdir()
        clone = scratch / "clone.git"
        run(["git", "clone", "-q", "--depth", "1", "--bare", "--branch", "v1", url, str(clone)], env=git_env())
        git_archive(clone, v1, PACKAGE_PATH, scratch / "v1")
        objects = count_objects(clone)
        fetch = run(["git", f"--git-dir={clone}", "fetch", "-q", "--depth", "1", "origin", "refs/tags/v2:refs/tags/v2"], env=git_env())[0]
        extract = git_archive(clone, v2, PACKAGE_PATH, scratch / "v2")
        seen["git_fetched"].append(count_objects(clone) - objects)
        return {"time": fetch + extract}

    results = interleave({"gitimport": ours, "git": git}, ctx.cold_repeat)
    growth, first = statistics.median(seen["growth"]), statistics.median(seen["first"])
    fetched, git_fetched = int(statistics.median(seen["fetched"])), int(statistics.median(seen["git_fetched"]))
    return [
        Row(
            "5a",
            "small upgrade (v1 -> v2, one file changed)",
            results["gitimport"]["time"],
            results["git"]["time"],
            "s",
            "git fetch --depth 1 + git archive | tar -x",
            1.0,
            f"objects fetched: gitimport {fetched}, git {git_fetched}, new in v2: {new_objects}",
        ),
        Row(
            "5b",
            "small upgrade: cache growth (trees + repos)",
            growth / 2**20,
            first / 2**20,
            "MiB",
            "size after the first sync",
            0.05,
        ),
    ]


# --------------------------------------------------------------------------
# Scenario 6: many repositories
# --------------------------------------------------------------------------


JOBS_CURVE = (1, 2, 4, 8)


def scenario_jobs(ctx: Context) -> list[Row]:
    s = ctx.sizes
    repos = [bench_repos.small_repo(n, s.multi_files, s.multi_commits, 60) for n in range(s.multi_repos)]
    project = Project(ctx.work / "s6", {f"pkg{n:02d}": f"{ctx.url(r)}@v1:src/pkg{n:02d}" for n, r in enumerate(repos)})
    _, help_text = run([*gitimport_command(), "sync", "--help"], env=clean_env())
    listed = "--jobs" in help_text
    reaping = _reap_orphans(True)  # the fork server of `--jobs` outlives the sync: its CPU (and its workers') is counted here

    def sync(jobs: int) -> Callable[[], dict[str, float]]:
        def go() -> dict[str, float]:
            project.reset()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.Popen(
                [*gitimport_command(), "sync", "-q", "--jobs", str(jobs)], cwd=project.folder, env=clean_env(), start_new_session=True
            )
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise BenchError(f"gitimport sync --jobs {jobs} exited {proc.returncode}")
            orphans = _wait_for_orphans(proc.pid) if reaping else 0.0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return {"time": elapsed, "cpu": cpu, "client_cpu": usage.ru_utime + usage.ru_stime + orphans}

        return go

    curve = sorted({*JOBS_CURVE, s.jobs})
    try:
        results = interleave({f"jobs {n}": sync(n) for n in curve}, ctx.cold_repeat)
    finally:
        _reap_orphans(False)
    cpus = os.cpu_count() or 1
    serial, parallel = results["jobs 1"], results[f"jobs {s.jobs}"]
    floor = serial["cpu"] / cpus / serial["time"]
    points = ", ".join(f"{n}: {results[f'jobs {n}']['time']:.2f} s ({results[f'jobs {n}']['time'] / serial['time']:.2f}x)" for n in curve)
    note = (
        f"{cpus} CPUs; `sync --help` lists --jobs: {'yes' if listed else 'no'}; CPU time of the serial sync: "
        f"{serial['cpu']:.1f} s (gitimport {serial['client_cpu']:.1f} s, server {serial['cpu'] - serial['client_cpu']:.1f} s), "
        f"so no schedule on {cpus} CPUs can beat {floor:.2f}x; with --jobs {s.jobs}, gitimport used "
        f"{parallel['client_cpu']:.1f} s of CPU{' (workers included)' if reaping else ''}, the server "
        f"{parallel['cpu'] - parallel['client_cpu']:.1f} s; medians by --jobs: {points}"
    )
    return [
        Row(
            "6",
            f"{s.multi_repos} repositories ({s.multi_files} files each), --jobs {s.jobs}",
            parallel["time"],
            serial["time"],
            "s",
            "--jobs 1",
            0.6,
            note,
        )
    ]


def _reap_orphans(on: bool) -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), or stop; whether it is one now."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None).prctl(36, int(on), 0, 0, 0) == 0 and on  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _wait_for_orphans(group: int) -> float:
    """Wait for what a finished sync left behind in its process group (the fork server, the resource tracker); their CPU seconds.

    A fork server reaps its workers, so their CPU time is in its own.
    """
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and int(fields[2]) == group:
            _, _, usage = os.wait4(int(entry), 0)
            total += usage.ru_utime + usage.ru_stime
    return total


# --------------------------------------------------------------------------
# Scenario 8: against httpimport
# --------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_files(root: Path) -> Iterator[str]:
    """Plain files over loopback HTTP (``http.server`` in a thread)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def httpimport_version() -> str | None:
    probe = "import importlib.metadata as m; print(m.version('httpimport'))"
    proc = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, env=clean_env())
    return proc.stdout.strip() if proc.returncode == 0 else None


def scenario_httpimport(ctx: Context) -> list[Row]:
    s = ctx.sizes
    repo = bench_repos.package_repo("http", "pkg50", s.http_modules, s.http_lines)
    project = Project(ctx.work / "s8", {"pkg50": f"{ctx.url(repo)}@v1:src/pkg50"})
    files = ctx.work / "s8-files"
    rmtree(files)
    bench_repos.export_tree(repo, repo.tags["v1"], "src/pkg50", files)
    version = httpimport_version()
    check = "len([m for m in sys.modules if m.startswith('pkg50.')])"
    modules = str(s.http_modules)
    what = f"{s.http_modules}-module package"
    if version is None:
        why = "httpimport is not installed (pip install httpimport)"
        return [
            Row("8a", f"{what}, second fresh process: the import", None, None, "s", "httpimport over loopback HTTP", 0.05, why),
            Row("8b", f"{what}, first fresh process: the import", None, None, "s", "httpimport over loopback HTTP", None, why),
        ]

    with serve_files(files / "src") as base_url:
        setup = "import sys, httpimport\nhttpimport.INSECURE = True"
        http_statement = f"with httpimport.remote_repo({base_url!r}):\n    import pkg50"

        def twice(first: Callable[[], dict[str, float]], second: Callable[[], dict[str, float]]) -> dict[str, float]:
            one, two = first(), second()
            return {
                "first_process": one["process"],
                "first": one["statement"],
                "second_process": two["process"],
                "second": two["statement"],
            }

        def http_child() -> dict[str, float]:
            statement = f"{setup}\n_start = time.perf_counter()\n{http_statement}"
            return timed_child(statement, check, clean_env(), ctx.work, modules, "httpimport of pkg50")

        def ours_child() -> dict[str, float]:
            return timed_child("import sys\nimport pkg50", check, project.run_env(), ctx.work, modules, "gitimport of pkg50")

        def ours() -> dict[str, float]:
            project.reset()
            return twice(ours_child, ours_child)

        results = interleave({"gitimport": ours, "httpimport": lambda: twice(http_child, http_child)}, ctx.import_repeat)
    ours_r, http_r = results["gitimport"], results["httpimport"]
    note = (
        f"whole process: gitimport {ours_r['second_process'] * 1000:.0f} ms, httpimport {http_r['second_process'] * 1000:.0f} ms "
        f"(httpimport {version}; its start-up import is outside the timed statement)"
    )
    first_note = (
        f"gitimport's first import resolves, fetches and materializes; whole process: gitimport "
        f"{ours_r['first_process'] * 1000:.0f} ms, httpimport {http_r['first_process'] * 1000:.0f} ms"
    )
    return [
        Row(
            "8a",
            f"{what}, second fresh process: the import",
            ours_r["second"],
            http_r["second"],
            "s",
            "httpimport over loopback HTTP (http.server)",
            0.05,
            note,
        ),
        Row(
            "8b",
            f"{what}, first fresh process: the import",
            ours_r["first"],
            http_r["first"],
            "s",
            "httpimport over loopback HTTP (http.server)",
            None,
            first_note,
        ),
    ]


# --------------------------------------------------------------------------
# Scenario 11: from a tree mirror (issue 13)
# --------------------------------------------------------------------------


@contextmanager
def static_host(root: Path) -> Iterator[tuple[str, str]]:
    """``root`` over loopback HTTP: nginx where installed (as a fleet's artifact host), else http.server; (URL, which)."""
    from support.servers import nginx_executable, serve_static_nginx

    if nginx_executable() is not None:
        with serve_static_nginx(root) as server:
            yield f"{server.url}/", "nginx"
    else:
        with serve_files(root) as url:
            yield url, "http.server"


def _mirrored_pair(ctx: Context, name: str, modules: dict[str, str]) -> tuple[Project, Project, Path]:
    """A project synced from git and exported into a mirror, and a second one with the same lock that reads the mirror."""
    source = Project(ctx.work / f"{name}-source", modules)
    source.reset()
    source.sync()
    mirror = ctx.work / f"{name}-mirror"
    rmtree(mirror)
    run([*gitimport_command(), "cache", "export", "-q", str(mirror)], cwd=source.folder, env=clean_env())
    reader = Project(ctx.work / f"{name}-reader", modules)
    shutil.copy(source.folder / "gitimport.lock", reader.folder / "gitimport.lock")
    return source, reader, mirror


def _cold_locked(project: Project, *flags: str, mirror: str = "") -> Callable[[], dict[str, float]]:
    """A sync of a complete lock into an empty cache (a new CI runner), from git or, with ``mirror``, from a tree mirror."""

    def go() -> dict[str, float]:
        rmtree(project.cache)
        rmtree(project.folder / "__pycache__")
        env = clean_env(GITIMPORT_TREE_MIRRORS=mirror)
        elapsed, out = run([*gitimport_command(), "sync", "--locked", "-v", *flags], cwd=project.folder, env=env)
        served = out.count(" served (tree ")
        if mirror and served != len(project.modules):
            raise BenchError(f"the tree mirror served {served} of {len(project.modules)} modules:\n{out}")
        return {"time": elapsed}

    return go


def scenario_mirror(ctx: Context) -> list[Row]:
    s = ctx.sizes
    repo = _monorepo(ctx)
    _, one, one_mirror = _mirrored_pair(ctx, "s11-one", {"bigpkg": f"{ctx.url(repo)}@v1:{PACKAGE_PATH}"})
    repos = [bench_repos.small_repo(n, s.multi_files, s.multi_commits, 60) for n in range(s.multi_repos)]
    modules = {f"pkg{n:02d}": f"{ctx.url(r)}@v1:src/pkg{n:02d}" for n, r in enumerate(repos)}
    _, many, many_mirror = _mirrored_pair(ctx, "s11-many", modules)
    jobs = str(s.jobs)
    with static_host(one_mirror) as (one_url, host), static_host(many_mirror) as (many_url, _):
        single = interleave({"mirror": _cold_locked(one, mirror=one_url), "git": _cold_locked(one)}, ctx.cold_repeat)
        fleet = interleave(
            {"mirror": _cold_locked(many, "--jobs", jobs, mirror=many_url), "git": _cold_locked(many, "--jobs", jobs)}, ctx.cold_repeat
        )
    note = f"both with the lock and an empty cache (a new runner); the mirror served by {host} on loopback"
    return [
        Row(
            "11a",
            "cold locked sync of the 300-file package, from a tree mirror",
            single["mirror"]["time"],
            single["git"]["time"],
            "s",
            "the same sync from git (scenario 1's server)",
            0.3,
            note,
        ),
        Row(
            "11b",
            f"{s.multi_repos} repositories, --jobs {jobs}, from a tree mirror",
            fleet["mirror"]["time"],
            fleet["git"]["time"],
            "s",
            f"the same sync from git, --jobs {jobs}",
            0.3,
            note,
        ),
    ]


SCENARIOS: dict[str, tuple[str, Callable[[Context], list[Row]]]] = {
    "1": ("cold", scenario_cold),
    "2": ("warm", scenario_warm),
    "3": ("others", scenario_others),
    "4": ("noop", scenario_noop),
    "5": ("upgrade", scenario_upgrade),
    "6": ("jobs", scenario_jobs),
    "7": ("memory", scenario_memory),
    "8": ("httpimport", scenario_httpimport),
    "9": ("run", scenario_run),
    "10": ("scale", scenario_scale),
    "11": ("mirror", scenario_mirror),
}
"""Scenario number -> (name for --only, function)."""

ROW_KEYS = {
    "1": ["1a", "1b", "1c"],
    "2": ["2a", "2b", "2c", "2d"],
    "3": ["3a", "3b"],
    "4": ["4"],
    "5": ["5a", "5b"],
    "6": ["6"],
    "7": ["7"],
    "8": ["8a", "8b"],
    "9": ["9"],
    "10": ["1d"],
    "11": ["11a", "11b"],
}
