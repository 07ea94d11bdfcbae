"""The cache on disk: its layout, verified trees, bytecode, distribution metadata and gc.

Above :mod:`gitimport.project`, below everything that fetches or imports: it
reads git objects from an object store it is handed, but never talks to a
remote and never imports dulwich at module level.
"""
