"""Splitting a raw commit or tag into the signed payload and its signature, byte for byte as git does.

The bytes handed to ssh-keygen and gpg must be exactly the ones the signer
signed, so these are ports of git's own splitters, working on the raw object
(already checked against its id by ``read_object``).  They must never parse
more leniently or more strictly than git: an object git would check is split
here, and nothing outside git's signature headers or trailing armor is ever
taken for a signature.

Why not dulwich's ``Commit.extract_signature()`` / ``Tag.extract_signature()``:
they do not give git's bytes, and differently so on the two dulwich versions
gitimport supports (checked on 0.24.10 for Python 3.9 and 1.2.21):

* both drop the final newline of a commit's ``gpgsig`` signature, which git keeps;
* 0.24 re-serializes the commit for the payload and keeps a ``gpgsig-sha256``
  header in it, which git removes;
* 0.24 cuts a tag at the first ``BEGIN PGP SIGNATURE`` anywhere in the message
  (a quoted one included) where git takes the last armor line of any kind;
* an X.509 signature makes both raise, except on a 0.24 tag, which takes it
  for no signature; gitimport must refuse it as unsupported, not as unsigned;
* both parse the whole object first, and raise where git only splits: 1.2.21
  on ids it finds malformed, 0.24 on tag headers it does not know.
"""

from __future__ import annotations

from .outcome import SIGNATURE_MARKERS


def split_commit_signature(data: bytes, *, sha256: bool = False) -> tuple[bytes, bytes]:
    """Split a raw commit into (signed payload, signature) as git does.

    The signature is the ``gpgsig`` header (``gpgsig-sha256`` in a SHA-256
    repository) with its continuation lines' leading space removed; the payload
    is the commit without that header and without any other ``gpgsig*``
    header.  The signature is empty when the commit is not signed.
    (A port of ``parse_buffer_signed_by_header`` in git's commit.c.)
    """
    header = b"gpgsig-sha256 " if sha256 else b"gpgsig "
    payload: list[bytes] = []
    signature: list[bytes] = []
    in_signature = other_signature = False
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position)
        end = len(data) if newline < 0 else newline + 1
        line = data[position:end]
        part = None
        if in_signature and line.startswith(b" "):
            part = line[1:]
        elif line.startswith(header):
            part = line[len(header) :]
            other_signature = False
        elif line.startswith(b"gpgsig"):
            other_signature = True
        elif other_signature and not line.startswith(b" "):
            other_signature = False
        if part is not None:
            signature.append(part)
            in_signature = True
        else:
            if line.startswith(b"\n"):  # the blank line: the message follows, and is all payload
                end = len(data)
                line = data[position:]
            if not other_signature:
                payload.append(line)
            in_signature = False
        position = end
    return b"".join(payload), b"".join(signature)


def split_tag_signature(data: bytes) -> tuple[bytes, bytes]:
    """Split a raw tag into (signed payload, signature) as git does.

    The signature starts at the last line that opens a signature armor
    (``-----BEGIN PGP SIGNATURE-----``, ``-----BEGIN SSH SIGNATURE-----``, …)
    and runs to the end; the payload is everything before it.
    (A port of ``parse_signed_buffer`` in git's gpg-interface.c.)
    """
    match = len(data)
    position = 0
    while position < len(data):
        if any(data.startswith(marker, position) for marker in SIGNATURE_MARKERS):
            match = position
        newline = data.find(b"\n", position)
        position = len(data) if newline < 0 else newline + 1
    return data[:match], data[match:]


def headers(data: bytes) -> dict[bytes, bytes]:
    """The first value of each header line of a raw commit or tag (continuation lines are skipped)."""
    found: dict[bytes, bytes] = {}
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        if line and not line.startswith(b" "):
            key, _, value = line.partition(b" ")
            found.setdefault(key, value)
    return found
