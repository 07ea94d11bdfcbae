"""Bytecode as a user meets it: written on a module's first import, recorded, shared and verified.

docs/how-it-works.md#bytecode: sync writes no ``.pyc``; the first import of a
module by an interpreter (a Python version and ``-O`` level) compiles that one
source and writes its unchecked hash-based ``.pyc`` beside it, recorded in the
tree entry's ``pyc-records/`` before it appears; every later process only
reads it.  Each test syncs the toolbox fixture into a private cache and runs
real interpreters under ``gitimport run``, with ``PYTHONDONTWRITEBYTECODE=1``
(gitimport writes its cache's bytecode whatever it says).  A probe counts the
``compile`` audit events of cached sources in each child, so "compiles
nothing" is observed, not inferred.
"""

from __future__ import annotations

import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, ok, other_python
from support.repos import FixtureSet

from gitimport.store import layout

TAG = sys.implementation.cache_tag
MYLIB_SOURCES = ["mylib/__init__.py", "mylib/core.py", "mylib/sub/__init__.py", "mylib/sub/deep.py"]
"""What ``import mylib`` runs (its __init__ imports core, which imports sub.deep), as paths in its tree entry."""

PROBE = """
import json, os, sys
cache = os.environ["GITIMPORT_CACHE_DIR"]
compiled = []

def count(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].endswith(".py"):
        if not os.path.isabs(args[1]) or args[1].startswith(cache):
            compiled.append(args[1])

sys.addaudithook(count)
{statements}
served = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
print(json.dumps({{"compiled": sorted(compiled), "served": sorted(f for f in served if f.startswith(cache))}}))
"""


def probe(project: Project, statements: str, *flags: str, python: str = sys.executable, **env: str) -> dict[str, list[str]]:
    """Run ``statements`` in a fresh interpreter under ``gitimport run``: the cached sources it compiled, and the files it imported."""
    run = project.python(PROBE.format(statements=textwrap.dedent(statements)), *flags, python=python, PYTHONDONTWRITEBYTECODE="1", **env)
    answer: dict[str, list[str]] = json.loads(ok(run).splitlines()[-1])
    return answer


@pytest.fixture
def toolbox(project: Project, fixture_repos: FixtureSet) -> Project:
    """A project with ``helper`` (one file) and ``mylib`` (a package) synced from the toolbox at v1."""
    url = fixture_repos["toolbox"].path
    project.configure({"helper": f"{url}@v1:tools/helper.py", "mylib": f"{url}@v1:src"})
    assert project.cli("sync", "-q").code == 0
    return project


def tree_entry(project: Project, name: str) -> Path:
    root = Path(project.cli("which", name).out.strip())
    return root.parent


def pycs(project: Project) -> set[Path]:
    return set((project.cache / layout.TREES).rglob("*.pyc"))


def pyc_of(source: Path, suffix: str = TAG) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{suffix}.pyc"


def records(entry: Path) -> dict[str, set[str]]:
    """The documented record format, read here without gitimport: one ``<sha256>  <path>`` line per file."""
    recorded: dict[str, set[str]] = {}
    folder = entry / layout.PYC_RECORDS
    for record in folder.iterdir() if folder.is_dir() else []:
        sha, path = record.read_text(encoding="utf-8").rstrip("\n").split("  ", 1)
        recorded.setdefault(path, set()).add(sha)
    return recorded


def cache_state(project: Project) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file and folder of the cache but its file locks: any write shows."""
    state = {}
    for path in project.cache.rglob("*"):
        if layout.LOCKS not in path.relative_to(project.cache).parts:
            status = path.lstat()
            state[str(path)] = (status.st_ino, status.st_mtime_ns)
    return state


def flags_of(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def forge(source_text: str, shown_as: str, tmp: Path) -> bytes:
    """An unchecked hash-based .pyc of other code, as someone who can write the cache would make it."""
    evil = tmp / "evil.py"
    evil.write_text(source_text, encoding="utf-8")
    out = tmp / "evil.pyc"
    py_compile.compile(str(evil), cfile=str(out), dfile=shown_as, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return out.read_bytes()


def write_record(entry: Path, pyc: Path, data: bytes) -> None:
    """A record line for ``data`` at ``pyc``, in the documented format, as a forger would add it."""
    line = f"{hashlib.sha256(data).hexdigest()}  {pyc.relative_to(entry).as_posix()}\n"
    (entry / layout.PYC_RECORDS).mkdir(exist_ok=True)
    (entry / layout.PYC_RECORDS / hashlib.sha256(line.encode()).hexdigest()[:32]).write_text(line, encoding="utf-8")


def overwrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


# --- sync writes none; the first import writes what it imports ---------------------------------


def test_sync_writes_no_bytecode(toolbox: Project) -> None:
    assert pycs(toolbox) == set()
    assert not list(toolbox.cache.rglob("__pycache__"))
    assert not list(toolbox.cache.rglob(layout.PYC_RECORDS))
    assert not (toolbox.cache / layout.PYCS).exists()


def test_the_first_import_writes_and_records_the_pyc_of_each_module_it_imports_and_no_other(toolbox: Project) -> None:
    run = probe(toolbox, "import mylib")

    entry = tree_entry(toolbox, "mylib")
    written = {pyc_of(entry / source) for source in MYLIB_SOURCES}
    assert sorted(run["served"]) == sorted(str(entry / source) for source in MYLIB_SOURCES)
    assert pycs(toolbox) == written  # helper was not imported: its tree has none
    assert run["compiled"] == sorted(MYLIB_SOURCES)  # once each, under the source's path in the tree
    recorded = records(entry)
    for pyc in written:
        assert flags_of(pyc) == 0b01, pyc  # hash-based, source not checked (PEP 552)
        assert recorded[pyc.relative_to(entry).as_posix()] == {hashlib.sha256(pyc.read_bytes()).hexdigest()}
        assert pyc.stat().st_mode & 0o222 == 0, pyc  # read-only, like every file of a tree
    assert toolbox.cli("verify").code == 0


def test_a_second_interpreter_compiles_nothing_and_writes_nothing(toolbox: Project) -> None:
    probe(toolbox, "import helper, mylib")
    before = cache_state(toolbox)

    run = probe(toolbox, "import helper, mylib")

    assert run["compiled"] == []
    assert cache_state(toolbox) == before


def test_a_module_imported_again_in_one_process_is_compiled_once(toolbox: Project) -> None:
    run = probe(
        toolbox, "import importlib, sys, mylib.core; importlib.reload(mylib.core); del sys.modules['mylib.sub.deep']; import mylib.sub.deep"
    )

    assert run["compiled"] == sorted(MYLIB_SOURCES)


def test_interpreters_that_import_at_the_same_time_all_succeed_and_verify_passes(toolbox: Project) -> None:
    code = PROBE.format(statements="import helper, mylib\nassert mylib.add(1, 2) == 3 and helper.VERSION == '1'")
    command = [sys.executable, "-m", "gitimport", "run", "--", sys.executable, "-c", code]
    env = toolbox.env(PYTHONDONTWRITEBYTECODE="1")
    children = [
        subprocess.Popen(command, cwd=toolbox.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = [child.communicate(timeout=120) for child in children]

    assert [child.returncode for child in children] == [0] * 4, [err for _, err in outputs]
    for out, _ in outputs:
        compiled = json.loads(out.splitlines()[-1])["compiled"]
        assert len(compiled) == len(set(compiled))  # none compiled twice in one process
    helper_entry, mylib_entry = tree_entry(toolbox, "helper"), tree_entry(toolbox, "mylib")
    assert pycs(toolbox) == {pyc_of(helper_entry / "helper.py")} | {pyc_of(mylib_entry / source) for source in MYLIB_SOURCES}
    verify = toolbox.cli("verify")
    assert verify.code == 0, verify.out


# --- caches gitimport cannot write, other interpreters, other flags -----------------------------


@pytest.fixture(params=["launchers made", "no launchers"])
def read_only_cache(toolbox: Project, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """The cache's folders made read-only; the command prefix that runs a process without root's power to ignore that.

    Once with the launcher folder `gitimport run` keeps in the cache made by the cache's owner, once without it.
    """
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    if request.param == "launchers made":
        ok(toolbox.python("pass"))
    folders = [toolbox.cache, *(p for p in toolbox.cache.rglob("*") if p.is_dir() and not p.is_symlink())]
    for folder in folders:
        os.chmod(folder, 0o555)
    try:
        yield ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"] if os.geteuid() == 0 else []
    finally:
        for folder in folders:
            os.chmod(folder, 0o755)


def test_a_cache_the_user_cannot_write_still_imports_compiling_in_memory(toolbox: Project, read_only_cache: list[str]) -> None:
    before = cache_state(toolbox)
    code = PROBE.format(statements="import helper, mylib\nprint(helper.VERSION, mylib.add(2, 3))")
    command = [*read_only_cache, sys.executable, "-m", "gitimport", "run", "--", sys.executable, "-c", code]

    first = toolbox.execute(*command, env=toolbox.env(PYTHONDONTWRITEBYTECODE="1"))
    second = toolbox.execute(*command, env=toolbox.env(PYTHONDONTWRITEBYTECODE="1"))

    for run in (first, second):
        versions, answer = ok(run).splitlines()[-2:]
        assert versions == "1 5"
        assert json.loads(answer)["compiled"] == sorted(["helper.py", *MYLIB_SOURCES])  # each process compiles: nothing is kept
    assert cache_state(toolbox) == before


def test_python_O_and_OO_get_their_own_pycs(toolbox: Project) -> None:
    probe(toolbox, "import mylib")
    optimized = probe(toolbox, "import mylib; assert mylib.__doc__ is not None", "-O")
    stripped = probe(toolbox, "import mylib; assert mylib.__doc__ is None", "-OO")

    core = tree_entry(toolbox, "mylib") / "mylib" / "core.py"
    assert optimized["compiled"] == stripped["compiled"] == sorted(MYLIB_SOURCES)
    assert {p.name for p in pycs(toolbox) if p.name.startswith("core.")} == {
        f"core.{TAG}.pyc",
        f"core.{TAG}.opt-1.pyc",
        f"core.{TAG}.opt-2.pyc",
    }
    assert flags_of(pyc_of(core, f"{TAG}.opt-2")) == 0b01
    assert probe(toolbox, "import mylib", "-OO")["compiled"] == []
    verify = toolbox.cli("verify")  # compiles each level again to compare
    assert verify.code == 0, verify.out


def test_check_hash_based_pycs_always_validates_the_cached_pycs_and_writes_nothing(toolbox: Project) -> None:
    probe(toolbox, "import helper, mylib")
    before = cache_state(toolbox)

    run = probe(toolbox, "import helper, mylib", "--check-hash-based-pycs", "always")

    assert run["compiled"] == []  # Python's own loader checked each .pyc against its source and used it
    assert cache_state(toolbox) == before


def test_a_pycache_prefix_does_not_move_the_caches_bytecode(toolbox: Project, tmp_path: Path) -> None:
    prefix = tmp_path / "pycache-prefix"

    probe(toolbox, "import helper", PYTHONPYCACHEPREFIX=str(prefix))
    again = probe(toolbox, "import helper", PYTHONPYCACHEPREFIX=str(prefix))

    assert flags_of(pyc_of(tree_entry(toolbox, "helper") / "helper.py")) == 0b01
    assert again["compiled"] == []
    assert not [p for p in prefix.rglob("helper.*.pyc")]  # nothing of the cache's went to the prefix


def test_another_python_version_gets_its_own_pycs_once(toolbox: Project) -> None:
    other = other_python()
    if other is None:
        pytest.skip("no second Python version with gitimport installed")
    tag = subprocess.run([other, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True, text=True).stdout.strip()
    probe(toolbox, "import mylib")

    first = probe(toolbox, "import mylib", python=other)
    before = cache_state(toolbox)
    second = probe(toolbox, "import mylib", python=other)

    entry = tree_entry(toolbox, "mylib")
    assert first["compiled"] == sorted(MYLIB_SOURCES) and second["compiled"] == []
    assert cache_state(toolbox) == before
    for source in MYLIB_SOURCES:
        assert flags_of(pyc_of(entry / source, tag)) == 0b01
    verify = toolbox.execute(other, "-m", "gitimport", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert toolbox.cli("verify").code == 0  # each checks the other's .pyc files against their records


def test_a_tree_cached_by_an_earlier_release_still_verifies_and_imports(toolbox: Project, tmp_path: Path) -> None:
    """Earlier releases compiled every source at sync and listed the .pyc files in ``bytecode-<tag>.json``."""
    entry = tree_entry(toolbox, "mylib")
    listed = {}
    for source in sorted(entry.rglob("*.py")):
        if source.is_symlink():
            continue
        pyc = pyc_of(source)
        pyc.parent.mkdir(exist_ok=True)
        relative = source.relative_to(entry).as_posix()
        py_compile.compile(str(source), cfile=str(pyc), dfile=relative, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        os.chmod(pyc, 0o444)
        listed[pyc.relative_to(entry).as_posix()] = hashlib.sha256(pyc.read_bytes()).hexdigest()
    (entry / f"bytecode-{TAG}.json").write_text(json.dumps(listed), encoding="utf-8")

    assert toolbox.cli("verify").code == 0
    assert probe(toolbox, "import mylib")["compiled"] == []
    overwrite(pyc_of(entry / "mylib" / "core.py"), forge("VERSION = 'forged'\n", "mylib/core.py", tmp_path))
    verify = toolbox.cli("verify")
    assert verify.code == 1 and "core" in verify.out and "was modified" in verify.out


# --- tampering: found by verify and verify = "import", mended by --repair ------------------------


def test_a_pyc_changed_after_it_was_recorded_is_found_refused_and_repaired(toolbox: Project) -> None:
    probe(toolbox, "import mylib")
    pyc = pyc_of(tree_entry(toolbox, "mylib") / "mylib" / "core.py")
    data = bytearray(pyc.read_bytes())
    data[-8] ^= 0xFF  # inside the marshalled code, past the header
    overwrite(pyc, bytes(data))

    verify = toolbox.cli("verify")
    refused = toolbox.python("import mylib", GITIMPORT_VERIFY="import")
    repaired = toolbox.cli("sync", "--repair")

    assert verify.code == 1 and f"{pyc} was modified" in verify.out
    assert refused.returncode == 1 and "Refusing to import 'mylib'" in refused.stderr and "was modified" in refused.stderr
    assert repaired.code == 0 and "repairing mylib" in repaired.err
    assert toolbox.cli("verify").code == 0
    assert ok(toolbox.python("import mylib; print(mylib.add(1, 1))", GITIMPORT_VERIFY="import")) == "2\n"


def test_a_pyc_with_no_record_is_found_refused_and_repaired(toolbox: Project, tmp_path: Path) -> None:
    """A .pyc put where an import would find it, before any import wrote one: the plain fast path would load it."""
    entry = tree_entry(toolbox, "helper")
    pyc = pyc_of(entry / "helper.py")
    pyc.parent.mkdir()
    pyc.write_bytes(forge("VERSION = 'forged'\n", "helper.py", tmp_path))

    verify = toolbox.cli("verify")
    refused = toolbox.python("import helper", GITIMPORT_VERIFY="import")
    repaired = toolbox.cli("sync", "--repair")

    assert verify.code == 1 and f"{pyc} was not written by gitimport" in verify.out
    assert refused.returncode == 1 and "was not written by gitimport" in refused.stderr
    assert repaired.code == 0 and "repairing helper" in repaired.err
    assert ok(toolbox.python("import helper; print(helper.VERSION)", GITIMPORT_VERIFY="import")) == "1\n"


def test_a_pyc_of_other_code_with_a_forged_record_is_refused_on_import(toolbox: Project, tmp_path: Path) -> None:
    """The .pyc's header names the source it was compiled from; verify = "import" holds it against the cached source."""
    probe(toolbox, "import helper")
    entry = tree_entry(toolbox, "helper")
    pyc = pyc_of(entry / "helper.py")
    forged = forge("VERSION = 'forged'\n", "helper.py", tmp_path)
    overwrite(pyc, forged)
    write_record(entry, pyc, forged)

    refused = toolbox.python("import helper", GITIMPORT_VERIFY="import")

    assert refused.returncode == 1 and "was compiled from another source" in refused.stderr
    assert toolbox.cli("verify").code == 1


def test_a_forged_pyc_that_keeps_the_sources_header_with_a_forged_record_is_found_by_verify(toolbox: Project, tmp_path: Path) -> None:
    """Only compiling again tells this one apart; ``gitimport verify`` and ``--repair`` do (verify = "import" does not compile)."""
    probe(toolbox, "import mylib")
    entry = tree_entry(toolbox, "mylib")
    pyc = pyc_of(entry / "mylib" / "core.py")
    evil = forge("INJECTED = True\nfrom .sub.deep import depth\ndef add(a, b):\n    return a + b\n", "mylib/core.py", tmp_path)
    forged = pyc.read_bytes()[:16] + evil[16:]  # the real source's hash in the header, as a careful forger would keep it
    overwrite(pyc, forged)
    write_record(entry, pyc, forged)
    assert ok(toolbox.python("import mylib.core; print(hasattr(mylib.core, 'INJECTED'))")) == "True\n"  # the attack works

    verify = toolbox.cli("verify")
    repaired = toolbox.cli("sync", "--repair")

    assert verify.code == 1 and f"{pyc} does not match its source" in verify.out
    assert repaired.code == 0 and "repairing mylib" in repaired.err
    assert ok(toolbox.python("import mylib.core; print(hasattr(mylib.core, 'INJECTED'))")) == "False\n"
    assert toolbox.cli("verify").code == 0
