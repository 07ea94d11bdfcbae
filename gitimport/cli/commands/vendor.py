"""``gitimport vendor DIR``: the locked modules as plain files, importable without gitimport.

Each locked module is verified in the cache (as ``verify`` does) and copied
under its module name: ``DIR/name.py`` for a module, ``DIR/name/`` for a
package or namespace package, ``DIR/acme/tools/`` for a dotted name (``acme``
then being a namespace folder).  No ``__pycache__`` is copied, files become
writable by their owner, and internal symlinks stay symlinks.
``DIR/gitimport-vendor.json`` records, per module, the spec, commit and
digest it came from and the path it was written to.  A non-empty DIR is
refused unless forced; forcing replaces only the modules' own paths.  Each module
is copied beside its destination and swapped in, and the manifest is written
atomically, so an interrupted vendor leaves every module old or new, never
half-copied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ... import atomic
from ...errors import EXIT_OK, GitImportError, IntegrityError, UsageError
from ...project.config import Config
from ...project.lock import LockEntry, read_lock
from ...store.cache import Cache
from ...store.verify import verify_locked
from ..output import load_config_of, plural, require_config, say, table

MANIFEST = "gitimport-vendor.json"


@dataclass(frozen=True)
class Vendored:
    name: str
    spec: str
    commit: str
    digest: str
    path: str  # relative to DIR, POSIX

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "spec": self.spec, "commit": self.commit, "digest": self.digest, "path": self.path}


def vendor(config: Config, target: Path, force: bool = False) -> list[Vendored]:
    """Copy every configured, locked and cached module into ``target``.

    Raises:
      UsageError: ``target`` is a non-empty folder (without ``force``) or a file;
        a module is not locked or its spec changed since the lock.
      GitImportError: a module is not in the cache.
      IntegrityError: a cached tree fails verification.
    """
    entries = _locked_entries(config)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is not a folder.", "name a new or empty folder to vendor into")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UsageError(f"{target} is not empty.", "name a new or empty folder, or pass --force to replace the modules in it")
    cache = Cache(config.cache_dir)
    sources = {}
    for name, entry in entries.items():
        location = cache.locked_tree(name, entry)
        if not location.manifest.is_file():
            raise GitImportError(f"{name} is locked but not in the cache.", "run `gitimport sync` first")
        problems = verify_locked(location, entry)
        if problems:
            raise IntegrityError(f"{name} fails verification in the cache: {problems[0]}.", "run `gitimport sync --repair` first")
        sources[name] = location.path
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entry in entries.items():
        relative = "/".join(name.split(".")) + (".py" if entry.kind == "module" else "")
        _replace_with_copy(sources[name], target / relative)
        written.append(Vendored(name, entry.spec, entry.commit, entry.digest, relative))
    manifest = {"version": 1, "modules": [item.as_json() for item in written]}
    atomic.write_text(target / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return written


def _locked_entries(config: Config) -> dict[str, LockEntry]:
    lock = read_lock(config.lockfile)
    entries = {}
    for name, spec in config.modules.items():
        entry = lock.get(name)
        if entry is None or entry.spec != spec.redacted:
            raise UsageError(f"{name} is not locked, or its spec changed since the lock.", "run `gitimport sync` first")
        entries[name] = entry
    if not entries:
        raise UsageError(f"No modules to vendor in {config.path or 'any configuration'}.", "add one with `gitimport add NAME SPEC`")
    return dict(sorted(entries.items(), key=lambda item: item[0].count(".")))  # parents before dotted children


def _replace_with_copy(source: Path, destination: Path) -> None:
    """Copy ``source`` beside ``destination`` first, then swap it in: a failed copy leaves the old module whole."""
    staging = Path(atomic.new_staging_folder(destination))
    try:
        _copy(source, staging / destination.name)
        if destination.is_symlink() or destination.exists():
            atomic.remove(destination)
        os.rename(staging / destination.name, destination)
    finally:
        atomic.remove(staging)


def _copy(source: Path, destination: Path) -> None:
    """Copy a file or a folder without ``__pycache__``; files writable by their owner."""
    if not source.is_dir():
        _copy_file(source, destination)
        return
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out = destination / Path(folder).relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            _copy_file(Path(folder) / name, out / name)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


def _copy_file(source: Path, destination: Path) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
        return
    shutil.copyfile(source, destination)
    os.chmod(destination, 0o755 if source.stat().st_mode & 0o111 else 0o644)


# the command --------------------------------------------------------------------------------------


def cmd_vendor(args: argparse.Namespace) -> int:
    config = load_config_of(args)
    require_config(config)
    written = vendor(config, args.dir, force=args.force)
    say(args, f"Vendored {plural(len(written), 'module')} into {args.dir}")
    for line in table([(item.name, item.path, item.commit[:12]) for item in written]):
        say(args, f"  {line}")
    say(args, f"Wrote {args.dir / MANIFEST}")
    return EXIT_OK
