"""Which top-level import names a distribution ships, read from one commit (docs/configuration.md#whole-distributions).

pytest ships ``pytest``, ``_pytest`` and ``py``; pinning ``pytest`` alone
fails later with ``No module named 'py'``.  Sync asks :func:`shipped_names`
which names the distribution of a pinned root ships, so it can say which of
them no entry pins.  The answer comes from the project's build configuration
read as data: ``[tool.setuptools]``, ``setup.cfg``'s ``[options]``, hatch's
wheel ``packages``, poetry's ``packages``, flit's module, and otherwise
setuptools' automatic discovery (src layout, then flat layout).  Nothing from
the repository is ever run: a project configured only by a ``setup.py`` has no
answer (None), and neither has a flat layout that setuptools itself would
refuse to build.

The project is the nearest folder at or above the root that a build would
make a distribution of (:func:`nearest_project`, which the distribution's
metadata, :func:`gitimport.store.metadata.find_project`, asks too).  Objects
are read with :mod:`gitimport.store.objects`, so each is re-hashed against its id.
"""

from __future__ import annotations

import configparser
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, PathNotFoundError
from ..project._toml import parse_toml
from .metadata_formats import toml_table
from .objects import MODE_TREE, TreeFiles

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore

#: Folders setuptools' flat-layout discovery never takes for packages (setuptools.discovery.FlatLayoutPackageFinder).
RESERVED_PACKAGES = (
    "ci", "bin", "debian", "doc", "docs", "documentation", "manpages", "news", "newsfragments", "changelog",
    "test", "tests", "unit_test", "unit_tests", "example", "examples", "scripts", "tools", "util", "utils",
    "python", "build", "dist", "venv", "env", "requirements", "tasks", "fabfile", "site_scons",
    "benchmark", "benchmarks", "exercise", "exercises", "htmlcov", "[._]*",
)  # fmt: skip
#: Files setuptools' flat-layout discovery never takes for modules (setuptools.discovery.FlatLayoutModuleFinder).
RESERVED_MODULES = (
    "setup", "conftest", "test", "tests", "example", "examples", "build", "toxfile", "noxfile", "pavement",
    "dodo", "tasks", "fabfile", "[Ss][Cc]onstruct", "conanfile", "manage", "benchmark", "benchmarks",
    "exercise", "exercises", "[._]*",
)  # fmt: skip
#: What every setuptools package search leaves out (setuptools.discovery.PackageFinder.ALWAYS_EXCLUDE).
_ALWAYS_EXCLUDED = ("ez_setup", "*__pycache__")
_FILE = 0o100000


@dataclass(frozen=True)
class Shipped:
    """The top-level names one distribution ships, each with where its root is in the commit."""

    distribution: str  # the project's name, as its configuration writes it
    project_dir: str  # the folder of its pyproject.toml or setup.cfg ('' for the repository root)
    names: dict[str, str]  # import name -> path of its package folder or .py file in the commit


class _Unknown(Exception):
    """The configuration cannot say which names ship without running code, or says nothing readable."""


def shipped_names(store: DiskObjectStore, commit: str, root_path: str) -> Shipped | None:
    """What the distribution that ships ``root_path`` (a pinned package folder or module file) ships.

    Returns None when no project holds ``root_path``, when its names cannot be
    read without running code, or when the distribution does not ship
    ``root_path`` itself (a helper file next to a project is not part of it).
    """
    tree = TreeFiles.of_commit(store, commit)
    found = nearest_project(tree, posixpath.dirname(root_path))
    if found is None or not found.readable:
        return None
    project_dir, pyproject, setup_cfg = found.path, found.pyproject, found.setup_cfg
    try:
        relative = _discover(tree, project_dir, pyproject, setup_cfg)
    except _Unknown:
        return None
    names = {name: _join(project_dir, where) for name, where in sorted(relative.items())}
    if root_path not in names.values():
        return None
    return Shipped(_project_name(pyproject, setup_cfg), project_dir, names)


def also_root(store: DiskObjectStore, commit: str, path: str, name: str, owner: str) -> str:
    """Where ``also`` name ``name`` of entry ``owner`` is: ``PATH/name/`` or ``PATH/name.py`` (rule 3 only).

    ``also`` shares the entry's PATH, so PATH must be the folder that holds
    every name: not a package (rule 2, which would serve the package under
    each name) and not a folder without the name (rule 4, which would serve
    PATH itself as a namespace).

    Raises:
      PathNotFoundError: PATH does not hold ``name`` as a folder or a ``.py`` file.
    """
    tree = TreeFiles.of_commit(store, commit)
    leaf = name.rsplit(".", 1)[-1]
    found = _locate(tree, path, leaf)
    if found is not None:
        return _join(path, found)
    shown = repr(path) if path else "the repository root"
    if _is_file(tree.entries(path).get("__init__.py")):
        raise PathNotFoundError(
            f"{owner}: PATH {shown} is a package itself, so it cannot also hold {name!r}.",
            f'write path = "{posixpath.dirname(path)}", the folder that holds {owner} and every name in also',
        )
    raise PathNotFoundError(
        f"{owner}: PATH {shown} in commit {commit[:12]} holds neither {leaf}.py nor a folder {leaf}/, which also names.",
        "take the name out of also, or point path at the folder that holds all the names",
    )


def _join(folder: str, *parts: str) -> str:
    """A normalized path inside the commit ('' for its root); ``..`` out of the commit raises :class:`_Unknown`."""
    joined = posixpath.normpath(posixpath.join(folder, *parts))
    if joined.startswith(("..", "/")):
        raise _Unknown(joined)
    return "" if joined == "." else joined


def _is_tree(entry: tuple[int, str] | None) -> bool:
    return entry is not None and entry[0] == MODE_TREE


def _is_file(entry: tuple[int, str] | None) -> bool:
    return entry is not None and entry[0] & 0o170000 == _FILE


@dataclass(frozen=True)
class ProjectFolder:
    """The project that holds a path, as :func:`nearest_project` found it."""

    path: str  # '' for the repository root
    pyproject: dict[str, Any]
    setup_cfg: configparser.ConfigParser | None
    readable: bool  # False: its pyproject.toml or setup.cfg is there but cannot be read, so what it ships is unknown


class _Unreadable(Exception):
    """A project file that is there but cannot be read: too large, or not valid TOML or INI."""


def nearest_project(tree: TreeFiles, folder: str) -> ProjectFolder | None:
    """The nearest project folder at or above ``folder``, with its pyproject.toml and setup.cfg as read.

    A project is a folder a build would make a distribution of: a
    ``pyproject.toml`` that declares one (``[project]``, ``[tool.poetry]``,
    flit's old ``[tool.flit.metadata]``), a ``setup.cfg`` with
    ``[metadata]`` or ``[options]``, or a ``setup.py``; or a folder whose
    pyproject.toml or setup.cfg cannot be read, which is most likely one.
    A pyproject.toml that declares none (only ``[tool.ruff]``, say) does not
    stop the walk: a monorepo's root file configures tools, not a
    distribution.  A ``setup.py`` does, even though only running it would
    say what it ships: the package belongs to it, never to a project further
    up.  This is the one rule for "which project holds this path"; the
    distribution's metadata and its top-level names both ask it.
    """
    parts = folder.split("/") if folder else []
    for depth in range(len(parts), -1, -1):
        here = "/".join(parts[:depth])
        try:
            pyproject = _read_pyproject(tree, here)
            setup_cfg = _read_setup_cfg(tree, here)
        except _Unreadable:
            return ProjectFolder(here, {}, None, readable=False)
        tool = toml_table(pyproject, "tool")
        declares = "project" in pyproject or "poetry" in tool or "metadata" in toml_table(tool, "flit")
        if declares or setup_cfg is not None or _is_file(tree.entries(here).get("setup.py")):
            return ProjectFolder(here, pyproject, setup_cfg, readable=True)
    return None


def _project_text(tree: TreeFiles, folder: str, name: str) -> str | None:
    """The file's text; None when there is no such regular file."""
    path = _join(folder, name)
    if tree.blob(path) is None:
        return None
    data = tree.read(path)
    if data is None:
        raise _Unreadable(path)
    return data.decode("utf-8", "replace")


def _read_pyproject(tree: TreeFiles, folder: str) -> dict[str, Any]:
    text = _project_text(tree, folder, "pyproject.toml")
    if text is None:
        return {}
    try:
        return parse_toml(text, posixpath.join(folder, "pyproject.toml"), ConfigError)
    except ConfigError:
        raise _Unreadable(folder) from None


def _read_setup_cfg(tree: TreeFiles, folder: str) -> configparser.ConfigParser | None:
    """setup.cfg when it configures a distribution (``[metadata]`` or ``[options]``)."""
    text = _project_text(tree, folder, "setup.cfg")
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise _Unreadable(folder) from None
    return parser if parser.has_section("metadata") or parser.has_section("options") else None


def _project_name(pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser | None) -> str:
    for table in (toml_table(pyproject, "project"), toml_table(pyproject, "tool", "poetry")):
        if isinstance(table.get("name"), str):
            return str(table["name"])
    return setup_cfg.get("metadata", "name", fallback="").strip() if setup_cfg is not None else ""


def _discover(tree: TreeFiles, project: str, pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser | None) -> dict[str, str]:
    """Name -> root path relative to the project folder, by the first rule that applies."""
    backend = toml_table(pyproject, "build-system").get("build-backend")
    flit = toml_table(pyproject, "tool", "flit", "module")
    if flit or (isinstance(backend, str) and backend.startswith("flit")):
        return _flit(tree, project, flit.get("name") or toml_table(pyproject, "project").get("name"))
    wheel = toml_table(pyproject, "tool", "hatch", "build", "targets", "wheel").get("packages")
    hatch = wheel if wheel is not None else toml_table(pyproject, "tool", "hatch", "build").get("packages")
    if hatch is not None:
        folders = [_path(where) for where in _strings(hatch)]
        return {posixpath.basename(f): f for f in folders if posixpath.basename(f).isidentifier() and tree.is_folder(_join(project, f))}
    poetry = toml_table(pyproject, "tool", "poetry").get("packages")
    if poetry is not None:
        return _poetry(tree, project, poetry)
    packages, modules, package_dir = _setuptools(pyproject, setup_cfg)
    if packages is not None or modules is not None:
        listed = _listed_packages(tree, project, packages or [], package_dir)
        return {**listed, **_listed_modules(tree, project, modules or [], package_dir)}
    if _is_file(tree.entries(project).get("setup.py")):
        raise _Unknown("setup.py may pass packages= itself")
    return _automatic(tree, project, package_dir)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Unknown(value)
    return value


def _path(value: str) -> str:
    return posixpath.normpath(value).strip("/")


def _flit(tree: TreeFiles, project: str, name: object) -> dict[str, str]:
    """flit ships one module: ``[tool.flit.module] name``, else the project's name; in the project folder or ``src/``."""
    if not isinstance(name, str):
        raise _Unknown(name)
    top = name.replace("-", "_").split(".")[0]
    for folder in ("", "src"):
        found = _locate(tree, _join(project, folder), top)
        if found is not None:
            return {top: _join(folder, found)}
    return {}


def _poetry(tree: TreeFiles, project: str, packages: object) -> dict[str, str]:
    """``packages = [{include = "pkg", from = "src"}]``: ``include`` may be a glob; ``format = "sdist"`` ships no wheel."""
    if not isinstance(packages, list):
        raise _Unknown(packages)
    found: dict[str, str] = {}
    for item in packages:
        if not isinstance(item, dict) or not isinstance(item.get("include"), str):
            raise _Unknown(item)
        formats = item.get("format", ["wheel"])
        if "wheel" not in ([formats] if isinstance(formats, str) else formats):
            continue
        source = _path(str(item.get("from", "")))
        pattern = _path(item["include"]).split("/")[0]
        for entry in sorted(tree.entries(_join(project, source))):
            stem = entry[: -len(".py")] if entry.endswith(".py") else entry
            if fnmatchcase(entry, pattern) and stem.isidentifier():
                found[stem] = _join(source, entry)
    return found


def _setuptools(
    pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser | None
) -> tuple[list[str] | _Find | None, list[str] | None, dict[str, str]]:
    """``packages``, ``py-modules`` and ``package-dir`` of ``[tool.setuptools]``, else of setup.cfg's ``[options]``."""
    table = toml_table(pyproject, "tool", "setuptools")
    package_dir = table.get("package-dir", {})
    if not isinstance(package_dir, dict) or not all(isinstance(v, str) for v in package_dir.values()):
        raise _Unknown(package_dir)
    packages: list[str] | _Find | None = None
    if isinstance(table.get("packages"), dict):
        find = toml_table(table, "packages", "find")
        packages = _Find(
            tuple(_strings(find.get("where", ["."]))),
            tuple(_strings(find.get("include", ["*"]))),
            tuple(_strings(find.get("exclude", []))),
            find.get("namespaces", True) is not False,
        )
    elif "packages" in table:
        packages = _strings(table["packages"])
    modules = _strings(table["py-modules"]) if "py-modules" in table else None
    if packages is not None or modules is not None or package_dir or setup_cfg is None:
        return packages, modules, dict(package_dir)
    return _setup_cfg_options(setup_cfg)


def _setup_cfg_options(setup_cfg: configparser.ConfigParser) -> tuple[list[str] | _Find | None, list[str] | None, dict[str, str]]:
    """The same three settings from setup.cfg: ``packages = find:`` with ``[options.packages.find]``, or a list."""
    options = dict(setup_cfg.items("options")) if setup_cfg.has_section("options") else {}
    package_dir = {}
    for line in _cfg_list(options.get("package_dir", ""), commas=False):
        key, _, value = line.rpartition("=")
        package_dir[key.strip()] = value.strip()
    text = options.get("packages", "").strip()
    packages: list[str] | _Find | None = _cfg_list(text) if text else None
    if text in ("find:", "find_namespace:"):
        found = dict(setup_cfg.items("options.packages.find")) if setup_cfg.has_section("options.packages.find") else {}
        packages = _Find(
            tuple(_cfg_list(found.get("where", "")) or ["."]),
            tuple(_cfg_list(found.get("include", "")) or ["*"]),
            tuple(_cfg_list(found.get("exclude", ""))),
            text == "find_namespace:",
        )
    modules = _cfg_list(options["py_modules"]) if "py_modules" in options else None
    return packages, modules, package_dir


def _cfg_list(text: str, commas: bool = True) -> list[str]:
    """A setup.cfg list: one item a line, or (``commas``) separated by commas."""
    items = text.replace(",", "\n").splitlines() if commas else text.splitlines()
    return [item.strip() for item in items if item.strip()]


@dataclass(frozen=True)
class _Find:
    """``packages = find:`` / ``{find = {...}}``: folders searched, fnmatch patterns kept and dropped."""

    where: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    namespaces: bool


def _listed_packages(tree: TreeFiles, project: str, packages: list[str] | _Find, package_dir: dict[str, str]) -> dict[str, str]:
    """Top-level names of a ``packages`` list (``package-dir`` says where each is) or of a ``find``."""
    if isinstance(packages, _Find):
        return _found_packages(tree, project, packages)
    found: dict[str, str] = {}
    for package in packages:
        top = package.split(".")[0]
        where = _path(package_dir[top]) if top in package_dir else _join(package_dir.get("", ""), top)
        if top.isidentifier() and tree.is_folder(_join(project, where)):
            found[top] = where
    return found


def _listed_modules(tree: TreeFiles, project: str, modules: list[str], package_dir: dict[str, str]) -> dict[str, str]:
    """Top-level names of a ``py-modules`` list, in the folder ``package-dir`` gives the root package."""
    found: dict[str, str] = {}
    for module in modules:
        top = module.split(".")[0]
        located = _locate(tree, _join(project, package_dir.get("", "")), top)
        if located is not None:
            found[top] = _join(package_dir.get("", ""), located)
    return found


def _locate(tree: TreeFiles, folder: str, name: str) -> str | None:
    """``name/`` or ``name.py`` in ``folder``, in Python's order: a package, then a module, then a namespace folder."""
    entries = tree.entries(folder)
    if _is_file(tree.entries(_join(folder, name)).get("__init__.py")):
        return name
    if _is_file(entries.get(f"{name}.py")):
        return f"{name}.py"
    return name if _is_tree(entries.get(name)) else None


def _found_packages(tree: TreeFiles, project: str, find: _Find) -> dict[str, str]:
    """What setuptools' ``find_packages`` / ``find_namespace_packages`` returns, reduced to top-level names."""
    exclude = (*_ALWAYS_EXCLUDED, *find.exclude)
    found: dict[str, str] = {}
    for where in find.where:
        folder = _join(project, where)
        for name, entry in sorted(tree.entries(folder).items()):
            kept = _is_tree(entry) and name.isidentifier() and name not in found
            if kept and any(_packages_under(tree, _join(folder, name), name, find, exclude)):
                found[name] = _join(where, name)
    return found


def _packages_under(tree: TreeFiles, folder: str, dotted: str, find: _Find, exclude: tuple[str, ...]) -> Iterator[bool]:
    """Whether ``dotted`` and each package below it is kept, lazily: a top-level name ships when any is."""
    if not find.namespaces and not _is_file(tree.entries(folder).get("__init__.py")):
        return
    yield any(fnmatchcase(dotted, p) for p in find.include) and not any(fnmatchcase(dotted, p) for p in exclude)
    for name, entry in sorted(tree.entries(folder).items()):
        if _is_tree(entry) and "." not in name:
            yield from _packages_under(tree, _join(folder, name), f"{dotted}.{name}", find, exclude)


def _automatic(tree: TreeFiles, project: str, package_dir: dict[str, str]) -> dict[str, str]:
    """setuptools' automatic discovery: an explicit ``package-dir``, else a src layout, else a flat layout."""
    explicit = sorted(name for name in package_dir if name)
    if explicit:
        return _listed_packages(tree, project, explicit, package_dir)
    src = _path(package_dir.get("", "src"))
    if src == "." or tree.is_folder(_join(project, src)):
        return _every_name(tree, project, "" if src == "." else src)
    return _flat(tree, project)


def _every_name(tree: TreeFiles, project: str, src: str) -> dict[str, str]:
    """A src layout ships everything in it: every folder (namespace packages too) and every module."""
    found: dict[str, str] = {}
    for name, entry in sorted(tree.entries(_join(project, src)).items()):
        if _is_tree(entry) and name.isidentifier() and not _reserved(name, _ALWAYS_EXCLUDED):
            found[name] = _join(src, name)
        elif name.endswith(".py") and _is_file(entry) and name[: -len(".py")].isidentifier():
            found.setdefault(name[: -len(".py")], _join(src, name))
    return found


def _flat(tree: TreeFiles, project: str) -> dict[str, str]:
    """A flat layout ships one top-level package, else one module; setuptools refuses more than one."""
    entries = tree.entries(project)
    packages = [n for n, e in sorted(entries.items()) if _is_tree(e) and n.isidentifier() and not _reserved(n, RESERVED_PACKAGES)]
    stems = [n[: -len(".py")] for n, e in sorted(entries.items()) if n.endswith(".py") and _is_file(e)]
    modules = [s for s in stems if s.isidentifier() and not _reserved(s, RESERVED_MODULES)]
    for kind in (packages, modules):
        if len(kind) > 1:
            raise _Unknown(f"setuptools refuses several top-level names in a flat layout: {kind}")
        if kind:
            return {kind[0]: kind[0] if kind is packages else f"{kind[0]}.py"}
    return {}


def _reserved(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)
