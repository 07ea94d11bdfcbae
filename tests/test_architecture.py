"""The package's layers: imports point down, with one documented exception, and the warm path stays light.

The map is in docs/development.md#the-layers.  Every import of every module is
read from its source (module level and inside functions; ``TYPE_CHECKING``
blocks only name types and are left out), so a lazy import that climbs a
layer is caught as surely as an eager one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import Project
from support.repos import FixtureSet

import gitimport

PACKAGE = Path(gitimport.__file__).parent

#: Layers from the bottom up; a module may import its own layer and the ones below.
LAYERS: list[tuple[str, ...]] = [
    ("gitimport.errors", "gitimport.atomic"),
    ("gitimport.project",),
    ("gitimport.store",),
    ("gitimport.remote", "gitimport.target"),
    ("gitimport.state",),
    ("gitimport.runtime",),
    ("gitimport.sync", "gitimport.workers", "gitimport.edit", "gitimport.pin", "gitimport.export"),
    ("gitimport.cli", "gitimport.__main__"),
]
#: Siblings in one layer that must not know each other.
SEPARATE = [("gitimport.remote", "gitimport.target")]
#: The one edge that points up: the finder's cold path syncs the module it cannot serve.
ALLOWED_UPWARD = {("gitimport.runtime.coldpath", "gitimport.sync")}
#: What a warm ``import pinned_module`` under ``gitimport run`` may load of gitimport.
WARM_PATH = {
    "gitimport",
    "gitimport.project",
    "gitimport.project.discovery",
    "gitimport.runtime",
    "gitimport.runtime.finder",
    "gitimport.state",
    "gitimport.store",
    "gitimport.store.layout",
}
#: What the first import of a module by an interpreter may load besides: it writes and records the module's .pyc.
FIRST_IMPORT = WARM_PATH | {"gitimport.atomic", "gitimport.store.bytecode", "gitimport.store.hashing"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    for index, members in enumerate(LAYERS):
        if any(module == member or module.startswith(member + ".") for member in members):
            return index
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(imported gitimport module, at module level?) for every import in a file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, top_level) for alias in child.names if alias.name.startswith("gitimport"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("gitimport"):
                    # ``from . import layout`` imports a submodule: count the submodule
                    names = [f"{target}.{alias.name}" for alias in child.names if is_module(f"{target}.{alias.name}")]
                    found.extend((name, top_level) for name in names or [target])
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def all_modules() -> dict[str, list[tuple[str, bool]]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = [name for name in all_modules() if name != "gitimport" and layer_of(name) is None]

    assert unplaced == []


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, imports in all_modules().items():
        here = layer_of(module)
        for target, _ in imports:
            there = layer_of(target)
            if here is not None and there is not None and there > here and (module, target) not in ALLOWED_UPWARD:
                upward.append(f"{module} -> {target}")

    assert upward == []


def test_the_one_upward_edge_is_lazy() -> None:
    coldpath = all_modules()["gitimport.runtime.coldpath"]

    assert ("gitimport.sync", False) in coldpath
    assert ("gitimport.sync", True) not in coldpath


def test_sibling_layers_do_not_import_each_other() -> None:
    crossing = [
        f"{module} -> {target}"
        for module, imports in all_modules().items()
        for target, _ in imports
        for a, b in SEPARATE
        if (module.startswith(a) and target.startswith(b)) or (module.startswith(b) and target.startswith(a))
    ]

    assert crossing == []


def test_no_import_cycle_at_module_level() -> None:
    graph = {module: {target for target, top in imports if top and target != module} for module, imports in all_modules().items()}
    cycles = []

    def walk(module: str, trail: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in trail:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target in graph and target not in done:
                walk(target, [*trail, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            walk(module, [module])

    assert cycles == []


def test_nothing_below_the_remote_layer_imports_dulwich_at_module_level() -> None:
    remote = layer_of("gitimport.remote")
    eager = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        here = layer_of(module)
        if here is None or here >= remote:  # type: ignore[operator]
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                eager += [f"{module} imports {n}" for n in names if n.split(".")[0] == "dulwich"]

    assert eager == []


#: Not even ``__future__``: every module an interpreter loads costs it about 2 % of its start-up (docs/performance.md).
WARM_PROBE = (
    "import sys, helper, mylib\n"
    "print(sorted(m for m in sys.modules if m.startswith('gitimport')))\n"
    "heavy = ('dulwich', 'tomllib', 'tomli', 'pathlib', 'dataclasses', 're', 'enum', 'typing', '__future__')\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
)


FIRST_IMPORT_PROBE = (
    "import sys, helper, mylib\n"
    "print(sorted(m for m in sys.modules if m.startswith('gitimport')))\n"
    "heavy = ('dulwich', 'tomllib', 'tomli', 'pathlib', 'dataclasses', 'json', 're', 'hashlib', 'py_compile', 'importlib')\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
)


@pytest.fixture
def warm_project(project: Project, fixture_repos: FixtureSet) -> Project:
    toolbox = fixture_repos["toolbox"].path
    project.configure({"helper": f"{toolbox}@v1:tools/helper.py", "mylib": f"{toolbox}@v2:src", "acme.tools": f"{toolbox}@v1:tools"})
    assert project.cli("sync", "-q").code == 0
    return project


def test_the_warm_path_loads_only_the_light_modules(warm_project: Project) -> None:
    assert warm_project.python("import helper, mylib").returncode == 0  # the snapshot and the .pyc files are written
    result = warm_project.python(WARM_PROBE)

    assert result.returncode == 0, result.stderr
    loaded, heavy = (eval(line) for line in result.stdout.splitlines())
    assert set(loaded) <= WARM_PATH, set(loaded) - WARM_PATH
    assert heavy == []


def test_a_first_import_that_writes_bytecode_loads_only_the_light_modules(warm_project: Project) -> None:
    assert warm_project.python("import helper").returncode == 0  # the snapshot is written; mylib has no .pyc yet
    result = warm_project.python(FIRST_IMPORT_PROBE)

    assert result.returncode == 0, result.stderr
    loaded, heavy = (eval(line) for line in result.stdout.splitlines())
    assert "gitimport.store.bytecode" in loaded  # mylib was compiled in this process
    assert set(loaded) <= FIRST_IMPORT, set(loaded) - FIRST_IMPORT
    assert heavy == []


@pytest.mark.parametrize("light", [WARM_PATH, FIRST_IMPORT], ids=["warm", "first import"])
def test_the_warm_path_modules_import_only_the_standard_library_and_each_other(light: set[str]) -> None:
    """What the warm path imports at module level never leaves the light set (the probes above check one run)."""
    modules = all_modules()
    escaping = [f"{module} -> {target}" for module in light for target, top in modules[module] if top and target not in light]

    assert escaping == []


def test_a_no_op_sync_imports_no_dulwich_and_no_toml(warm_project: Project) -> None:
    code = "import sys; from gitimport.cli.main import main; main(['sync', '-q']); print(sorted(m for m in sys.modules if m.split('.')[0] in ('dulwich', 'tomllib', 'tomli')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=warm_project.root, env=warm_project.env(), capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
