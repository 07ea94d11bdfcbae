"""Exact hints when PATH is wrong (docs/configuration.md#path, docs/troubleshooting.md): a src layout, a package's __init__.py."""

from __future__ import annotations

from support.project import Project
from support.repos import FixtureSet

from gitimport.store import layout


def refused(project: Project, *args: str) -> str:
    """Run the CLI, assert it failed and wrote neither a lock nor a tree; return its error output."""
    result = project.cli(*args)
    assert result.code != 0
    assert project.lock_text() is None
    assert not (project.cache / layout.TREES).exists() or not project.tree_entries()
    return result.err


def test_a_package_under_src_is_named_in_the_hint(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"mylib": f"{fixture_repos['toolbox'].path}@v1"})

    err = refused(project, "sync")

    assert "add ':src/mylib' to the spec" in err
    assert f'`mylib = "{fixture_repos["toolbox"].path}@v1:src/mylib"`' in err


def test_a_packages_init_file_is_refused(project: Project, fixture_repos: FixtureSet) -> None:
    project.configure({"mylib": f"{fixture_repos['toolbox'].path}@v1:src/mylib/__init__.py"})

    err = refused(project, "sync")

    assert "PATH 'src/mylib/__init__.py' is the __init__.py of package 'mylib'" in err
    assert "':src/mylib'" in err


def test_add_refuses_a_packages_init_file_too(project: Project, fixture_repos: FixtureSet) -> None:
    err = refused(project, "add", "mylib", f"{fixture_repos['toolbox'].path}@v1:src/mylib/__init__.py")

    assert "is the __init__.py of package 'mylib'" in err
    assert not project.config_path.exists()


def test_one_level_down_and_modules_are_found_and_others_keep_the_generic_hint(project: Project, fixture_repos: FixtureSet) -> None:
    url = fixture_repos["toolbox"].path
    project.configure({"inner": f"{url}@v1"})
    assert f"add ':nsdir/inner' to the spec: `inner = \"{url}@v1:nsdir/inner\"`" in refused(project, "sync")

    project.configure({"rootmod": f"{url}@v1"})
    assert "add ':lib/rootmod.py' to the spec" in refused(project, "sync")

    project.configure({"acme.rootmod": f"{url}@v1"})
    assert f'`"acme.rootmod" = "{url}@v1:lib/rootmod.py"`' in refused(project, "sync")

    project.configure({"nowhere": f"{url}@v1"})
    assert "add ':PATH' to the spec" in refused(project, "sync")
