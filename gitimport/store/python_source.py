"""Python source from a repository, parsed as data (never run): one lock around ``ast.parse``.

CPython keeps the recursion depth of its AST-to-object conversion per
interpreter, not per thread (fixed in 3.12.x and 3.11.8, gh-106905), so two
threads parsing at once can fail with ``SystemError: AST constructor
recursion depth mismatch``.  Both the metadata readers (``attr:`` versions,
flit modules) and the build-file check (what an ``__init__.py`` imports)
parse source, and threads materialize at once when a program calls
``pin()`` from several: seen once on 3.11.7 in the benchmark of 16
repositories with ``--jobs 8``, when ``sync --jobs`` still used threads
(it uses processes now).  Parsing is rare and short, so one lock for the
process costs nothing that shows.
"""

from __future__ import annotations

import ast
import threading

_PARSING = threading.Lock()


def parse_source(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` of ``source``, one thread at a time.

    Raises:
      SyntaxError, ValueError: as ``ast.parse`` does for source that is not Python.
    """
    with _PARSING:
        return ast.parse(source, filename=filename)
