"""Distribution metadata of pinned packages through importlib.metadata (issue 3, row 11 and 14)."""

from __future__ import annotations

import json
import sys

import pytest
from support.project import Project, ok
from support.repos import FixtureSet, add_commit


@pytest.fixture
def meta(project: Project, fixture_repos: FixtureSet) -> FixtureSet:
    return fixture_repos


def sync_meta(project: Project, fixture_repos: FixtureSet, ref: str = "v2.5.0") -> str:
    url = str(fixture_repos["meta"].path)
    project.configure({"metapkg": f"{url}@{ref}:src", "metahelper": f"{url}@{ref}:src"})
    result = project.cli("sync")
    assert result.code == 0, result.err
    return result.err


def metadata_of(project: Project, code: str) -> object:
    run = project.python(f"import importlib.metadata as md, json\nprint(json.dumps({code}))")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_package_reads_its_own_static_version_at_import(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    run = project.python("import metapkg; print(metapkg.__version__)")

    assert run.stdout.strip() == "2.5.0", run.stderr


def test_metadata_name_summary_and_requirements(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    data = metadata_of(project, "[md.metadata('meta-pkg')['Name'], md.metadata('Meta_Pkg')['Summary'], md.requires('meta.pkg')]")

    assert data == [
        "Meta_Pkg",
        "Fixture for distribution metadata",
        [
            "packaging>=20",
            "definitely-not-installed-xyz>=1.0",
            "colorama; sys_platform == 'win32'",
            "rich>=10; (python_version >= '3.8') and extra == \"cli\"",
        ],
    ]


def test_dynamic_version_comes_from_a_version_like_tag(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta, ref="v3.1.4")

    assert metadata_of(project, "md.version('meta-pkg')") == "3.1.4"


def test_dynamic_version_without_a_version_tag_names_the_commit(project: Project, meta: FixtureSet) -> None:
    commit = meta["meta"].tags["v3.1.4"]
    sync_meta(project, meta, ref=commit)

    assert metadata_of(project, "md.version('meta-pkg')") == f"0+g{commit[:12]}"


def test_setup_cfg_metadata(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta, ref="cfg-1")

    data = metadata_of(project, "[md.version('cfgpkg'), md.requires('cfgpkg')]")

    assert data == ["0.9.1", ["packaging>=20", "another-missing-dependency==1.2"]]


def test_entry_points_of_a_pinned_package(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    data = metadata_of(
        project,
        "[(e.name, e.value) for e in md.distribution('meta-pkg').entry_points]",
    )

    assert sorted(map(tuple, data)) == [("hello", "metapkg:hello"), ("meta-tool", "metapkg.cli:main")]


def test_files_point_into_the_cache_with_correct_hashes(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    code = """[
        (str(f), str(f.locate()), f.locate().exists(), f.hash is None or __import__('base64').urlsafe_b64encode(__import__('hashlib').sha256(f.locate().read_bytes()).digest()).rstrip(b'=').decode() == f.hash.value)
        for f in md.files('meta-pkg')
    ]"""
    files = metadata_of(project, code)

    names = [name for name, _, _, _ in files]
    assert {"metapkg/__init__.py", "metapkg/cli.py", "metahelper.py"} <= set(names)
    for name, location, exists, hash_ok in files:
        if name.endswith(".py"):
            assert exists and hash_ok and location.startswith(str(project.cache)), name


def test_direct_url_names_the_exact_commit(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    data = metadata_of(project, "json.loads(md.distribution('meta-pkg').read_text('direct_url.json'))")

    assert data == {
        "url": meta["meta"].path.as_uri(),
        "vcs_info": {"vcs": "git", "commit_id": meta["meta"].tags["v2.5.0"], "requested_revision": "v2.5.0"},
    }


def test_two_modules_of_one_project_form_one_distribution(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    data = metadata_of(project, "[d.metadata['Name'] for d in md.distributions()].count('Meta_Pkg')")

    assert data == 1


@pytest.mark.skipif(sys.version_info < (3, 10), reason="packages_distributions() is new in Python 3.10")
def test_packages_distributions_maps_both_modules(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)

    data = metadata_of(project, "[md.packages_distributions().get(n) for n in ('metapkg', 'metahelper')]")

    assert data == [["Meta_Pkg"], ["Meta_Pkg"]]


def test_pinned_distribution_wins_over_an_installed_one(project: Project, meta: FixtureSet) -> None:
    sync_meta(project, meta)
    site = project.root.parent / "site"
    installed = site / "meta_pkg-0.0.1.dist-info"
    installed.mkdir(parents=True)
    (installed / "METADATA").write_text("Metadata-Version: 2.1\nName: meta-pkg\nVersion: 0.0.1\n")

    run = project.python(
        "import importlib.metadata as md; print(md.version('meta-pkg'), [d.version for d in md.distributions() if d.metadata['Name'].lower().replace('_', '-') == 'meta-pkg'])",
        PYTHONPATH=str(site),
    )

    assert run.stdout.split(" ", 1)[0] == "2.5.0", run.stderr
    assert run.stdout.split(" ", 1)[1].strip().startswith("['2.5.0'"), run.stdout


def test_sync_names_unmet_requirements(project: Project, meta: FixtureSet) -> None:
    err = sync_meta(project, meta)

    assert "Meta_Pkg requires 'definitely-not-installed-xyz>=1.0', but it is not installed" in err
    assert "colorama" not in err  # its marker does not apply here
    assert "rich" not in err  # an extra nobody asked for


def test_status_notes_unmet_requirements_without_failing_check(project: Project, meta: FixtureSet) -> None:
    """What sync warns of once, status says every time it is asked (a note: the lock and cache are not out of date)."""
    sync_meta(project, meta)

    result = project.cli("status", "--offline", "--check")
    data = json.loads(project.cli("status", "--offline", "--json").out)

    assert result.code == 0, result.err
    expected = "Meta_Pkg requires 'definitely-not-installed-xyz>=1.0', but it is not installed"
    assert f"metapkg: {expected}" in result.out and f"metahelper: {expected}" in result.out
    assert "colorama" not in result.out
    notes = {module["name"]: module["notes"] for module in data["modules"]}
    assert any(note.startswith(expected) for note in notes["metapkg"]), notes


def test_unmet_requirements_of_another_interpreter(project: Project, meta: FixtureSet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    sync_meta(project, meta)

    result = project.cli("sync", "--python", str(venv / "bin" / "python"))

    assert "requires 'packaging>=20', but it is not installed" in result.err


def test_a_setup_py_project_inside_a_monorepo_does_not_take_the_roots_metadata(project: Project, mutable_repos: FixtureSet) -> None:
    """The nearest project is the setup.py one, whose metadata only running it would give: no .dist-info, not the root's.

    sync's metadata walk once went past a folder with only setup.py and gave
    the package the repository root's ``[project]`` (toolbox), while the
    whole-distribution walk stopped there: one question, two rules.
    """
    repo = mutable_repos["toolbox"].path
    add_commit(
        repo, {"libs/foo/setup.py": b"from setuptools import setup\nsetup(name='foo')\n", "libs/foo/foo/__init__.py": b"X = 1\n"}, "foo"
    )
    project.configure({"foo": f"{repo}@main:libs/foo"})

    result = project.cli("sync")

    assert result.code == 0, result.err
    found = metadata_of(project, "[d.metadata['Name'] for d in md.distributions() if d.read_text('direct_url.json')]")
    assert "toolbox" not in found
    assert ok(project.python("import foo; print(foo.X)")) == "1\n"
