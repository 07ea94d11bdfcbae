"""``python -m gitimport``: the same as the ``gitimport`` command."""

import sys

from .cli.entry import main

sys.exit(main())
