"""``gitimport verify``, ``gc`` and ``cache dir|size|clean``: the cache, checked and kept small."""

from __future__ import annotations

import argparse

from ...errors import EXIT_OK, GitImportError
from ..output import human_bytes, load_config_of, plural, print_json, say, table


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
    from ...store.gc import Project, collect_garbage

    config = load_config_of(args)
    current = [Project(config.lockfile, config.base_dir)] if config.lockfile is not None else []
    result = collect_garbage(config.cache_dir, current, dry_run=args.dry_run)
    for lockfile in result.forgotten:
        say(args, f"{'Would forget' if args.dry_run else 'Forgot'} {lockfile} (it no longer exists)")
    for path in result.removed:
        say(args, f"  {path.relative_to(config.cache_dir).as_posix()}")
    verb = "Would remove" if args.dry_run else "Removed"
    kept = f"kept what {plural(len(result.projects), 'lock file')} reference{'s' if len(result.projects) == 1 else ''}"
    freed = f"{human_bytes(result.freed)} {'would be freed' if args.dry_run else 'freed'}"
    say(args, f"{verb} {plural(len(result.removed), 'cache entry', 'cache entries')} ({freed}); {kept}")
    return EXIT_OK


def cmd_cache_dir(args: argparse.Namespace) -> int:
    print(load_config_of(args).cache_dir)
    return EXIT_OK


def cmd_cache_size(args: argparse.Namespace) -> int:
    from ...store.gc import cache_sections

    root = load_config_of(args).cache_dir
    sections = cache_sections(root)
    total = sum(sections.values())
    if args.json:
        print_json({"cache_dir": str(root), "bytes": total, "sections": sections})
        return EXIT_OK
    print(f"{human_bytes(total)} in {root}")
    for line in table([(name, human_bytes(size)) for name, size in sections.items()]):
        print(f"  {line}")
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
