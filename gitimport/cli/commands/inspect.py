"""``gitimport list``, ``show``, ``which`` and ``why``: what is pinned, where it is, and who serves a name.

``show`` reads the lock, the cache and the commit itself (from the cache's
bare repository, through dulwich, imported only here).  ``why`` answers for any
dotted name: gitimport's finder (a pinned module, a submodule inside a pinned
tree, or a namespace parent it provides), or the target interpreter's own
``sys.path``, and when both could serve it, which one wins and why.  Neither
contacts a remote or changes anything.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import EXIT_OK, GitImportError, UsageError
from ...project.config import Config
from ...project.lock import LockEntry, read_lock
from ...project.spec import Spec, validate_module_name
from ...store.binding import serves
from ...store.cache import Cache
from ..output import load_config_of, print_json, table

if TYPE_CHECKING:
    from ...target.interpreter import Found


def locked_module(config: Config, name: str) -> tuple[Spec, LockEntry]:
    """The spec and lock entry of a configured module whose lock entry is current.

    Raises:
      UsageError: not configured, not locked, or its spec changed since the lock.
    """
    spec = config.modules.get(name)
    entry = read_lock(config.lockfile).get(name)
    if spec is None or entry is None or entry.spec != spec.redacted:
        where = config.path or "any configuration"
        raise UsageError(f"{name!r} is not a locked module of {where}.", "run `gitimport sync`, or check `gitimport list`")
    return spec, entry


def show_module(config: Config, name: str) -> dict[str, object]:
    """What ``show`` prints, as a dict (the ``--json`` form): lock, commit, cache and distribution."""
    spec, entry = locked_module(config, name)
    cache = Cache(config.cache_dir)
    location = cache.locked_tree(name, entry)
    info: dict[str, object] = {
        "name": name,
        "spec": spec.redacted,
        "url": entry.url,
        "ref": entry.ref,
        "commit": entry.commit,
        **commit_details(cache.repo_dir(spec.repo.identity), entry.commit),
        "path": entry.path,
        "kind": entry.kind,
        "object": entry.object,
        "digest": entry.digest,
        "generated": dict(entry.generated),
        "cache_path": str(location.path),
        "cached": location.manifest.is_file(),
        "distribution": _distribution(config, spec, entry),
    }
    return info


def commit_details(repo_dir: Path, commit: str) -> dict[str, str | None]:
    """Author, date (ISO 8601 with the author's offset) and subject of a commit in a bare repository."""
    empty: dict[str, str | None] = {"author": None, "date": None, "subject": None}
    if not (repo_dir / "objects").is_dir():
        return empty
    from dulwich.objects import Commit
    from dulwich.repo import Repo

    try:
        with Repo(str(repo_dir)) as repo:
            obj = repo[commit.encode("ascii")]
    except (KeyError, OSError, ValueError):
        return empty
    if not isinstance(obj, Commit):
        return empty
    offset = timezone(timedelta(seconds=obj.author_timezone))
    message = obj.message.decode("utf-8", "replace").strip()
    return {
        "author": obj.author.decode("utf-8", "replace"),
        "date": datetime.fromtimestamp(obj.author_time, offset).isoformat(),
        "subject": message.splitlines()[0] if message else "",
    }


def _distribution(config: Config, spec: Spec, entry: LockEntry) -> dict[str, str] | None:
    from ...store.metadata import recorded_distribution

    dist_info = recorded_distribution(config.cache_dir, spec.repo.identity, entry.commit, entry.path)
    if dist_info is None:
        return None
    try:
        with open(Path(dist_info) / "METADATA", encoding="utf-8") as handle:
            headers = HeaderParser().parse(handle)
    except OSError:
        return None
    return {"name": str(headers["Name"]), "version": str(headers["Version"])}


@dataclass
class Why:
    """Who serves an import of ``name``, and why."""

    name: str
    served_by: str  # gitimport | sys.path | built-in | frozen | start-up
    origin: str  # the file or folder that is imported
    reasons: list[str] = field(default_factory=list)
    pinned: dict[str, str] | None = None  # spec, commit, object of the pinned module serving it
    other: dict[str, str | None] | None = None  # what sys.path would import instead

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "served_by": self.served_by,
            "origin": self.origin,
            "reasons": self.reasons,
            "pinned": self.pinned,
            "other": self.other,
        }


def why(config: Config, name: str, python: str | None = None) -> Why:
    """Explain which finder serves ``import name`` under ``gitimport run``.

    Raises:
      UsageError: nothing would import the name.
    """
    from ...target.interpreter import find_without_gitimport

    owner = next((p for p in sorted(config.modules, key=len, reverse=True) if name == p or name.startswith(p + ".")), None)
    children = [n for n in config.modules if n.startswith(name + ".")]
    # a dotted pinned name has no rival on sys.path: its parent is a namespace gitimport provides
    probe = name if owner is None else owner
    found = find_without_gitimport([probe], python).get(probe) if "." not in probe or owner is None else None
    other = None if found is None else {"kind": found.kind, "origin": found.origin, "distribution": found.distribution}
    if other is not None and found is not None:
        other["version"] = found.version
    if owner is not None:
        return _why_pinned(config, name, owner, found, other)
    if found is not None and (found.kind != "namespace" or not children):
        served = found.kind if found.kind in ("built-in", "frozen") else "sys.path"
        reasons = [f"{name} is not pinned in {config.path or 'any configuration'}; {found.describe()} is imported"]
        if children:
            reasons.append(f"a regular package wins over the namespace gitimport would provide for {', '.join(sorted(children))}")
        return Why(name, served, found.origin, reasons, other=other)
    if children:
        reasons = [f"{name} is a namespace package that gitimport provides for {', '.join(sorted(children))}"]
        if found is not None:
            reasons.append(f"its portions on sys.path are included too ({found.origin})")
        return Why(name, "gitimport", "namespace", reasons, other=other)
    raise UsageError(
        f"Nothing would import {name!r}: it is not pinned in {config.path or 'any configuration'} "
        f"and not on sys.path of {python or sys.executable}.",
        "check the spelling, or pin it with `gitimport add NAME SPEC`",
    )


def _why_pinned(config: Config, name: str, owner: str, found: Found | None, other: dict[str, str | None] | None) -> Why:
    spec = config.modules[owner]
    entry = read_lock(config.lockfile).get(owner)
    current = entry is not None and entry.spec == spec.redacted
    pinned = {"module": owner, "spec": spec.redacted}
    reasons = []
    origin = ""
    if entry is not None and current:
        pinned.update(commit=entry.commit, object=entry.object)
        root = Cache(config.cache_dir).locked_tree(owner, entry).path
        origin = str(_file_in(root, entry.kind, name[len(owner) :].lstrip(".").split(".") if name != owner else []))
        if not origin:
            raise UsageError(f"{name!r} is not in the pinned tree of {owner} ({root}).", f"list what {owner} holds with `ls {root}`")
        which = f"{name} is pinned" if name == owner else f"{name} is found inside the pinned module {owner}"
        reasons.append(f"{which}: {spec.redacted} at commit {entry.commit[:12]} (object {entry.object[:12]})")
    else:
        reasons.append(f"{owner} is pinned ({spec.redacted}) but not locked: its first import resolves it, or run `gitimport sync`")
    if found is not None:
        if found.kind in ("built-in", "frozen") or found.preloaded:
            reasons.append(f"but {found.describe()} wins: it is imported before gitimport's finder is asked")
            served = "start-up" if found.preloaded and found.kind not in ("built-in", "frozen") else found.kind
            return Why(name, served, found.origin, reasons, pinned=pinned, other=other)
        reasons.append(
            f"it wins over {found.describe()}: gitimport's finder comes before the path finder on sys.meta_path "
            "(under `gitimport run` or after gitimport.install())"
        )
    return Why(name, "gitimport", origin, reasons, pinned=pinned, other=other)


def _file_in(root: Path, kind: str, parts: list[str]) -> Path | str:
    """The file (or namespace folder) that ``parts`` below a pinned root names, or "" if none."""
    if not parts:
        return root / "__init__.py" if kind == "package" else root
    folder = root
    for part in parts[:-1]:
        folder = folder / part
    for candidate in (folder / f"{parts[-1]}.py", folder / parts[-1] / "__init__.py", folder / parts[-1]):
        if candidate.exists():
            return candidate
    return ""


# the commands -------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    config = load_config_of(args)
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    items: list[dict[str, str | bool | None]] = []
    rows: list[tuple[str, ...]] = []
    for name, spec in config.modules.items():
        entry = lock.get(name)
        if entry is not None and entry.spec != spec.redacted:
            entry = None
        cached = entry is not None and serves(cache.locked_tree(name, entry), entry)
        items.append(
            {
                "name": name,
                "spec": spec.redacted,
                "commit": entry.commit if entry else None,
                "kind": entry.kind if entry else None,
                "cached": cached,
            }
        )
        rows.append(
            (
                name,
                spec.redacted,
                entry.commit[:12] if entry else "not locked",
                entry.kind if entry else "-",
                "cached" if cached else "not cached",
            )
        )
    if args.json:
        print_json(items)
        return EXIT_OK
    for line in table(rows):
        print(line)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    info = show_module(load_config_of(args), args.name)
    if args.json:
        print_json(info)
        return EXIT_OK
    dist = info["distribution"]
    rows = [(key, "-" if info[key] is None else str(info[key])) for key in info if key not in ("cached", "distribution", "generated")]
    rows[rows.index(("cache_path", str(info["cache_path"])))] = (
        "cache",
        f"{info['cache_path']}" + ("" if info["cached"] else " (not cached)"),
    )
    if isinstance(dist, dict):
        rows.append(("distribution", f"{dist['name']} {dist['version']}"))
    generated = info["generated"]
    assert isinstance(generated, dict)
    rows += [("generated", f"{path} {digest}") for path, digest in generated.items()]
    for line in table(rows):
        print(line)
    return EXIT_OK


def cmd_which(args: argparse.Namespace) -> int:
    config = load_config_of(args)
    _spec, entry = locked_module(config, args.name)
    location = Cache(config.cache_dir).locked_tree(args.name, entry)
    if not location.manifest.is_file():
        raise GitImportError(f"{args.name!r} is locked but not in the cache.", "run `gitimport sync`")
    print(location.path)
    return EXIT_OK


def cmd_why(args: argparse.Namespace) -> int:
    answer = why(load_config_of(args), validate_module_name(args.name), args.python)
    if args.json:
        print_json(answer.as_json())
        return EXIT_OK
    print(f"{answer.name}: served by {answer.served_by} from {answer.origin}")
    for reason in answer.reasons:
        print(f"  {reason}")
    return EXIT_OK
