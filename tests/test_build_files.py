"""Files a build backend writes, written from static configuration (issue 11, point 1).

The ``buildfiles`` fixture holds one project per backend at tag v1.4.0, and
an untagged commit after it.  Each is synced through a real loopback server
and imported in a fresh interpreter, as pip would have installed it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from support.project import Project, ok
from support.repos import FixtureSet
from support.servers import Server

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@pytest.fixture
def served(project: Project, http_server: Server) -> Project:
    project.url = http_server.url
    return project


def sync_one(project: Project, name: str, ref_path: str) -> str:
    """Sync one module of the fixture; return what sync printed."""
    project.configure({name: project.spec(ref_path, repo="buildfiles")})
    result = project.cli("sync")
    assert result.code == 0, result.err
    return result.out


def lock_entry(project: Project, name: str) -> dict[str, object]:
    entry: dict[str, object] = tomllib.loads(project.lock_text() or "")["modules"][name]
    return entry


def cached_file(project: Project, name: str, relative: str) -> bytes:
    where = ok(project.gitimport("which", name)).strip()
    with open(os.path.join(where, relative), "rb") as handle:
        return handle.read()


def test_setuptools_scm_version_file_is_written_for_a_tagged_commit(served: Project, fixture_repos: FixtureSet) -> None:
    sync_one(served, "scmpkg", "v1.4.0:src")

    run = served.python(
        "import scmpkg, importlib.metadata as md; from scmpkg._version import __commit_id__\n"
        "print(scmpkg.__version__, scmpkg.__version_tuple__, md.version('scmpkg'), __commit_id__)"
    )

    commit = fixture_repos["buildfiles"].tags["v1.4.0"]
    assert ok(run).strip() == f"1.4.0 (1, 4, 0) 1.4.0 g{commit[:7]}"


def test_generated_files_are_in_the_lock_with_their_sha256(served: Project) -> None:
    sync_one(served, "scmpkg", "v1.4.0:src")

    content = cached_file(served, "scmpkg", "_version.py")

    assert lock_entry(served, "scmpkg")["generated"] == {"_version.py": "sha256:" + hashlib.sha256(content).hexdigest()}
    assert b"__version__ = version = '1.4.0'" in content


def test_the_digest_still_covers_only_the_git_files(served: Project, fixture_repos: FixtureSet) -> None:
    """docs/lock-file.md: the digest is checkable from the commit with standard tools."""
    sync_one(served, "scmpkg", "v1.4.0:src")
    repo = fixture_repos["buildfiles"].path
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "v1.4.0", "src/scmpkg"], capture_output=True, text=True, check=True
    )
    lines = ""
    for path in sorted(listed.stdout.split()):
        blob = subprocess.run(["git", "-C", str(repo), "show", f"v1.4.0:{path}"], capture_output=True, check=True).stdout
        lines += f"{hashlib.sha256(blob).hexdigest()}  {path[len('src/scmpkg/') :]}\n"

    assert lock_entry(served, "scmpkg")["digest"] == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def test_an_untagged_commit_gets_the_version_of_its_commit(served: Project, fixture_repos: FixtureSet) -> None:
    commit = fixture_repos["buildfiles"].branches["main"]
    sync_one(served, "scmpkg", "main:src")

    run = served.python("import scmpkg, importlib.metadata as md; print(scmpkg.__version__, md.version('scmpkg'), scmpkg.VERSION)")

    assert ok(run).split() == [f"0+g{commit[:12]}", f"0+g{commit[:12]}", "2"]


def test_hatch_vcs_version_file_uses_its_template(served: Project) -> None:
    sync_one(served, "hatchpkg", "v1.4.0:hatch")

    run = served.python("import hatchpkg; print(hatchpkg.VERSION, hatchpkg.PARTS)")

    assert ok(run).strip() == "1.4.0 (1, 4, 0)"


def test_pdm_backend_write_to_lands_in_its_src_folder(served: Project) -> None:
    sync_one(served, "pdmpkg", "v1.4.0:pdm/src")

    assert ok(served.python("import pdmpkg; print(pdmpkg.__version__)")).strip() == "1.4.0"


def test_a_text_version_file_is_a_resource_of_the_package(served: Project) -> None:
    sync_one(served, "wtpkg", "v1.4.0:writeto")

    assert ok(served.python("import wtpkg; print(wtpkg.__version__)")).strip() == "1.4.0"


def test_export_subst_fills_placeholders_as_git_archive_does(served: Project, fixture_repos: FixtureSet) -> None:
    repo = fixture_repos["buildfiles"].path
    sync_one(served, "substpkg", "v1.4.0:subst")
    archived = subprocess.run(["git", "-C", str(repo), "archive", "v1.4.0", "subst/substpkg/_archive.py"], capture_output=True, check=True)
    listed = subprocess.run(["tar", "-xO"], input=archived.stdout, capture_output=True, check=True).stdout

    ours = cached_file(served, "substpkg", "_archive.py")

    # %D names every ref at the commit in git archive; gitimport names the ref the lock follows
    assert [line for line in ours.splitlines() if not line.startswith(b"REFS")] == [
        line for line in listed.splitlines() if not line.startswith(b"REFS")
    ]
    assert b'REFS = "tag: v1.4.0"' in ours
    assert b"$Format:" not in ours


def test_a_file_not_marked_export_subst_stays_as_committed(served: Project) -> None:
    sync_one(served, "substpkg", "v1.4.0:subst")

    assert cached_file(served, "substpkg", "untouched.py") == b'# not marked export-subst: stays as written\nTEXT = "$Format:%H$"\n'
    assert list(lock_entry(served, "substpkg")["generated"]) == ["_archive.py"]  # type: ignore[call-overload]


def test_the_package_imports_the_filled_file(served: Project, fixture_repos: FixtureSet) -> None:
    sync_one(served, "substpkg", "v1.4.0:subst")

    assert ok(served.python("import substpkg; print(substpkg.COMMIT)")).strip() == fixture_repos["buildfiles"].tags["v1.4.0"]


def test_a_module_only_a_build_script_writes_is_named_at_sync(served: Project) -> None:
    printed = sync_one(served, "setuppkg", "v1.4.0:setuppy")

    assert "Note: setuppkg: setuppkg/__init__.py imports setuppkg._built, which commit" in printed
    assert "gitimport runs no build code" in printed
    assert "_speedups" not in printed  # guarded by try/except ImportError: the package's own fallback


def test_show_lists_the_generated_files(served: Project) -> None:
    sync_one(served, "scmpkg", "v1.4.0:src")
    digest = lock_entry(served, "scmpkg")["generated"]["_version.py"]  # type: ignore[index]

    shown = served.cli("show", "scmpkg")
    as_json = json.loads(served.cli("show", "scmpkg", "--json").out)

    assert f"generated     _version.py {digest}" in shown.out
    assert as_json["generated"] == {"_version.py": digest}


def test_verify_finds_a_tampered_generated_file_and_repair_mends_it(served: Project) -> None:
    sync_one(served, "scmpkg", "v1.4.0:src")
    version_file = os.path.join(ok(served.gitimport("which", "scmpkg")).strip(), "_version.py")
    os.chmod(version_file, 0o644)
    with open(version_file, "a", encoding="utf-8") as handle:
        handle.write("__version__ = '9.9.9'\n")

    verify = served.cli("verify")
    repair = served.cli("sync", "--repair")

    assert verify.code == 1
    assert "_version.py" in verify.out + verify.err
    assert repair.code == 0, repair.err
    assert served.cli("verify").code == 0
    assert ok(served.python("import scmpkg; print(scmpkg.__version__)")).strip() == "1.4.0"


def test_verify_on_import_refuses_a_tampered_generated_file(served: Project) -> None:
    served.configure({"scmpkg": served.spec("v1.4.0:src", repo="buildfiles")}, settings='verify = "import"')
    assert served.cli("sync").code == 0
    version_file = os.path.join(ok(served.gitimport("which", "scmpkg")).strip(), "_version.py")
    os.chmod(version_file, 0o644)
    with open(version_file, "w", encoding="utf-8") as handle:
        handle.write("__version__ = __version_tuple__ = 'forged'\n")

    run = served.python("import scmpkg")

    assert run.returncode != 0
    assert "Refusing to import 'scmpkg': its cached files do not match the lock" in run.stderr
    assert "_version.py" in run.stderr


def test_a_lock_that_names_other_generated_files_is_refused(served: Project) -> None:
    sync_one(served, "scmpkg", "v1.4.0:src")
    forged = "sha256:" + "0" * 64
    text = served.lock_text() or ""
    served.lock_path.write_text(text.replace(str(lock_entry(served, "scmpkg")["generated"]["_version.py"]), forged))  # type: ignore[index]
    lock_before = served.lock_text()

    result = served.cli("sync")

    assert result.code == 1
    assert "the files its build writes at commit" in result.err
    assert served.lock_text() == lock_before


def test_the_generated_tree_is_its_own_cache_entry(served: Project, fixture_repos: FixtureSet) -> None:
    """The same git tree at two commits carries two version files: neither may serve the other's lock."""
    sync_one(served, "scmpkg", "v1.4.0:src")
    first = ok(served.gitimport("which", "scmpkg")).strip()

    repo = fixture_repos["buildfiles"].path
    tree = subprocess.run(["git", "-C", str(repo), "rev-parse", "v1.4.0:src/scmpkg"], capture_output=True, text=True, check=True)

    assert os.path.basename(os.path.dirname(first)).startswith(tree.stdout.strip() + ".")
    assert lock_entry(served, "scmpkg")["object"] == tree.stdout.strip()
