"""Checking that a locked commit is signed by someone the user trusts (docs/security.md#3-signed-code).

With ``require-signed = true`` a commit is accepted only when the tag that the
ref names, or the commit itself, carries a good signature by a key listed in
the ``trusted-signers`` file; no other signature counts (not one on a parent,
not one on another tag pointing at the same commit).  SSH signatures are
checked with ``ssh-keygen -Y find-principals`` and ``ssh-keygen -Y verify``,
OpenPGP signatures with ``gpg --verify`` in a temporary GnuPG home that holds
only the trusted keys, so the user's own keyring is never read or changed.
Objects are read with :func:`gitimport.store.objects.read_object`, which
checks that each one hashes to its id, so the bytes whose signature is checked
are exactly the objects that the ids name.  Nothing from the repository is
ever executed: the only programs run are ``ssh-keygen`` and ``gpg``, on
temporary files that are always removed.

The package
-----------

* :mod:`.trusted`: the trusted-signers file and its format;
* :mod:`.verify`: which signatures count, and the error when none does;
* :mod:`.split`: a raw commit or tag split into payload and signature as git does;
* :mod:`.ssh` and :mod:`.openpgp`: the strict ``ssh-keygen`` and ``gpg`` checks;
* :mod:`.tools` and :mod:`.outcome`: what those share (running a tool, temporary
  folders; the kinds, reasons and results of a check).

This module is the public face: import from here, not from the parts.

Use
---

``verify_signed(store, commit_id, tag_object_id, path, what=name)`` checks one
commit and returns the :class:`Signer`, or raises :class:`SignatureError`.  To
check many commits against one file, open one :class:`SignatureVerifier` and
call its ``verify`` method for each: the file is read and the OpenPGP keys are
imported once.
"""

from __future__ import annotations

from ...errors import SignatureError, SignatureToolError
from .outcome import BAD, MISMATCH, OPENPGP, SSH, TOOL_MISSING, UNSIGNED, UNSUPPORTED, UNTRUSTED, Signer
from .split import split_commit_signature, split_tag_signature
from .tools import TOOL_TIMEOUT
from .trusted import PGP_KEY_BEGIN, PGP_KEY_END, TrustedSigners, load_trusted_signers, parse_trusted_signers
from .verify import SignatureVerifier, verify_signed

__all__ = [
    "BAD",
    "MISMATCH",
    "OPENPGP",
    "PGP_KEY_BEGIN",
    "PGP_KEY_END",
    "SSH",
    "TOOL_MISSING",
    "TOOL_TIMEOUT",
    "UNSIGNED",
    "UNSUPPORTED",
    "UNTRUSTED",
    "SignatureError",
    "SignatureToolError",
    "SignatureVerifier",
    "Signer",
    "TrustedSigners",
    "load_trusted_signers",
    "parse_trusted_signers",
    "split_commit_signature",
    "split_tag_signature",
    "verify_signed",
]
