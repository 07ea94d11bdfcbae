"""SHA-256 without OpenSSL: the one place that picks CPython's built-in hash module.

``hashlib`` loads OpenSSL, which costs ten times the import of the built-in
``_sha256`` (``_sha2`` from Python 3.12), more than the hashing it is used
for here.  Two things on the import path hash: ``verify = "import"``, and a
module's first import, which records the SHA-256 of the ``.pyc`` it writes
(:mod:`gitimport.store.bytecode`).  So this module imports only ``os``, and
must stay that way.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha2 import sha256  # Python 3.12 and later
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11 and earlier
        except ImportError:  # other interpreters
            from hashlib import sha256

__all__ = ["sha256", "sha256_file", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, or of a symlink's link text (docs/lock-file.md#the-digest)."""
    if os.path.islink(path):
        return sha256(os.readlink(path).encode("utf-8", "surrogateescape")).hexdigest()
    digest = sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
