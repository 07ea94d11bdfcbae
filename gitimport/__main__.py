"""``python -m gitimport``: the same as the ``gitimport`` command."""

import sys

from .cli.main import main

sys.exit(main())
