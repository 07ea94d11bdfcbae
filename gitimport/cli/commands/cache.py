"""``gitimport verify``, ``gc`` and ``cache dir|size|export|clean``: the cache, checked, kept small and shared."""

from __future__ import annotations

import argparse

from ...errors import EXIT_OK, ConfigError, GitImportError, UsageError
from ..output import human_bytes, load_config_of, plural, print_json, say, table, warn


def cmd_verify(args: argparse.Namespace) -> int:
    from ...project.lock import read_lock
    from ...store.cache import Cache
    from ...store.verify import verify_locked

    config = load_config_of(args)
    lock = read_lock(config.lockfile)
    cache = Cache(config.cache_dir)
    results = {name: verify_locked(cache.locked_tree(name, entry), entry, recompile=True) for name, entry in lock.modules.items()}
    if args.json:
        print_json({"ok": not any(results.values()), "modules": results})
    else:
        for name, problems in results.items():
            print(f"{name}: {'ok' if not problems else 'FAILED'}")
            for problem in problems:
                print(f"  {problem}")
    if any(results.values()):
        bad = [n for n, p in results.items() if p]
        raise GitImportError(f"Verification failed for {', '.join(bad)}.", "run `gitimport sync --repair` to restore them")
    return EXIT_OK


def cmd_gc(args: argparse.Namespace) -> int:
    from ...store.gc import Project, collect_garbage, collect_to_size

    config = load_config_of(args)
    current = [Project(config.lockfile, config.base_dir)] if config.lockfile is not None else []
    max_size = _max_size(args.max_size) if args.max_size is not None else config.cache_max_size
    if args.include_locked and max_size is None:
        raise UsageError("--include-locked needs a size to fit the cache in.", "add --max-size SIZE, or set cache-max-size")
    if max_size is None:
        result = collect_garbage(config.cache_dir, current, dry_run=args.dry_run)
    else:
        result = collect_to_size(config.cache_dir, max_size, current, include_used=args.include_locked, dry_run=args.dry_run)
    for lockfile in result.forgotten:
        say(args, f"{'Would forget' if args.dry_run else 'Forgot'} {lockfile} (it no longer exists)")
    for path in result.removed:
        say(args, f"  {path.relative_to(config.cache_dir).as_posix()}")
    verb = "Would remove" if args.dry_run else "Removed"
    freed = f"{human_bytes(result.freed)} {'would be freed' if args.dry_run else 'freed'}"
    if max_size is None:
        kept = f"kept what {plural(len(result.projects), 'lock file')} reference{'s' if len(result.projects) == 1 else ''}"
        say(args, f"{verb} {plural(len(result.removed), 'cache entry', 'cache entries')} ({freed}); {kept}")
        return EXIT_OK
    assert result.size is not None and result.left is not None
    say(
        args,
        f"{verb} {plural(len(result.removed), 'cache entry', 'cache entries')} ({freed}): "
        f"the cache {'would hold' if args.dry_run else 'holds'} {human_bytes(result.left)} of {human_bytes(max_size)}",
    )
    if result.left > max_size:
        users = f"{plural(len(result.projects), 'known lock file')} {'uses' if len(result.projects) == 1 else 'use'}"
        warn(
            f"the cache still holds {human_bytes(result.left)}, more than {human_bytes(max_size)}: "
            f"the rest is what {users} (add --include-locked to remove that too)"
        )
    return EXIT_OK


def _max_size(text: str) -> int:
    from ...project.config import parse_size

    size = parse_size(text.strip())
    if size is None:
        raise UsageError(f"--max-size {text!r} is not a size.", 'write a number of bytes or a size such as "2GiB" or "500 MB"')
    return size


def cmd_cache_dir(args: argparse.Namespace) -> int:
    print(load_config_of(args).cache_dir)
    return EXIT_OK


def cmd_cache_size(args: argparse.Namespace) -> int:
    from ...store.gc import Project, collect_garbage
    from ...store.usage import measure

    config = load_config_of(args)
    root = config.cache_dir
    usage = measure(root)
    current = [Project(config.lockfile, config.base_dir)] if config.lockfile is not None else []
    try:
        unused = collect_garbage(root, current, dry_run=True, usage=usage) if root.is_dir() else None
    except ConfigError:  # a folder gitimport did not make: sized, but gc would not touch it
        unused = None
    gc = {"entries": len(unused.removed), "bytes": unused.freed} if unused else {"entries": 0, "bytes": 0}
    if args.json:
        print_json({"cache_dir": str(root), "bytes": usage.total, "sections": usage.sections, "gc": gc})
        return EXIT_OK
    print(f"{human_bytes(usage.total)} in {root}")
    for line in table([(name, human_bytes(size)) for name, size in sorted(usage.sections.items())]):
        print(f"  {line}")
    print(f"gc would free {human_bytes(gc['bytes'])}: {plural(gc['entries'], 'entry', 'entries')} that no known lock file uses")
    return EXIT_OK


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from ...store.gc import clean_cache

    root = load_config_of(args).cache_dir
    if not root.exists():
        say(args, f"Nothing to remove: {root} does not exist")
        return EXIT_OK
    freed, kept = clean_cache(root)
    if kept:
        shown = ", ".join(kept)
        say(args, f"Removed the cache in {root} ({human_bytes(freed)} freed); kept what gitimport did not create: {shown}")
    else:
        say(args, f"Removed {root} ({human_bytes(freed)} freed)")
    return EXIT_OK


def cmd_cache_export(args: argparse.Namespace) -> int:
    """Write the locked trees as a tree mirror (docs/tree-mirrors.md); a module that cannot be exported fails the command."""
    from ...export import export_mirror
    from ...store.gc import Project, read_projects

    config = load_config_of(args)
    if args.all_locks:
        projects = [p for p in read_projects(config.cache_dir) if p.lockfile.is_file()]
    elif config.lockfile is not None and config.lockfile.is_file():
        projects = [Project(config.lockfile, config.base_dir)]
    else:
        raise ConfigError("There is no lock file to export.", "run `gitimport sync` first, or pass --all-locks")
    report = export_mirror(config, projects, args.dir)
    if args.json:
        print_json({"written": report.written, "present": report.present, "bytes": report.written_bytes, "skipped": report.skipped})
    else:
        for path in report.written:
            say(args, f"  {path}")
        say(
            args,
            f"Wrote {plural(len(report.written), 'archive')} ({human_bytes(report.written_bytes)}) to {args.dir}; "
            f"{plural(report.present, 'archive')} already there",
        )
    if report.skipped:
        for module, why in report.skipped.items():
            warn(f"{module} was not exported: {why}")
        raise GitImportError(
            f"{plural(len(report.skipped), 'module')} could not be exported.",
            "run `gitimport sync` (from git) so the cache holds their commits, then export again",
        )
    return EXIT_OK
