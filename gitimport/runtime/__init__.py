"""The import system side: the finder, the metadata it answers, and ``gitimport run``.

The finder's warm path uses only :mod:`gitimport.state` and what it imports;
its cold path reaches up to :mod:`gitimport.sync`, lazily.
"""
