"""Deterministic benchmark repositories, generated with ``git fast-import``.

Every repository is a pure function of its parameters: content comes from a
seeded ``random.Random``, identities and timestamps are fixed, so the commit
ids are the same on every run and every machine with the same git.  Built
repositories are kept under a cache folder (``/tmp/gitimport-bench-repos`` by
default, ``GITIMPORT_BENCH_REPOS`` to move it) keyed by a hash of their
parameters, so a rerun only generates what changed.  A repository is built in a
temporary folder and renamed into place, so an interrupted build leaves
nothing that a later run could mistake for a finished one.

Nothing here is timed: it only prepares what the scenarios measure.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 4
"""Bump when the content generated for the same parameters changes."""

CACHE_ROOT = Path(os.environ.get("GITIMPORT_BENCH_REPOS", Path(tempfile.gettempdir()) / "gitimport-bench-repos"))
IDENTITY = b"Benchmark <bench@example.com>"
BASE_TIME = 1_700_000_000
TIME_STEP = 60
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lam",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
    "value",
    "count",
    "total",
    "index",
    "item",
    "record",
    "entry",
    "node",
    "edge",
    "graph",
    "tree",
    "leaf",
    "root",
    "path",
    "name",
    "size",
    "offset",
    "length",
    "buffer",
    "stream",
    "reader",
    "writer",
    "parser",
    "token",
    "symbol",
    "scope",
    "frame",
    "stack",
    "queue",
    "cache",
    "store",
    "table",
]


def git_env() -> dict[str, str]:
    """git client environment without the user's or the system's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------


def python_source(rng: random.Random, lines: int, title: str) -> bytes:
    """A valid, importable Python module of about ``lines`` lines (defs and constants only)."""
    out = [f'"""{title}: generated for the gitimport benchmarks."""', "", f"CONSTANT = {rng.randrange(10**6)}", ""]
    number = 0
    while len(out) < lines:
        if number % 4 == 3:
            out += [f"class Record{number}:", f'    """A record with {number} fields."""', ""]
            out += [f"    def method_{i}(self, value):\n        return value * {rng.randrange(1, 99)} + {i}" for i in range(3)]
            out.append("")
        else:
            args = ", ".join(rng.sample(WORDS, 3))
            out.append(f"def function_{number}({args}):")
            names = args.split(", ")
            for step in range(rng.randrange(4, 9)):
                left, right = rng.choice(names), rng.choice(names)
                out.append(f"    {names[step % 3]} = {left} * {rng.randrange(2, 997)} + {right} - {rng.randrange(1000)}")
            out += [f"    return {' + '.join(names)}", ""]
        number += 1
    return ("\n".join(out) + "\n").encode()


def text_file(rng: random.Random, size: int) -> bytes:
    """Prose-like text of about ``size`` bytes."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return ("\n".join(lines) + "\n").encode()


def edit_python(rng: random.Random, source: bytes) -> bytes:
    """The same module with one constant changed (a one-line commit)."""
    lines = source.decode().split("\n")
    lines[2] = f"CONSTANT = {rng.randrange(10**6, 10**7)}"
    return "\n".join(lines).encode()


# --------------------------------------------------------------------------
# fast-import
# --------------------------------------------------------------------------


@dataclass
class Commit:
    changes: dict[str, bytes]
    message: str
    tags: list[str] = field(default_factory=list)


def fast_import(dest: Path, commits: list[Commit], branch: str = "main") -> dict[str, str]:
    """Create a bare repository at ``dest`` holding ``commits`` in order; return tag -> commit id."""
    env = git_env()
    subprocess.run(["git", "init", "-q", "--bare", "-b", branch, str(dest)], check=True, env=env)
    with tempfile.TemporaryFile() as stream:
        for number, commit in enumerate(commits, start=1):
            when = BASE_TIME + number * TIME_STEP
            message = commit.message.encode()
            stream.write(b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), number))
            stream.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (IDENTITY, when, IDENTITY, when))
            stream.write(b"data %d\n%s\n" % (len(message), message))
            if number > 1:
                stream.write(b"from :%d\n" % (number - 1))
            for path, data in sorted(commit.changes.items()):
                stream.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
            stream.write(b"\n")
            for tag in commit.tags:
                stream.write(b"reset refs/tags/%s\nfrom :%d\n\n" % (tag.encode(), number))
        stream.write(b"done\n")
        stream.seek(0)
        subprocess.run(["git", "fast-import", "--quiet", "--done"], stdin=stream, cwd=dest, check=True, env=env)
    subprocess.run(["git", "repack", "-a", "-d", "-q"], cwd=dest, check=True, env=env)
    subprocess.run(["git", "pack-refs", "--all"], cwd=dest, check=True, env=env)
    subprocess.run(["git", "prune-packed"], cwd=dest, check=True, env=env)
    tags = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags"],
        cwd=dest,
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return dict(line.split(" ", 1) for line in tags if line)


@dataclass
class BuiltRepo:
    """A generated bare repository and what the scenarios need to know about it."""

    path: Path
    tags: dict[str, str]
    facts: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def cached_repo(kind: str, params: Mapping[str, object], build: Callable[[Path], tuple[dict[str, str], dict[str, Any]]]) -> BuiltRepo:
    """The repository for ``(kind, params)`` from the cache folder, built by ``build(dest)`` on a miss.

    ``build`` returns ``(tags, facts)``; both are stored in ``bench.json`` beside the repository.
    """
    key = hashlib.sha256(json.dumps([GENERATOR_VERSION, kind, params], sort_keys=True).encode()).hexdigest()[:12]
    final = CACHE_ROOT / f"{kind}-{key}.git"
    record = final / "bench.json"
    if record.is_file():
        data = json.loads(record.read_text())
        return BuiltRepo(final, data["tags"], data["facts"])
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=CACHE_ROOT))
    try:
        dest = staging / final.name
        tags, facts = build(dest)
        (dest / "bench.json").write_text(json.dumps({"params": params, "tags": tags, "facts": facts}, indent=1, sort_keys=True))
        try:
            os.rename(dest, final)
        except OSError:
            if not record.is_file():  # another run finished the same build first: use that one
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    data = json.loads(record.read_text())
    return BuiltRepo(final, data["tags"], data["facts"])


# --------------------------------------------------------------------------
# The repositories of the scenarios
# --------------------------------------------------------------------------

TARGET_PYPROJECT = b"""[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "bigpkg"
version = "1.0.0"
description = "The 300-file package of the gitimport benchmarks"

[tool.setuptools.packages.find]
where = ["src"]
"""


def _package_paths(package: str, files: int, per_folder: int = 30) -> Iterator[str]:
    """``files`` module paths for a package: ``__init__.py``, then sub-packages of ``per_folder`` files."""
    yield f"{package}/__init__.py"
    made = 1
    folder = 0
    while made < files:
        yield f"{package}/sub{folder:02d}/__init__.py"
        made += 1
        for number in range(1, per_folder):
            if made >= files:
                break
            yield f"{package}/sub{folder:02d}/mod{number:02d}.py"
            made += 1
        folder += 1


def package_modules(package: str, files: int) -> list[str]:
    """The dotted module names of the package :func:`monorepo` generates with ``files`` files, package first."""
    return [p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in _package_paths(package, files)]


def monorepo(total_files: int, package_files: int, commits: int, file_bytes: int, seed: int = 1) -> BuiltRepo:
    """Scenario 1 and 5: a Python monorepo, with ``libs/target/src/bigpkg`` (``package_files`` files).

    ``total_files`` files at tag ``v1``, which is commit number ``commits``;
    ``v2`` is the next commit, which changes one line of one file of the package.
    The files appear over the first half of the history; the second half edits
    a few files per commit.  ``libs/target`` is a pip-installable project.
    """
    params = {"total_files": total_files, "package_files": package_files, "commits": commits, "file_bytes": file_bytes, "seed": seed}

    def build(dest: Path) -> tuple[dict[str, str], dict[str, Any]]:
        rng = random.Random(seed)
        lines = max(8, file_bytes // 36)
        package = [f"libs/target/src/{p}" for p in _package_paths("bigpkg", package_files)]
        extra = ["libs/target/pyproject.toml", "libs/target/README.md"]
        others: list[str] = []
        rest = total_files - len(package) - len(extra)
        libraries = max(1, rest // 300)
        docs = rest // 10
        for number in range(libraries):
            share = (rest - docs) // libraries + (1 if number < (rest - docs) % libraries else 0)
            others += [f"libs/lib{number:02d}/src/lib{number:02d}/{p.split('/', 1)[1]}" for p in _package_paths(f"lib{number:02d}", share)]
        others += [f"docs/page{number:04d}.md" for number in range(docs)]
        everything = package + extra + others
        rng.shuffle(everything)
        content: dict[str, bytes] = {}

        def generate(path: str) -> bytes:
            if path.endswith(".py"):
                return python_source(rng, rng.randrange(lines // 2, lines * 3 // 2 + 1), path)
            if path.endswith("pyproject.toml"):
                return TARGET_PYPROJECT
            return text_file(rng, rng.randrange(file_bytes // 2, file_bytes * 3 // 2 + 1))

        history: list[Commit] = []
        growing = max(1, commits // 2)
        per_commit = -(-len(everything) // growing)
        for number in range(commits):
            changes: dict[str, bytes] = {}
            if number < growing:
                for path in everything[number * per_commit : (number + 1) * per_commit]:
                    changes[path] = generate(path)
            if not changes:
                for path in rng.sample(sorted(content), min(len(content), rng.randrange(1, 5))):
                    changes[path] = edit_python(rng, content[path]) if path.endswith(".py") else generate(path)
            content.update(changes)
            history.append(Commit(changes, f"Commit {number + 1}"))
        history[-1].tags.append("v1")
        changed = sorted(p for p in package if "/mod" in p)[0] if package_files > 1 else package[0]
        history.append(Commit({changed: edit_python(rng, content[changed])}, "Change one file of bigpkg", ["v2"]))
        content[changed] = history[-1].changes[changed]
        tags = fast_import(dest, history)
        facts = {
            "files": len(content),
            "package_files": len(package),
            "bytes": sum(len(v) for v in content.values()),
            "package_bytes": sum(len(content[p]) for p in package),
            "commits": commits,
            "changed_file": changed,
        }
        return tags, facts

    return cached_repo("monorepo", params, build)


def package_repo(kind: str, package: str, modules: int, lines: int, seed: int = 2) -> BuiltRepo:
    """One commit (tag ``v1``) holding ``src/<package>/``: ``__init__`` imports ``modules`` submodules."""
    params = {"package": package, "modules": modules, "lines": lines, "seed": seed}

    def build(dest: Path) -> tuple[dict[str, str], dict[str, Any]]:
        rng = random.Random(seed)
        names = [f"m{number:03d}" for number in range(modules)]
        init = f'"""{package}: {modules} generated modules."""\n\nfrom . import {", ".join(names)}\n'.encode()
        changes = {f"src/{package}/__init__.py": init}
        for name in names:
            changes[f"src/{package}/{name}.py"] = python_source(rng, lines, f"{package}.{name}")
        tags = fast_import(dest, [Commit(changes, f"Add {package}", ["v1"])])
        return tags, {"modules": modules, "lines": sum(v.count(b"\n") for v in changes.values())}

    return cached_repo(kind, params, build)


def modules_repo(count: int, lines: int, seed: int = 3) -> BuiltRepo:
    """One commit (tag ``v1``) holding ``mods/mod00.py`` ... single-file modules (scenarios 3 and 4)."""
    params = {"count": count, "lines": lines, "seed": seed}

    def build(dest: Path) -> tuple[dict[str, str], dict[str, Any]]:
        rng = random.Random(seed)
        changes = {f"mods/mod{number:02d}.py": python_source(rng, lines, f"mod{number:02d}") for number in range(count)}
        return fast_import(dest, [Commit(changes, "Add modules", ["v1"])]), {"modules": count}

    return cached_repo("modules", params, build)


def small_repo(index: int, files: int, commits: int, lines: int) -> BuiltRepo:
    """Scenario 6: one of several independent repositories, ``src/pkgNN`` at tag ``v1``."""
    params = {"index": index, "files": files, "commits": commits, "lines": lines}

    def build(dest: Path) -> tuple[dict[str, str], dict[str, Any]]:
        rng = random.Random(100 + index)
        paths = [f"src/{p}" for p in _package_paths(f"pkg{index:02d}", files, per_folder=20)]
        content = {p: python_source(rng, lines, p) for p in paths}
        history = [Commit(dict(content), "Initial import")]
        for number in range(1, commits):
            path = rng.choice(paths)
            content[path] = edit_python(rng, content[path])
            history.append(Commit({path: content[path]}, f"Commit {number + 1}"))
        history[-1].tags.append("v1")
        return fast_import(dest, history), {"files": files}

    return cached_repo(f"small{index:02d}", params, build)


def export_tree(repo: BuiltRepo, commit: str, path: str, dest: Path) -> None:
    """Write ``commit:path`` of a generated repository under ``dest`` (``dest/<path>``)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", commit, path], cwd=repo.path, check=True, capture_output=True, env=git_env()).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
