"""``gitimport add`` and ``remove``: change the config (and the lock) from the command line."""

from __future__ import annotations

import argparse

from ...errors import EXIT_OK
from ..output import load_config_of, say, warn
from .sync import print_report


def cmd_add(args: argparse.Namespace) -> int:
    from ...edit import add_module

    config = load_config_of(args)
    if config.shadowed is not None:
        warn(f"{config.path} takes precedence over [tool.gitimport] in {config.shadowed}")
    added = add_module(config, args.name, args.spec, only=args.only, warn=warn)
    if added.created:
        say(args, f"Created {added.config_path}")
    if added.unchanged:
        say(args, f"{args.name} is already in {added.config_path} with this spec")
    elif added.replaced is not None:
        say(args, f"Changed {args.name} in {added.config_path} (was {added.replaced})")
    else:
        say(args, f"Added {args.name} to {added.config_path}")
    if added.also:
        say(args, f"Pinned with it, as also = [{', '.join(added.also)}]: the other top-level names its distribution ships")
    print_report(args, added.report)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from ...edit import remove_module

    config = load_config_of(args)
    lock_changed = remove_module(config, args.name)
    where = f"{config.path} and {config.lockfile}" if lock_changed else f"{config.path}"
    others = config.group(args.name)[1:]
    say(args, f"Removed {args.name} from {where}" + (f" (and {', '.join(others)}, pinned with it by also)" if others else ""))
    return EXIT_OK
