"""What the lock names is what runs: a tree serves a lock entry only if it was materialized from that entry's commit:path.

Each test is an attack on the shared cache or on the files beside the
config: a lock edited to point at another project's cached tree, bytecode
forged in the content-addressed store, a runtime snapshot edited to serve a
name from elsewhere, and tampered files under ``verify = "import"``.  Each
failed before the binding (docs/security.md).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import py_compile
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from support.project import Project, ok
from support.repos import FixtureSet, add_commit

from gitimport.project.lock import Lock, read_lock, write_lock
from gitimport.state import snapshot_path
from gitimport.store import layout


@pytest.fixture
def downgraded(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> Project:
    """Another project cached mylib v1; this lock keeps commit v2 but names v1's tree and digest."""
    toolbox = fixture_repos["toolbox"].path
    other = Project(tmp_path / "other", project.cache)
    other.root.mkdir()
    other.configure({"mylib": f"{toolbox}@v1:src"})
    assert other.cli("--config", str(other.config_path), "sync", "-q").code == 0
    v1 = read_lock(other.lock_path).modules["mylib"]
    project.configure({"mylib": f"{toolbox}@v2:src"})
    assert project.cli("sync", "-q").code == 0
    v2 = read_lock(project.lock_path).modules["mylib"]
    assert v1.object != v2.object
    write_lock(project.lock_path, Lock(modules={"mylib": replace(v2, object=v1.object, digest=v1.digest)}))
    return project


def test_a_lock_edited_to_name_another_cached_tree_is_refused_by_sync(downgraded: Project) -> None:
    before = downgraded.lock_text()

    result = downgraded.cli("sync")

    assert result.code == 1, result.out
    assert "the lock says" in result.err and "hint:" in result.err
    assert downgraded.lock_text() == before


def test_a_lock_edited_to_name_another_cached_tree_is_not_imported(downgraded: Project) -> None:
    result = downgraded.python("import mylib; print(mylib.VERSION)")

    assert result.returncode != 0
    assert "1" not in result.stdout
    assert "ImportError" in result.stderr


def test_verify_status_and_repair_refuse_a_lock_that_names_another_cached_tree(downgraded: Project) -> None:
    verify = downgraded.cli("verify")
    status = downgraded.cli("status", "--offline", "--check")
    repair = downgraded.cli("sync", "--repair")

    assert verify.code == 1 and "was not materialized from commit" in verify.out
    assert status.code == 3 and "was not materialized from commit" in status.out
    assert repair.code == 1 and "the lock says" in repair.err


def test_verify_on_import_refuses_a_lock_that_names_another_cached_tree(downgraded: Project) -> None:
    result = downgraded.python("import mylib; print(mylib.VERSION)", GITIMPORT_VERIFY="import")

    assert result.returncode != 0 and "1" not in result.stdout


def test_a_tree_shared_by_two_commits_serves_both(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    """The binding is per commit:path, not per tree: a folder unchanged between tags is one tree for both."""
    toolbox = fixture_repos["toolbox"].path
    project.configure({"scripts": f"{toolbox}@v1:scripts"})
    assert project.cli("sync", "-q").code == 0
    other = Project(tmp_path / "other", project.cache)
    other.root.mkdir()
    other.configure({"scripts": f"{toolbox}@v2:scripts"})

    result = other.cli("--config", str(other.config_path), "sync")

    assert result.code == 0, result.err
    first, second = read_lock(project.lock_path).modules["scripts"], read_lock(other.lock_path).modules["scripts"]
    assert first.commit != second.commit and first.object == second.object
    assert other.cli("--config", str(other.config_path), "verify").code == 0 and project.cli("verify").code == 0


# --- verify = "import" refuses every time -----------------------------------------------------


def tamper(path: Path, text: str) -> None:
    os.chmod(path, 0o644)
    path.write_text(text, encoding="utf-8")


def test_verify_on_import_refuses_every_import_until_the_tree_is_mended(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    root = Path(project.cli("which", "helper").out.strip())
    for pyc in (root.parent / "__pycache__").glob("*.pyc"):
        pyc.unlink()  # the tampered source must be what runs if it runs at all
    tamper(root, 'VERSION = "tampered"\n')
    code = """
        for attempt in range(3):
            try:
                import helper
                print("imported", helper.VERSION)
            except ImportError as exc:
                print("refused")
    """

    out = ok(project.python(code, GITIMPORT_VERIFY="import"))

    assert out.split() == ["refused", "refused", "refused"]


# --- a poisoned bytecode store does not survive --repair --------------------------------------


def forge_stored_bytecode(project: Project, module_root: Path) -> None:
    """Write forged bytecode into the store under a name that matches its own hash, and into the tree."""
    tag = sys.implementation.cache_tag
    cached = module_root.parent / "__pycache__" / f"{module_root.stem}.{tag}.pyc"
    stored = next(p for p in (project.cache / layout.PYCS).rglob(f"*.{tag}.*.pyc") if p.stat().st_ino == cached.stat().st_ino)
    forged_source = module_root.parent.parent / "forged.py"
    forged_source.write_text('VERSION = "forged"\n', encoding="utf-8")
    forged = project.root / "forged.pyc"
    py_compile.compile(
        str(forged_source),
        cfile=str(forged),
        dfile=module_root.name,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    forged_source.unlink()
    # keep the real source's hash in the header, as a forger would, so the .pyc looks like the source's own
    data = cached.read_bytes()[:16] + forged.read_bytes()[16:]
    os.chmod(cached, 0o644)
    cached.write_bytes(data)  # the tree and the store share one inode
    source_key = stored.name.split(".", 1)[0]
    stored.rename(stored.with_name(f"{source_key}.{tag}.{hashlib.sha256(data).hexdigest()}.pyc"))


def test_repair_does_not_link_forged_bytecode_from_the_store_again(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"  # writes the .pyc, and keeps it in the store
    root = Path(project.cli("which", "helper").out.strip())
    forge_stored_bytecode(project, root)
    assert ok(project.python("import helper; print(helper.VERSION)")) == "forged\n"  # the attack works on a plain import

    repaired = project.cli("sync", "--repair")

    assert repaired.code == 0, repaired.err
    assert project.cli("verify").code == 0
    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"


# --- the runtime snapshot is not trusted for where code comes from -----------------------------


def edit_snapshot(project: Project, change) -> None:  # type: ignore[no-untyped-def]
    path = snapshot_path(str(project.config_path))
    snapshot = marshal.loads(Path(path).read_bytes())
    change(snapshot)
    Path(path).write_bytes(marshal.dumps(snapshot))


def outside_tree(tmp_path: Path) -> tuple[str, str]:
    """A folder outside the cache that looks like a tree entry: a module and a manifest."""
    entry = tmp_path / "elsewhere"
    entry.mkdir()
    (entry / "helper.py").write_text('VERSION = "elsewhere"\n', encoding="utf-8")
    (entry / layout.MANIFEST).write_text("{}", encoding="utf-8")
    return str(entry / "helper.py"), str(entry)


def test_a_snapshot_that_serves_a_name_from_outside_the_cache_is_ignored(
    project: Project, fixture_repos: FixtureSet, tmp_path: Path
) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    root, entry = outside_tree(tmp_path)
    edit_snapshot(project, lambda s: s["table"].__setitem__("helper", ("module", root, entry)))

    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"


def test_a_snapshot_whose_paths_climb_out_of_the_cache_is_ignored(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    _, entry = outside_tree(tmp_path)
    climbing = os.path.join(str(project.cache), layout.TREES, os.path.relpath(entry, os.path.join(str(project.cache), layout.TREES)))
    edit_snapshot(project, lambda s: s["table"].__setitem__("helper", ("module", os.path.join(climbing, "helper.py"), climbing)))

    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"


def test_the_no_op_fast_path_does_not_claim_a_cache_that_is_gone(project: Project, fixture_repos: FixtureSet, tmp_path: Path) -> None:
    project.configure({"helper": f"{fixture_repos['toolbox'].path}@v1:tools/helper.py"})
    assert project.cli("sync", "-q").code == 0
    root, entry = outside_tree(tmp_path)
    edit_snapshot(project, lambda s: s["table"].__setitem__("helper", ("module", root, entry)))
    shutil.rmtree(project.cache / layout.TREES, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o755), f(p)))

    result = project.cli("sync", "--locked")

    assert result.code == 0, result.err
    assert "Nothing to do" not in result.out
    assert "restored" in result.out
    assert ok(project.python("import helper; print(helper.VERSION)")) == "1\n"


def test_a_package_named_like_the_origin_records_is_served_and_verifies(project: Project, mutable_repos: FixtureSet) -> None:
    """A tree entry keeps its origin records beside the imported root: a root of the same name must not be that folder."""
    toolbox = mutable_repos["toolbox"]
    add_commit(toolbox.path, {"src/origins/__init__.py": b"WHERE = 'package'\n"}, "a package named origins")
    project.configure({"origins": f"{toolbox.path}@main:src"})

    assert project.cli("sync").code == 0
    verified = project.cli("verify")

    assert verified.code == 0, verified.out + verified.err
    assert ok(project.python("import origins; print(origins.WHERE)")) == "package\n"
