"""Poetry's ``[tool.poetry]`` (before Poetry 2) turned into the core metadata poetry-core would write.

Poetry has its own dependency syntax: version constraints with ``^``, ``~``,
``*``, wildcards, space- or comma-separated comparisons and ``||``; table forms
with ``optional``, ``extras``, ``markers``, ``python``, ``platform``, ``git``,
``url`` and ``path``; and lists of tables for different Pythons.  Here they
become PEP 508 requirements, as poetry-core writes them into a wheel:

- ``^1.2.3`` is ``>=1.2.3,<2.0.0`` (the first non-zero part is bumped),
  ``~1.2.3`` is ``>=1.2.3,<1.3.0``, ``1.2.*`` is ``==1.2.*``, ``1.2.3`` is
  ``==1.2.3``, ``*`` is any version.
- ``||`` has no PEP 508 spelling.  A union is written as the smallest range
  that covers every alternative (``^1.2 || ^2.0`` is ``>=1.2,<3.0``, exact;
  ``^1.0 || ^3.0`` is ``>=1.0,<4.0``, looser than Poetry's), so the
  requirement check never reports a version Poetry would accept.
- ``python = "^3.8"`` in a table becomes a ``python_version`` marker; the
  ``python`` dependency itself becomes Requires-Python.
- A ``path`` dependency is written by name alone: the path means nothing
  outside the author's checkout.
- An optional dependency appears only under the extras of ``[tool.poetry.extras]``
  that name it; development groups are not part of a distribution's metadata.

A dependency in any other form is left out, with a note for the user.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .metadata_formats import ProjectMetadata, normalize_name, toml_string, toml_string_table, toml_strings, toml_table

if TYPE_CHECKING:
    from .metadata_formats import ProjectFiles

#: Poetry's operators, longest first so that ``>=`` is not read as ``>``.
_OPERATORS = ("===", "~=", "==", "!=", "<=", ">=", "^", "~", "<", ">", "=")
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def from_poetry(poetry: dict[str, Any], files: ProjectFiles) -> ProjectMetadata:
    """The metadata of a ``[tool.poetry]`` project (``name`` is a string)."""
    requires, optional = poetry_requirements(poetry, files)
    extras: dict[str, list[str]] = {}
    for extra, names in toml_table(poetry, "extras").items():
        extras[str(extra)] = [requirement for name in toml_strings(names) for requirement in optional.get(normalize_name(name), [])]
    python = toml_string(toml_table(poetry, "dependencies").get("python"))
    requires_python = poetry_specifier(python) if python else ""
    if requires_python is None:
        files.note(
            "pyproject.toml", f"[tool.poetry.dependencies] python = {python!r} is not a Poetry constraint; Requires-Python is left out"
        )
    return ProjectMetadata(
        name=poetry["name"],
        version=toml_string(poetry.get("version")),
        project_dir=files.project_dir,
        summary=toml_string(poetry.get("description")),
        requires_python=requires_python or "",
        requires=requires,
        extras=extras,
        entry_points=_entry_points(poetry),
    )


def poetry_requirements(poetry: dict[str, Any], files: ProjectFiles) -> tuple[list[str], dict[str, list[str]]]:
    """``[tool.poetry.dependencies]`` as PEP 508: the required ones, and the optional ones by normalized name."""
    from packaging.requirements import InvalidRequirement, Requirement

    requires: list[str] = []
    optional: dict[str, list[str]] = {}
    for name, value in toml_table(poetry, "dependencies").items():
        if normalize_name(name) == "python":
            continue
        converted = [_requirement(name, form) for form in (value if isinstance(value, list) else [value])]
        try:
            for text, _ in converted:
                Requirement(text or "")
        except InvalidRequirement:
            files.note("pyproject.toml", f"[tool.poetry.dependencies] {name} = {value!r} is not a form gitimport reads; it is left out")
            continue
        for text, is_optional in converted:
            (optional.setdefault(normalize_name(name), []) if is_optional else requires).append(str(text))
    return requires, optional


def _requirement(name: str, value: object) -> tuple[str | None, bool]:
    """One dependency's PEP 508 requirement (None when its form is unknown) and whether it is optional."""
    if isinstance(value, str):
        specifier = poetry_specifier(value)
        return (None if specifier is None else f"{name}{specifier}"), False
    if not isinstance(value, dict):
        return None, False
    extras = toml_strings(value.get("extras"))
    head = f"{name}[{','.join(extras)}]" if extras else name
    requirement: str | None = None
    if isinstance(value.get("version"), str):
        specifier = poetry_specifier(value["version"])
        requirement = None if specifier is None else f"{head}{specifier}"
    elif isinstance(value.get("git"), str):
        revision = next((value[key] for key in ("rev", "tag", "branch") if isinstance(value.get(key), str)), "")
        subdirectory = f"#subdirectory={value['subdirectory']}" if isinstance(value.get("subdirectory"), str) else ""
        requirement = f"{head} @ git+{value['git']}{'@' + revision if revision else ''}{subdirectory} "
    elif isinstance(value.get("url"), str):
        requirement = f"{head} @ {value['url']} "
    elif isinstance(value.get("path"), str):
        requirement = head
    markers = _markers(value)
    if requirement is None or markers is None:
        return None, False
    return (f"{requirement}; {markers}" if markers else requirement.strip()), value.get("optional") is True


def _markers(table: dict[str, Any]) -> str | None:
    """The markers of a table form (``markers``, ``python``, ``platform``) joined with ``and``; None when one is not valid."""
    clauses = [table["markers"]] if isinstance(table.get("markers"), str) else []
    if isinstance(table.get("python"), str):
        python = _python_marker(table["python"])
        if python is None:
            return None
        clauses.append(python)
    if isinstance(table.get("platform"), str):
        clauses.append(f'sys_platform == "{table["platform"]}"')
    clauses = [clause for clause in clauses if clause]
    return clauses[0] if len(clauses) == 1 else " and ".join(f"({clause})" for clause in clauses)


def _python_marker(constraint: str) -> str | None:
    """A Poetry Python constraint as a marker: ``^3.8`` is ``python_version < "4.0" and python_version >= "3.8"``."""
    from packaging.specifiers import SpecifierSet

    specifier = poetry_specifier(constraint)
    if specifier is None:
        return None
    clauses = []
    for clause in sorted(SpecifierSet(specifier), key=str):
        version = clause.version.removesuffix(".*")
        variable = "python_full_version" if version.count(".") >= 2 else "python_version"
        clauses.append(f'{variable} {clause.operator} "{version}"')
    return " and ".join(clauses)


def poetry_specifier(constraint: str) -> str | None:
    """A Poetry version constraint as a PEP 440 specifier ("" for any version), or None when it is not one."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    alternatives = [_conjunction(text) for text in re.split(r"\|\|?", constraint)]
    known = [alternative for alternative in alternatives if alternative is not None]
    if len(known) < len(alternatives):
        return None
    specifier = known[0] if len(known) == 1 else _hull(known)
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    return specifier


def _conjunction(text: str) -> str | None:
    """Constraints that must all hold (``>=1.2, <2`` or ``>=1.2 <2``) as a comma-separated specifier."""
    text = re.sub(r"(\^|~=|~|===|==|!=|<=|>=|<|>|=)\s+", r"\1", text.strip())
    parts = []
    for token in filter(None, re.split(r"[\s,]+", text)):
        operator = next((operator for operator in _OPERATORS if token.startswith(operator)), "")
        version = token[len(operator) :]
        if token == "*":
            continue
        if not version:
            return None
        if operator in ("^", "~"):
            bounds = _caret_or_tilde(operator, version)
            if bounds is None:
                return None
            parts += bounds
        else:
            parts.append(f"{'==' if operator in ('', '=') else operator}{version}")
    return ",".join(parts)


def _caret_or_tilde(operator: str, version: str) -> list[str] | None:
    """``^`` bumps the first non-zero part of the release; ``~`` the minor part (the major when only that is given)."""
    release = _RELEASE.match(version)
    if release is None:
        return None
    numbers = [int(part) for part in release.group().split(".")]
    first_non_zero = next((i for i, number in enumerate(numbers) if number), len(numbers) - 1)
    index = first_non_zero if operator == "^" else min(1, len(numbers) - 1)
    upper = [*numbers[:index], numbers[index] + 1] + [0] * (len(numbers) - index - 1)
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _hull(alternatives: list[str]) -> str:
    """The smallest range holding every alternative: the lowest lower bound and the highest upper bound.

    An alternative without a lower (upper) bound leaves the range open below (above).
    """
    from packaging.specifiers import Specifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    lowers: list[Specifier | None] = []
    uppers: list[Specifier | None] = []
    for alternative in alternatives:
        clauses = list(SpecifierSet(alternative))
        exact = next((c for c in clauses if c.operator == "==" and not c.version.endswith(".*")), None)
        lowers.append(next((c for c in clauses if c.operator in (">=", ">")), exact))
        uppers.append(next((c for c in clauses if c.operator in ("<", "<=")), exact))
    bounds = []
    try:
        if None not in lowers:
            low = min((c for c in lowers if c is not None), key=lambda c: Version(c.version))
            bounds.append(f"{'>' if low.operator == '>' else '>='}{low.version}")
        if None not in uppers:
            high = max((c for c in uppers if c is not None), key=lambda c: Version(c.version))
            bounds.append(f"{'<' if high.operator == '<' else '<='}{high.version}")
    except InvalidVersion:
        return ""
    return ",".join(bounds)


def _entry_points(poetry: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``[tool.poetry.scripts]`` as console scripts, ``[tool.poetry.plugins."group"]`` as entry points."""
    groups = {
        str(group): toml_string_table(entries) for group, entries in toml_table(poetry, "plugins").items() if isinstance(entries, dict)
    }
    scripts = {}
    for name, value in toml_table(poetry, "scripts").items():
        if isinstance(value, dict) and value.get("type", "console") == "console":
            target, extras = toml_string(value.get("callable") or value.get("reference")), toml_strings(value.get("extras"))
            value = f"{target} [{','.join(extras)}]" if target and extras else target
        if isinstance(value, str) and value:
            scripts[str(name)] = value
    if scripts:
        groups["console_scripts"] = scripts
    return groups
