"""Namespace farms: folders of symlinks that make pinned dotted names portions of their namespace.

``"acme.tools" = …`` makes ``acme`` a namespace package.  Its pinned children
are served by name, but code that lists a namespace's portions
(``pkgutil.iter_modules(acme.__path__)``, plugin discovery) scans folders on
``acme.__path__``.  A farm holds ``acme/tools`` as a symlink to the cached
root; put at the end of ``sys.path``, it makes the path finder add it to
``acme.__path__`` beside any other portion.  A farm is named by its content
(:func:`farm_name`), built once and never changed, so the runtime state and
``gc`` agree on which farm a lock uses by computing the same name.  Standard
library only: the finder builds farms on its cold path.
"""

from __future__ import annotations

import os

from .. import atomic
from . import layout

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - interpreters without the builtin module
    from hashlib import blake2b as _blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def farm_links(roots: Mapping[str, tuple[str, str] | None]) -> dict[str, str]:
    """Link path inside the farm -> cached root, for pinned dotted names.

    ``roots`` maps each pinned name to its kind and cached root (None while
    it is not cached).  A name whose parent is itself pinned needs no link:
    the parent serves it.
    """
    links = {}
    for name, found in sorted(roots.items()):
        parent, _, leaf = name.rpartition(".")
        if found is not None and parent and parent not in roots:
            kind, root = found
            links[f"{parent.replace('.', '/')}/{leaf}{'.py' if kind == 'module' else ''}"] = root
    return links


def farm_name(links: Mapping[str, str]) -> str:
    """The farm's folder name under ``namespaces-v1``: a hash of its links."""
    return _blake2b(repr(sorted(links.items())).encode(), digest_size=12).hexdigest()


def ensure_farm(cache_root: str, links: Mapping[str, str]) -> str | None:
    """The farm folder for ``links``, built when missing; None when there are no links or symlinks fail."""
    if not links:
        return None
    farm = os.path.join(cache_root, layout.NAMESPACES, farm_name(links))
    if os.path.isdir(farm):
        return farm
    staging = None
    try:
        staging = atomic.new_staging_folder(farm)
        for relative, target in links.items():
            link = os.path.join(staging, relative)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(target, link)
        atomic.publish_folder(staging, farm)
    except OSError:
        if staging is not None and os.path.lexists(staging):
            atomic.remove(staging)
        return farm if os.path.isdir(farm) else None
    return farm
