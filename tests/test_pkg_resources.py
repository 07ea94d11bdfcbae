"""pkg_resources sees pinned distributions as it sees installed ones (issue 11, point 7).

Every test runs a fresh interpreter against the ``meta`` fixture repository,
synced from a loopback server.  pkg_resources warns about its own deprecation
when it is imported; the tests read stdout and leave that warning alone.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest
from support.project import Project, ok
from support.servers import Server

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pkg_resources") is None, reason="needs setuptools<82 (pkg_resources)")


@pytest.fixture
def meta(project: Project, http_server: Server) -> Project:
    """A project pinning the ``meta`` fixture's two modules (one distribution, ``Meta_Pkg`` 2.5.0), synced."""
    url = http_server.repo_url("meta")
    project.configure({"metapkg": f"{url}@v2.5.0:src", "metahelper": f"{url}@v2.5.0:src"})
    result = project.cli("sync")
    assert result.code == 0, result.err
    return project


def answer(project: Project, code: str, **env: str) -> object:
    """What ``code`` prints as JSON, run after ``import pkg_resources`` in an interpreter under ``gitimport run``."""
    return json.loads(ok(project.python(f"import json, sys, pkg_resources\n{textwrap.dedent(code)}", **env)))


def installed_copy(project: Project, folder_name: str) -> str:
    """A site folder holding an installed distribution ``folder_name`` (version 0.0.1) of the same project: for PYTHONPATH."""
    site = project.root.parent / "site"
    dist_info = site / folder_name
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: meta-pkg\nVersion: 0.0.1\n")
    return str(site)


def test_get_distribution_gives_the_pinned_version(meta: Project) -> None:
    version = answer(meta, "print(json.dumps(pkg_resources.get_distribution('Meta_Pkg').version))")

    assert version == "2.5.0"


def test_location_is_the_cache_folder_that_holds_the_package(meta: Project) -> None:
    location = answer(meta, "print(json.dumps(pkg_resources.get_distribution('meta-pkg').location))")

    assert isinstance(location, str)
    assert Path(location).is_relative_to(meta.cache)
    assert (Path(location) / "metapkg" / "__init__.py").is_file()


def test_resource_filename_of_a_pinned_requirement_is_its_cached_file(meta: Project) -> None:
    filename = answer(
        meta, "print(json.dumps(pkg_resources.resource_filename(pkg_resources.Requirement.parse('meta-pkg'), 'metapkg/cli.py')))"
    )

    assert isinstance(filename, str)
    assert Path(filename).is_relative_to(meta.cache)
    assert Path(filename).read_text().startswith("def main()")


def test_requires_lists_the_pinned_requirements(meta: Project) -> None:
    requirements = answer(
        meta,
        "d = pkg_resources.get_distribution('meta-pkg'); print(json.dumps([[str(r) for r in d.requires()], [str(r) for r in d.requires(['cli'])]]))",
    )

    assert requirements == [
        ["packaging>=20", "definitely-not-installed-xyz>=1.0"],  # colorama's marker does not apply here
        ["packaging>=20", "definitely-not-installed-xyz>=1.0", 'rich>=10; python_version >= "3.8" and extra == "cli"'],
    ]


def test_require_resolves_the_pinned_requirements(meta: Project) -> None:
    error = answer(
        meta,
        """
        try:
            pkg_resources.require('meta-pkg')
        except pkg_resources.DistributionNotFound as exc:
            print(json.dumps(str(exc)))
        """,
    )

    assert error == "The 'definitely-not-installed-xyz>=1.0' distribution was not found and is required by meta-pkg"


def test_iter_entry_points_finds_a_pinned_plugin(meta: Project) -> None:
    found = answer(
        meta,
        "print(json.dumps([(e.name, e.module_name, e.dist.project_name, e.resolve()()) for e in pkg_resources.iter_entry_points('gitimport.tests')]))",
    )

    assert found == [["hello", "metapkg", "meta-pkg", "hello from metapkg"]]


def test_pinned_distribution_replaces_an_installed_one_of_the_same_name(meta: Project) -> None:
    site = installed_copy(meta, "meta_pkg-0.0.1.dist-info")

    versions = answer(
        meta,
        "print(json.dumps([pkg_resources.get_distribution('meta-pkg').version, [d.version for d in pkg_resources.working_set if d.key == 'meta-pkg']]))",
        PYTHONPATH=site,
    )

    assert versions == ["2.5.0", ["2.5.0"]]


def test_pinned_distribution_replaces_an_installed_one_spelled_differently(meta: Project) -> None:
    site = installed_copy(meta, "Meta.Pkg-0.0.1.dist-info")  # pkg_resources keys it as 'meta.pkg', not 'meta-pkg'

    versions = answer(
        meta,
        "print(json.dumps([pkg_resources.get_distribution('Meta.Pkg').version, sorted(d.version for d in pkg_resources.working_set if d.key in ('meta.pkg', 'meta-pkg'))]))",
        PYTHONPATH=site,
    )

    assert versions == ["2.5.0", ["2.5.0"]]


def test_pkg_resources_imported_before_install_sees_pinned_distributions(meta: Project) -> None:
    run = meta.plain_python(
        """
        import pkg_resources, gitimport
        before = [d.key for d in pkg_resources.working_set].count('meta-pkg')
        gitimport.install()
        print(before, pkg_resources.get_distribution('meta-pkg').version)
        """
    )

    assert ok(run).split() == ["0", "2.5.0"]


def test_pkg_resources_imported_after_install_sees_pinned_distributions(meta: Project) -> None:
    run = meta.plain_python(
        """
        import gitimport
        gitimport.install()
        import pkg_resources
        print(pkg_resources.get_distribution('meta-pkg').version)
        """
    )

    assert ok(run).strip() == "2.5.0"


def test_uninstall_puts_the_installed_distribution_back(meta: Project) -> None:
    site = installed_copy(meta, "meta_pkg-0.0.1.dist-info")
    code = """
        import gitimport
        gitimport.install()
        import pkg_resources
        gitimport.uninstall()
        print(pkg_resources.get_distribution('meta-pkg').version, [d.version for d in pkg_resources.working_set if d.key == 'meta-pkg'])
        """

    run = meta.execute(sys.executable, "-c", textwrap.dedent(code), env=meta.env(PYTHONPATH=site))

    assert ok(run).strip() == "0.0.1 ['0.0.1']"


def test_the_cache_never_goes_on_sys_path(meta: Project) -> None:
    paths = answer(
        meta,
        """
        pkg_resources.get_distribution('meta-pkg')
        list(pkg_resources.iter_entry_points('gitimport.tests'))
        print(json.dumps(sys.path))
        """,
    )

    assert isinstance(paths, list)
    assert [path for path in paths if path.startswith(str(meta.cache))] == []


def test_a_module_fetched_on_first_import_joins_the_working_set(project: Project, http_server: Server) -> None:
    project.configure({"metapkg": f"{http_server.repo_url('meta')}@v2.5.0:src"})  # not synced: the import fetches it

    version = answer(project, "import metapkg\nprint(json.dumps(pkg_resources.get_distribution('meta-pkg').version))")

    assert version == "2.5.0"


def test_importing_pkg_resources_warns_as_it_does_without_gitimport(meta: Project) -> None:
    code = """
        import json, warnings
        warnings.simplefilter('always')
        with warnings.catch_warnings(record=True) as caught:
            import pkg_resources
        print(json.dumps([[w.category.__name__, w.filename, w.lineno] for w in caught]))
        """

    with_gitimport = json.loads(ok(meta.python(code)))
    without = json.loads(ok(meta.plain_python(code)))

    assert with_gitimport == without


def test_a_process_that_never_imports_pkg_resources_loads_nothing_for_it(meta: Project) -> None:
    run = meta.python(
        """
        import sys, importlib.metadata, metapkg
        importlib.metadata.version('meta-pkg')
        print('pkg_resources' in sys.modules, 'gitimport.runtime.pkgres' in sys.modules)
        """
    )

    assert ok(run).split() == ["False", "False"]


def test_importing_pkg_resources_loads_one_module_of_gitimport_more(meta: Project) -> None:
    code = """
        import json, sys, gitimport
        gitimport.install()
        if sys.argv[1] == 'uninstalled':
            gitimport.uninstall()
        before = set(sys.modules)
        import pkg_resources
        print(json.dumps(sorted(set(sys.modules) - before)))
        """
    with_gitimport = set(json.loads(ok(meta.plain_python(code, "installed"))))
    without = set(json.loads(ok(meta.plain_python(code, "uninstalled"))))

    assert with_gitimport - without == {"gitimport.runtime.pkgres"}
