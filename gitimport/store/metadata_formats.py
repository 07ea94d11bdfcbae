"""What a project says about itself, read from each common metadata format in a commit, never by running it.

A pinned package gets the metadata pip would have installed for it
(docs/import-fidelity.md, row 11): its name, version, summary, requirements,
extras and entry points.  Build backends take these from different places, so
this module has one reader per format:

- ``pyproject.toml`` ``[project]`` (PEP 621), with a dynamic version read
  from ``[tool.setuptools.dynamic]``, ``[tool.hatch.version] path``,
  ``[tool.pdm.version]``'s file, a flit module's ``__version__`` or Poetry 2's
  ``[tool.poetry] version``;
- ``[tool.poetry]`` of Poetry before 2 (see :mod:`.metadata_poetry` for its
  dependency syntax);
- ``[tool.flit.metadata]`` of flit before PEP 621;
- ``setup.cfg`` ``[metadata]`` and ``[options]`` of setuptools.

Everything is parsed statically: a version that setuptools would find by
importing the module (``attr:`` of something that is not a literal) is never
computed here, because sync must not run code from a repository.  A version
that only running a tool could give (setuptools-scm, hatch-vcs, a non-literal
``attr:``) is left empty, and :func:`gitimport.store.metadata.find_project`
takes it from the ref.  Files are read through :class:`ProjectFiles`, which
caps their size, and every input that cannot be read becomes a note for the
user and a fallback, never a failed sync.  Whatever the format, what would not
fit in a ``.dist-info`` as it is (a line break that would forge a METADATA
line, a script name that is a path) is left out the same way
(:func:`_well_formed`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .objects import MAX_PROJECT_FILE, TreeFiles
from .python_source import parse_source

if TYPE_CHECKING:
    import configparser


#: hatchling's default pattern for ``[tool.hatch.version] path``, used for PDM's ``file`` source too.
_VERSION_ASSIGNMENT = re.compile(r"""(?im)^(__version__|VERSION) *= *(['"])v?(?P<version>.+?)\2""")
_FROM_REF = "the version is taken from the ref instead"
#: A distribution, extra or entry point group name (PEP 508's name rule).
_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")
#: An entry point name: no ``=``, no line break, no leading ``[`` or surrounding space.
_ENTRY_NAME = re.compile(r"[^\s=\[][^=\r\n]*(?<=\S)|[^\s=\[]")


@dataclass
class ProjectMetadata:
    """What a distribution says about itself, read from the commit.

    ``version`` is empty when only a tool could compute it (setuptools-scm,
    hatch-vcs, an ``attr:`` that is not a literal); ``find_project`` then
    takes it from the ref.
    """

    name: str
    version: str
    project_dir: str
    summary: str = ""
    requires_python: str = ""
    requires: list[str] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)
    entry_points: dict[str, dict[str, str]] = field(default_factory=dict)


def normalize_name(name: str) -> str:
    """PEP 503 normalization: ``Meta_Pkg`` and ``meta.pkg`` are ``meta-pkg``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class ProjectFiles:
    """The files of one project folder in a commit, read on demand, each at most :data:`~.objects.MAX_PROJECT_FILE`.

    ``notes`` collects, as one sentence each, what could not be read and what
    was done instead; sync shows them under the module's name.
    """

    def __init__(self, files: TreeFiles, project_dir: str, notes: list[str]) -> None:
        self.files = files
        self.project_dir = project_dir
        self.notes = notes

    def where(self, relative: str) -> str:
        """``relative`` as a path from the repository root, for notes."""
        return posixpath.join(self.project_dir, relative) if self.project_dir else relative

    def note(self, relative: str, sentence: str) -> None:
        self.notes.append(f"{self.where(relative)}: {sentence}")

    def is_file(self, relative: str) -> bool:
        return self._inside(relative) and self.files.blob(self.where(relative)) is not None

    def text(self, relative: str) -> str | None:
        """The text of a regular file below the project folder, or None (absent, a link, a folder, too large)."""
        if not self.is_file(relative):
            return None
        data = self.files.read(self.where(relative))
        if data is None:
            self.note(relative, f"is larger than {MAX_PROJECT_FILE // (1024 * 1024)} MiB and is not read")
            return None
        return data.decode("utf-8", "replace")

    @staticmethod
    def _inside(relative: str) -> bool:
        """``..`` does not leave the project folder."""
        first = posixpath.normpath(relative).split("/")[0] if relative else ""
        return first not in ("..", "", ".")


def read_project(files: ProjectFiles) -> ProjectMetadata | None:
    """The metadata the project in this folder declares, or None when it declares none that gitimport reads.

    ``pyproject.toml`` comes first: ``[project]`` when it has a name, else
    ``[tool.poetry]``, else ``[tool.flit.metadata]``; then ``setup.cfg``.
    """
    found = None
    text = files.text("pyproject.toml")
    if text is not None:
        document = _parse_pyproject(text, files)
        project = document.get("project")
        tool = toml_table(document, "tool")
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            found = _from_project_table(project, document, files)
        elif isinstance(toml_table(tool, "poetry").get("name"), str):
            from .metadata_poetry import from_poetry

            found = from_poetry(toml_table(tool, "poetry"), files)
        elif isinstance(toml_table(toml_table(tool, "flit"), "metadata").get("module"), str):
            found = _from_flit_metadata(toml_table(tool, "flit"), files)
    if found is None:
        text = files.text("setup.cfg")
        found = _from_setup_cfg(text, files) if text is not None else None
    return _well_formed(found, files) if found is not None else None


def _well_formed(meta: ProjectMetadata, files: ProjectFiles) -> ProjectMetadata | None:
    """``meta`` without what cannot be written into a .dist-info as it is, each left-out item noted.

    What a repository declares becomes file names (the .dist-info folder, script
    launchers) and lines of METADATA and entry_points.txt, so a name that is not
    a PEP 508 name, a version that is not PEP 440, a line break or a path
    separator in a script name would forge other entries or land elsewhere.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    where = f"the project in {files.project_dir}/" if files.project_dir else "the project at the repository root"
    if not _NAME.fullmatch(meta.name):
        files.notes.append(f"{where}: {meta.name!r} is not a distribution name; no distribution metadata is written")
        return None
    try:
        Version(meta.version or "0")
    except InvalidVersion:
        files.notes.append(f"{where}: version {meta.version!r} is not a PEP 440 version; {_FROM_REF}")
        meta.version = ""
    try:
        SpecifierSet(meta.requires_python)
    except InvalidSpecifier:
        files.notes.append(f"{where}: Requires-Python {meta.requires_python!r} is not a version specifier; it is left out")
        meta.requires_python = ""
    for extra in [extra for extra in meta.extras if not _NAME.fullmatch(extra)]:
        files.notes.append(f"{where}: extra {extra!r} is not an extra name; it is left out")
        del meta.extras[extra]
    for requirements in [meta.requires, *meta.extras.values()]:
        for requirement in list(requirements):
            try:
                Requirement(requirement)
            except InvalidRequirement:
                files.notes.append(f"{where}: {requirement!r} is not a PEP 508 requirement; it is left out")
                requirements.remove(requirement)
    for group, entries in meta.entry_points.items():
        script = group in ("console_scripts", "gui_scripts")
        for name, target in list(entries.items()):
            unsafe_name = not _ENTRY_NAME.fullmatch(name) or (script and ("/" in name or "\\" in name or name in (".", "..")))
            if unsafe_name or not _NAME.fullmatch(group) or "\n" in target or "\r" in target:
                files.notes.append(f"{where}: entry point {name!r} of group {group!r} cannot be written as it is; it is left out")
                del entries[name]
    return meta


def _parse_pyproject(text: str, files: ProjectFiles) -> dict[str, Any]:
    """The document, or an empty one (with a note) when it is not valid TOML."""
    from ..errors import ConfigError
    from ..project._toml import parse_toml

    try:
        return parse_toml(text, files.where("pyproject.toml"), ConfigError)
    except ConfigError as error:
        files.notes.append(f"{error.message.rstrip('.')}; no distribution metadata is read from it")
        return {}


# --- pyproject.toml [project] -------------------------------------------------------------------


def _from_project_table(project: dict[str, Any], document: dict[str, Any], files: ProjectFiles) -> ProjectMetadata:
    dynamic = toml_strings(project.get("dynamic"))
    meta = ProjectMetadata(
        name=project["name"],
        version=toml_string(project.get("version")),
        project_dir=files.project_dir,
        summary=toml_string(project.get("description")),
        requires_python=toml_string(project.get("requires-python")),
        requires=toml_strings(project.get("dependencies")),
        extras={str(k): toml_strings(v) for k, v in toml_table(project, "optional-dependencies").items()},
        entry_points=_project_entry_points(project),
    )
    tool = toml_table(document, "tool")
    if not meta.version and "version" in dynamic:
        meta.version = _dynamic_version(meta.name, document, files)
    if "dependencies" in dynamic:
        _dynamic_dependencies(meta, tool, files)
    if not meta.summary and "description" in dynamic and _is_flit(document):
        module = _flit_module_file(_flit_module(meta.name, tool), files)
        meta.summary = _docstring_summary(files.text(module) or "") if module else ""
    return meta


def _project_entry_points(project: dict[str, Any]) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for key, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        if toml_table(project, key):
            groups[group] = toml_string_table(toml_table(project, key))
    for group, entries in toml_table(project, "entry-points").items():
        if isinstance(entries, dict):
            groups[str(group)] = toml_string_table(entries)
    return groups


def _dynamic_version(name: str, document: dict[str, Any], files: ProjectFiles) -> str:
    """A ``dynamic`` version from the backend's static configuration, or "" when only a tool can compute it."""
    tool = toml_table(document, "tool")
    setuptools = toml_table(tool, "setuptools")
    source = toml_table(toml_table(setuptools, "dynamic"), "version")
    if source:
        return _setuptools_directive(source, toml_string_table(toml_table(setuptools, "package-dir")), "pyproject.toml", files)
    hatch = toml_table(toml_table(tool, "hatch"), "version")
    if isinstance(hatch.get("path"), str):
        if "pattern" in hatch:
            files.note("pyproject.toml", f"[tool.hatch.version] pattern is a custom regular expression, not run; {_FROM_REF}")
            return ""
        return _version_in_file(hatch["path"], "[tool.hatch.version]", files)
    pdm = toml_table(toml_table(tool, "pdm"), "version")
    if pdm.get("source") == "file" and isinstance(pdm.get("path"), str):
        return _version_in_file(pdm["path"], "[tool.pdm.version]", files)
    if _is_flit(document):
        module = _flit_module_file(_flit_module(name, tool), files)
        return _literal_version(module, files) if module else ""
    return toml_string(toml_table(tool, "poetry").get("version"))  # Poetry 2 keeps a dynamic version there


def _dynamic_dependencies(meta: ProjectMetadata, tool: dict[str, Any], files: ProjectFiles) -> None:
    """``dependencies`` that setuptools reads from requirement files, or that Poetry 2 keeps in ``[tool.poetry]``."""
    source = toml_table(toml_table(toml_table(tool, "setuptools"), "dynamic"), "dependencies")
    if source:
        paths = source.get("file")
        for path in [paths] if isinstance(paths, str) else toml_strings(paths):
            meta.requires += _requirement_lines(files.text(path) or "")
    elif toml_table(toml_table(tool, "poetry"), "dependencies"):
        from .metadata_poetry import poetry_requirements

        meta.requires, _ = poetry_requirements(toml_table(tool, "poetry"), files)


def _requirement_lines(text: str) -> list[str]:
    """The requirements of a requirements file; options (``-r``, ``--index-url``) and comments are left out."""
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def _version_in_file(path: str, table: str, files: ProjectFiles) -> str:
    """The version assigned in the file ``path`` (hatch's ``path`` source, PDM's ``file`` source), or "" (noted).

    Both backends search the file with a regular expression; only their
    default one is used here, never a ``pattern`` from the repository, whose
    run time a hostile pattern could make unbounded.
    """
    text = files.text(path)
    if text is None:
        files.note("pyproject.toml", f"{table} path {path!r} is not a file in the commit; {_FROM_REF}")
        return ""
    match = _VERSION_ASSIGNMENT.search(text)
    if match is None:
        files.note("pyproject.toml", f'{table} finds no __version__ = "..." in {path}; {_FROM_REF}')
    return match.group("version") if match else ""


# --- versions read from files ---------------------------------------------------------------------


def _setuptools_directive(source: dict[str, Any], package_dir: dict[str, str], config: str, files: ProjectFiles) -> str:
    """setuptools' ``attr:`` and ``file:`` version directives (from setup.cfg or ``[tool.setuptools.dynamic]``)."""
    if isinstance(source.get("attr"), str):
        module, _, attribute = source["attr"].strip().rpartition(".")
        path = _setuptools_module_file(module, package_dir, files)
        if path is None:
            files.note(config, f"version attr: {source['attr']} names no module file in the commit; {_FROM_REF}")
            return ""
        return _literal_version(path, files, attribute, f"version attr: {source['attr']}", config)
    paths = source.get("file")
    texts = [files.text(path) for path in ([paths] if isinstance(paths, str) else toml_strings(paths))]
    version = "\n".join(text.strip() for text in texts if text is not None)
    if not version:
        shown = paths if isinstance(paths, str) else ", ".join(toml_strings(paths))
        files.note(config, f"version file: {shown} names no readable file in the commit; {_FROM_REF}")
    return version


def _setuptools_module_file(module: str, package_dir: dict[str, str], files: ProjectFiles) -> str | None:
    """Where setuptools finds ``module`` for ``attr:``, honouring ``package_dir`` (its ``_find_module``).

    Without ``package_dir``, setuptools' automatic discovery takes a ``src/``
    layout when there is one, so ``src/`` is tried after the root.
    """
    parts = module.split(".") if module else []
    if parts and parts[0] in package_dir:
        parts = [*package_dir[parts[0]].strip("/").split("/"), *parts[1:]]
        roots = [""]
    elif "" in package_dir:
        roots = [package_dir[""].strip("/")]
    else:
        roots = ["", "src"]
    for root in roots:
        start = posixpath.join(root, *parts) if parts else root
        for candidate in (f"{start}.py", posixpath.join(start, "__init__.py")):
            if files.is_file(candidate):
                return candidate
    return None


def _literal_version(path: str, files: ProjectFiles, attribute: str = "__version__", what: str = "", config: str = "") -> str:
    """The literal value of ``attribute`` in the module at ``path``, as a version string, or "" (with a note).

    Like setuptools' and flit's static readers: the first top-level
    assignment to the name, evaluated with ``ast.literal_eval``; a tuple of
    parts is joined with dots.  Nothing is imported or executed.
    """
    import ast

    text = files.text(path)
    value: object = None
    try:
        tree = parse_source(text or "", filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, expression = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, expression = [node.target], node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == attribute for target in targets):
            try:
                value = ast.literal_eval(expression)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                value = None
            break
    if isinstance(value, (tuple, list)) and all(isinstance(part, (int, str)) for part in value):
        value = ".".join(map(str, value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    files.note(config or path, f"{what or attribute} is not a literal string in {files.where(path)}; {_FROM_REF}")
    return ""


def _docstring_summary(text: str) -> str:
    """The first line of a module's docstring (flit's summary), or ""."""
    import ast

    try:
        docstring = ast.get_docstring(parse_source(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    return docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""


# --- flit ------------------------------------------------------------------------------------------


def _is_flit(document: dict[str, Any]) -> bool:
    return toml_string(toml_table(document, "build-system").get("build-backend")).startswith("flit_core")


def _flit_module(name: str, tool: dict[str, Any]) -> str:
    """flit_core's module for a ``[project]``: ``[tool.flit.module] name``, else the project name with ``_``."""
    return toml_string(toml_table(toml_table(tool, "flit"), "module").get("name")) or name.replace("-", "_")


def _flit_module_file(module: str, files: ProjectFiles) -> str | None:
    """The file flit reads ``__version__`` from: ``MODULE.py`` or ``MODULE/__init__.py``, at the root or in ``src/``."""
    base = module.replace(".", "/")
    for candidate in (f"{base}/__init__.py", f"{base}.py", f"src/{base}/__init__.py", f"src/{base}.py"):
        if files.is_file(candidate):
            return candidate
    files.note("pyproject.toml", f"flit's module {module} is not in the commit; {_FROM_REF}")
    return None


def _from_flit_metadata(flit: dict[str, Any], files: ProjectFiles) -> ProjectMetadata:
    """flit before PEP 621: ``[tool.flit.metadata]``, ``[tool.flit.scripts]``, ``[tool.flit.entrypoints]``."""
    metadata = toml_table(flit, "metadata")
    module = metadata["module"]
    path = _flit_module_file(module, files)
    entry_points = {
        str(group): toml_string_table(entries) for group, entries in toml_table(flit, "entrypoints").items() if isinstance(entries, dict)
    }
    if toml_table(flit, "scripts"):
        entry_points["console_scripts"] = toml_string_table(toml_table(flit, "scripts"))
    return ProjectMetadata(
        name=toml_string(metadata.get("dist-name")) or module,
        version=_literal_version(path, files) if path else "",
        project_dir=files.project_dir,
        summary=_docstring_summary(files.text(path) or "") if path else "",
        requires_python=toml_string(metadata.get("requires-python")),
        requires=toml_strings(metadata.get("requires")),
        extras={str(k): toml_strings(v) for k, v in toml_table(metadata, "requires-extra").items()},
        entry_points=entry_points,
    )


# --- setup.cfg -------------------------------------------------------------------------------------


def _from_setup_cfg(text: str, files: ProjectFiles) -> ProjectMetadata | None:
    """setuptools' declarative configuration: ``[metadata]``, ``[options]`` and their sub-sections."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # extras and entry point names keep their case
    try:
        parser.read_string(text, source=files.where("setup.cfg"))
    except configparser.Error as error:
        reason = str(error).splitlines()[0].rstrip(".")
        files.note("setup.cfg", f"cannot be parsed ({reason}); no distribution metadata is read from it")
        return None
    metadata, options = _cfg_section(parser, "metadata"), _cfg_section(parser, "options")
    if not metadata.get("name"):
        return None
    return ProjectMetadata(
        name=metadata["name"],
        version=_cfg_version(metadata.get("version", ""), options, files),
        project_dir=files.project_dir,
        summary=metadata.get("description", ""),
        requires_python=options.get("python_requires", ""),
        requires=_cfg_requirements(options.get("install_requires", ""), files),
        extras={_cfg_extra(extra): _cfg_requirements(value, files) for extra, value in _cfg_items(parser, "options.extras_require")},
        entry_points={group: _cfg_entry_points(value) for group, value in _cfg_items(parser, "options.entry_points")},
    )


def _cfg_section(parser: configparser.ConfigParser, section: str) -> dict[str, str]:
    """A section's options by the names setuptools accepts: lowercase, ``-`` read as ``_``."""
    return {key.lower().replace("-", "_"): value.strip() for key, value in _cfg_items(parser, section)}


def _cfg_items(parser: configparser.ConfigParser, section: str) -> list[tuple[str, str]]:
    return parser.items(section) if parser.has_section(section) else []


def _cfg_extra(name: str) -> str:
    """An extra's name as setuptools writes it into METADATA (``safe_extra``): ``Docs`` is ``docs``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).lower()


def _cfg_requirements(value: str, files: ProjectFiles) -> list[str]:
    """setuptools' list of requirements: one a line, or ``;``-separated on one line (``#`` lines are comments),
    or ``file: requirements.txt, …``."""
    if value.strip().startswith("file:"):
        paths = value.strip()[len("file:") :].split(",")
        return [line for path in paths for line in _requirement_lines(files.text(path.strip()) or "")]
    items = value.splitlines() if "\n" in value.strip() else value.split(";")
    return [item.strip() for item in items if item.strip() and not item.strip().startswith("#")]


def _cfg_entry_points(value: str) -> dict[str, str]:
    """``name = module:attr`` lines of one entry point group."""
    pairs = (line.partition("=") for line in value.splitlines())
    return {name.strip(): target.strip() for name, sep, target in pairs if sep and name.strip()}


def _cfg_version(value: str, options: dict[str, str], files: ProjectFiles) -> str:
    """A literal version, or one that ``attr:``/``file:`` name statically; "" when neither gives one."""
    directive, _, argument = value.partition(":")
    if directive.strip() not in ("attr", "file"):
        return value
    if directive.strip() == "file":
        source: dict[str, Any] = {"file": [path.strip() for path in argument.split(",")]}
    else:
        source = {"attr": argument.strip()}
    return _setuptools_directive(source, _cfg_package_dir(options.get("package_dir", "")), "setup.cfg", files)


def _cfg_package_dir(value: str) -> dict[str, str]:
    """``package_dir = =src`` or one ``name = folder`` a line."""
    items = value.splitlines() if "\n" in value.strip() else value.split(",")
    pairs = (item.partition("=") for item in items)
    return {name.strip(): folder.strip() for name, sep, folder in pairs if sep}


# --- small helpers for untrusted TOML ----------------------------------------------------------


def toml_table(document: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """A nested table (``tool``, ``hatch``, ``version``…), or an empty one when any level is absent or not a table."""
    value: Any = document
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def toml_string(value: object) -> str:
    return value if isinstance(value, str) else ""


def toml_strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def toml_string_table(table: dict[str, Any]) -> dict[str, str]:
    return {str(k): v for k, v in table.items() if isinstance(v, str)}
