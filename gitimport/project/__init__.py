"""The files a user writes and commits: specs, the config and its discovery, the lock.

The bottom layer above :mod:`gitimport.errors`: it knows nothing of the cache,
the network or the import system.
"""
