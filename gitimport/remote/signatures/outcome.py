"""The words the signature checks share: the kinds of signature, why one is refused, and what a check concludes.

A check works on a :class:`Candidate` (one commit or tag, split into signed
payload and signature) and ends in a :class:`Signer` (accepted) or a
:class:`Failure` (refused, with the phrase and hint that the verifier turns
into a :class:`~gitimport.errors.SignatureError`).  This module is only data
and names: it must never run a program, read a file or decide that a
signature is good.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import SignatureToolError

# The kinds of signature, by the armor that opens it.
SSH = "ssh"
OPENPGP = "openpgp"
PGP_MESSAGE = "openpgp-message"
X509 = "x509"
UNKNOWN = "unknown"

SSH_BEGIN = b"-----BEGIN SSH SIGNATURE-----"
#: The signature armor that git recognizes (gpg-interface.c), and what each one is.
SIGNATURE_MARKERS = {
    b"-----BEGIN PGP SIGNATURE-----": OPENPGP,
    b"-----BEGIN PGP MESSAGE-----": PGP_MESSAGE,
    SSH_BEGIN: SSH,
    b"-----BEGIN SIGNED MESSAGE-----": X509,
}
KIND_NAMES = {SSH: "SSH", OPENPGP: "OpenPGP", PGP_MESSAGE: "OpenPGP", X509: "X.509"}

# Why a signature was refused; SignatureError.reason is one of these.
UNSIGNED = "unsigned"
UNTRUSTED = "untrusted"
BAD = "bad"
UNSUPPORTED = "unsupported"
TOOL_MISSING = "tool-missing"
MISMATCH = "mismatch"

_TOOL_HINTS = {
    SSH: "install OpenSSH's ssh-keygen (8.2 or later, e.g. the openssh-client package) and make sure it is on PATH",
    OPENPGP: "install GnuPG (e.g. the gnupg package) and make sure gpg is on PATH",
}


@dataclass(frozen=True)
class Signer:
    """Who signed, and which object carries the signature that was accepted."""

    kind: str
    """``"ssh"`` or ``"openpgp"``."""
    identity: str
    """The SSH principal from the trusted-signers file, or the OpenPGP user id of the signature."""
    fingerprint: str
    """``SHA256:…`` for an SSH key; the primary key's 40 hex digits for OpenPGP."""
    object_type: str
    """``"commit"`` or ``"tag"``."""
    object_id: str

    def __str__(self) -> str:
        return f"{self.identity} ({KIND_NAMES[self.kind]} key {self.fingerprint}) on {self.object_type} {self.object_id[:12]}"


@dataclass(frozen=True)
class Candidate:
    """One object that may carry a signature, split the way git splits it."""

    object_type: str
    object_id: str
    label: str
    """How messages name it: ``commit 0123456789ab`` or ``tag v1.0``."""
    kind: str | None
    """One of the kinds above, or None when the object is not signed."""
    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class Failure:
    """Why one candidate's signature was refused, worded to follow "commit 0123… of NAME"."""

    reason: str
    phrase: str
    hint: str
    signer: str | None = None


def signature_kind(signature: bytes) -> str | None:
    """The kind of a signature by its opening armor; None for no signature at all."""
    if not signature:
        return None
    for marker, kind in SIGNATURE_MARKERS.items():
        if signature.startswith(marker):
            return kind
    return UNKNOWN


def tool_missing(kind: str) -> Failure:
    """The refusal of a signature whose checking program is not installed (never a silent pass)."""
    tool = "ssh-keygen" if kind == SSH else "gpg"
    return Failure(TOOL_MISSING, f"carries an {KIND_NAMES[kind]} signature, but {tool} is not installed to check it", _TOOL_HINTS[kind])


def tool_missing_error(kind: str, path: Path) -> SignatureToolError:
    """:func:`tool_missing` as an error, for when the program vanishes while the keys are being set up."""
    failure = tool_missing(kind)
    return SignatureToolError(f"A signature {failure.phrase}.", failure.hint, reason=TOOL_MISSING, trusted_signers=path)
