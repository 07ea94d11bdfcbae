"""Installs the finder in interpreters started under ``gitimport run``.

``gitimport-run.pth`` in site-packages imports this module only when the
environment says ``GITIMPORT_RUN=1``, so interpreters outside ``gitimport
run`` pay one dictionary lookup.  A broken configuration must not stop the
interpreter from starting: it is reported on stderr, and imports of pinned
names then fail with their own ImportError.
"""

from __future__ import annotations

import sys

from .finder import install

try:
    install()
except Exception as exc:  # a GitImportError, or a bug: either way, let Python start
    sys.stderr.write(f"gitimport: {exc}\n")
