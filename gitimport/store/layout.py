"""The cache's layout on disk: every folder and record name gitimport writes, in one place.

Layout under the cache dir (the ``-v1`` suffixes version the layout, so a
later layout never misreads this one)::

    repos-v1/<key>-<slug>/             bare repositories, one per normalized URL
    trees-v2/<object>-<root>/<root>    a materialized file or folder, read-only
    trees-v2/<object>.<key>-<root>/    the same, with generated files (key: their hashes)
    trees-v2/<object>-<root>/manifest.json       sha256 of every file, the digest
    trees-v2/<object>-<root>/pyc-records/<key>   "<sha256>  <path>" of a .pyc an import wrote
    trees-v2/<object>-<root>/bytecode-<tag>.json the same, for a tree that earlier releases compiled at sync
    trees-v2/<object>-<root>/origins.d/<key>.json  a commit:path this tree was materialized from
    blobs-v1/<id[:2]>/<blob id>-<mode> one copy of each file; trees hard-link to it
    pyc-v1/<hash[:2]>/<source sha256>.<tag>.<pyc sha256>.pyc   one copy of each compiled source
    dists-v2/<key>/<name>-<version>.dist-info   metadata of a pinned distribution
    dists-v2/modules/<key>.json        which .dist-info a locked module belongs to
    pins-v1/<key>.json                 pin() of an exact commit: its lock entry
    namespaces-v1/<key>/               symlinks that make pinned dotted names namespace portions
    projects-v1.json                   the lock files that use this cache (for gc)
    locks-v1/<name>.lock               inter-process file locks (``.holder``: who holds each)
    scripts-v1/<key>/                  launchers of pinned scripts, per lock and interpreter
    tmp-v1/                            build folders, renamed into place when complete
    CACHEDIR.TAG                       marks the folder as a cache gitimport created

Everything that reads or writes the cache takes its names from here, and
``gc`` collects every folder in :data:`COLLECTED`, so a new folder is added in
this file and nowhere else.  :data:`ENTRIES` lists every top-level name: an
untagged folder that holds anything else was not made by gitimport, which
neither writes into it nor removes it (docs/configuration.md#the-cache-folder).
This module is on the warm import path: strings and ``os.path`` only.
"""

import sys

REPOS = "repos-v1"
TREES = "trees-v2"
BLOBS = "blobs-v1"
PYCS = "pyc-v1"
DISTS = "dists-v2"
DIST_POINTERS = "modules"  # dists-v2/modules/
PINS = "pins-v1"
NAMESPACES = "namespaces-v1"
PROJECTS = "projects-v1.json"
LOCKS = "locks-v1"
TMP = "tmp-v1"
SCRIPTS = "scripts-v1"
#: The cache directory tag (https://bford.info/cachedir/): backup tools skip a
#: folder that holds it, and gitimport removes only folders that hold it.
TAG = "CACHEDIR.TAG"
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by gitimport.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
#: Every name gitimport creates at the top of a cache folder.
#: Folders of earlier layouts: nothing reads them, and ``gc`` removes them whole.  ``trees-v1``
#: trees were materialized before symlinks were resolved and trees bound to commit:path;
#: ``dists-v1`` metadata was read before setup.cfg entry points, Poetry, flit and dynamic versions
#: were, so its .dist-info folders may lack what the commit declares.
RETIRED = ("trees-v1", "dists-v1")
ENTRIES = (REPOS, TREES, BLOBS, PYCS, DISTS, PINS, NAMESPACES, PROJECTS, LOCKS, TMP, SCRIPTS, TAG, *RETIRED)

#: Folders whose entries ``gc`` removes when no known lock uses them.
COLLECTED = (TREES, REPOS, DISTS, PINS, NAMESPACES)
#: Content-addressed stores: an entry no tree links to any more is garbage.
STORES = (BLOBS, PYCS)

MANIFEST = "manifest.json"
#: Inside a tree entry (see gitimport.store.binding), beside the imported root: a name no package or
#: namespace root can have (a root named ``origins`` was once this very folder).
ORIGINS = "origins.d"
PYC_RECORDS = "pyc-records"  # inside a tree entry: see gitimport.store.bytecode


def root_name(path: str, module: str) -> str:
    """File or folder name of an imported root as kept in the cache.

    That is the last component of the lock's ``path``, or the module's own last
    name for a namespace package at the repository root (an empty path).
    """
    return path.rsplit("/", 1)[-1] or module.rsplit(".", 1)[-1]


def tree_entry_name(object_id: str, root: str, generated_key: str = "") -> str:
    """Folder name under ``trees-v2`` of the root ``root`` with git object id ``object_id``.

    A tree with generated files (docs/lock-file.md#generated-files) is another
    entry than the bare tree, since the same git tree can carry different
    version files at different commits: ``generated_key`` names them.
    """
    return f"{object_id}.{generated_key}-{root}" if generated_key else f"{object_id}-{root}"


def bytecode_suffix(optimize: "int | None" = None) -> str:
    """``cpython-311``, or ``cpython-311.opt-1`` under ``python -O``: one set of .pyc per value."""
    level = sys.flags.optimize if optimize is None else optimize
    return sys.implementation.cache_tag + (f".opt-{level}" if level else "")


def pyc_path(source: str, suffix: str) -> str:
    """The ``.pyc`` of a cached source for the interpreter of ``suffix`` (:func:`bytecode_suffix`).

    It lies in ``__pycache__`` beside the source whatever ``PYTHONPYCACHEPREFIX``
    says, since the cache keeps its bytecode with its sources.
    """
    head, _, tail = source.rpartition("/")
    return f"{head}/__pycache__/{tail.rpartition('.')[0]}.{suffix}.pyc"


def is_bytecode_record(name: str) -> bool:
    """A ``bytecode-<tag>.json`` in a tree entry: one interpreter's .pyc files, as earlier releases recorded them at sync."""
    return name.startswith("bytecode-") and name.endswith(".json")
