"""The ``gitimport`` command line: the top layer (see :mod:`gitimport.cli.main`)."""
