"""The ``gitimport`` command's first step: ``gitimport run`` on its fast path, everything else through :mod:`.main`.

``gitimport run -- CMD`` is the one command whose cost lands on every process
a user starts through it, so it is tried first with nothing but the runtime
snapshot (:func:`gitimport.runtime.run.run_vouched`); the parser and the
configuration are loaded only when that cannot serve.  Nothing else belongs
here: this module is loaded by every command.
"""

import sys


def main() -> int:
    if sys.argv[1:2] == ["run"]:
        from ..runtime.run import run_vouched

        run_vouched(sys.argv[2:])  # replaces this process when the snapshot vouches for everything
    from .main import main as full

    return full()
