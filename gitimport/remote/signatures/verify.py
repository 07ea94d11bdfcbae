"""Deciding whether a locked commit is signed by someone the user trusts: which signatures count, and the error if none does.

Only two signatures can vouch for a commit: the one on the annotated tag that
the ref names (tried first, and only if that tag really names the commit,
under the name it was published as) and the one on the commit itself.  Each
is split out of its verified raw object and handed to the SSH or OpenPGP
check; when neither is accepted, one :class:`~gitimport.errors.SignatureError`
says why for both.  This module must never accept a commit on any other
signature (a parent's, another tag's), never read an object except through
``read_object`` (which checks it hashes to its id), and never turn a refusal
into a pass: every path that is not a :class:`Signer` ends in an error.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import SignatureError, SignatureToolError
from ...store.objects import ObjectStore, read_object
from .openpgp import OpenPgpCheck
from .outcome import (
    MISMATCH,
    OPENPGP,
    PGP_MESSAGE,
    SSH,
    TOOL_MISSING,
    UNSIGNED,
    UNSUPPORTED,
    X509,
    Candidate,
    Failure,
    Signer,
    signature_kind,
)
from .split import headers, split_commit_signature, split_tag_signature
from .ssh import SshCheck
from .tools import TOOL_TIMEOUT, Workdir
from .trusted import TrustedSigners, load_trusted_signers


def verify_signed(
    store: ObjectStore,
    commit_id: str,
    tag_object_id: str | None,
    trusted_signers: Path | TrustedSigners,
    *,
    what: str,
    tag_name: str | None = None,
) -> Signer:
    """Check that ``commit_id``, or the annotated tag ``tag_object_id`` that names it, is signed by a trusted key.

    ``tag_object_id`` is the tag object that the ref names (``None`` for a
    branch, a commit id or a lightweight tag); its signature is tried first,
    then the commit's.  ``what`` names the module in messages.  When
    ``tag_name`` is given, a tag object whose own ``tag`` line names another
    tag does not count (a signed release re-published under another name).

    Raises:
      SignatureError: neither object carries a good signature by a trusted key.
      SignatureToolError: a signature needs ssh-keygen or gpg, which is not installed.
      ConfigError: the trusted-signers file is missing, unreadable or lists no keys.
      IntegrityError: an object is missing or does not hash to its id.
    """
    with SignatureVerifier(trusted_signers) as verifier:
        return verifier.verify(store, commit_id, tag_object_id, what=what, tag_name=tag_name)


class SignatureVerifier:
    """Checks signatures against one trusted-signers file; reusable for many commits.

    The file is read, and its OpenPGP keys imported, once.  Use it as a
    context manager, or call :meth:`close`, so that its temporary folder (the
    allowed-signers copy and the GnuPG home) is removed.
    Not safe to share between threads.
    """

    def __init__(self, trusted_signers: Path | TrustedSigners, *, timeout: float = TOOL_TIMEOUT) -> None:
        self.signers = trusted_signers if isinstance(trusted_signers, TrustedSigners) else load_trusted_signers(trusted_signers)
        self.timeout = timeout
        self._workdir = Workdir()
        self._ssh, self._openpgp = self._new_checks()

    def __enter__(self) -> SignatureVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary folder; a later :meth:`verify` sets it up afresh."""
        self._workdir.close()
        self._ssh, self._openpgp = self._new_checks()

    def verify(
        self,
        store: ObjectStore,
        commit_id: str,
        tag_object_id: str | None = None,
        *,
        what: str,
        tag_name: str | None = None,
    ) -> Signer:
        """See :func:`verify_signed`."""
        failures: list[tuple[Candidate, Failure]] = []
        if tag_object_id is not None:
            tag, tag_headers = _tag_candidate(store, tag_object_id)
            mismatch = _tag_mismatch(store, tag, tag_headers, commit_id, tag_name)
            result = mismatch if mismatch is not None else self._check(tag)
            if isinstance(result, Signer):
                return result
            failures.append((tag, result))
        commit = _commit_candidate(store, commit_id)
        result = self._check(commit)
        if isinstance(result, Signer):
            return result
        failures.append((commit, result))
        raise _error(failures, what, self.signers.path)

    def _new_checks(self) -> tuple[SshCheck, OpenPgpCheck]:
        return SshCheck(self.signers, self._workdir, self.timeout), OpenPgpCheck(self.signers, self._workdir, self.timeout)

    def _check(self, candidate: Candidate) -> Signer | Failure:
        """Hand the signature to the check for its kind; refuse kinds that gitimport cannot check."""
        if candidate.kind is None:
            return Failure(UNSIGNED, "is not signed", "")
        if candidate.kind == SSH:
            return self._ssh.check(candidate)
        if candidate.kind == OPENPGP:
            return self._openpgp.check(candidate)
        if candidate.kind == PGP_MESSAGE:
            detail = "an OpenPGP message rather than a detached signature"
        elif candidate.kind == X509:
            detail = "an X.509 signature"
        else:
            detail = "a signature of an unknown kind"
        return Failure(
            UNSUPPORTED,
            f"carries {detail}, which gitimport cannot check",
            f"sign with an SSH or OpenPGP key listed in {self.signers.path}",
        )


# -- reading objects ---------------------------------------------------------------------------


def _commit_candidate(store: ObjectStore, commit_id: str) -> Candidate:
    data = read_object(store, commit_id, b"commit")
    payload, signature = split_commit_signature(data, sha256=len(commit_id) == 64)
    return Candidate("commit", commit_id, f"commit {commit_id[:12]}", signature_kind(signature), payload, signature)


def _tag_candidate(store: ObjectStore, tag_id: str) -> tuple[Candidate, dict[bytes, bytes]]:
    """The tag as a candidate, and its headers (for :func:`_tag_mismatch`)."""
    data = read_object(store, tag_id, b"tag")
    payload, signature = split_tag_signature(data)
    tag_headers = headers(data)
    name = tag_headers.get(b"tag", b"").decode("utf-8", "replace")
    label = f"tag {name}" if name else f"tag {tag_id[:12]}"
    return Candidate("tag", tag_id, label, signature_kind(signature), payload, signature), tag_headers


def _tag_mismatch(
    store: ObjectStore, tag: Candidate, tag_headers: dict[bytes, bytes], commit_id: str, tag_name: str | None
) -> Failure | None:
    """Why the tag's signature cannot vouch for ``commit_id``; None when it can.

    It cannot when the tag was made under another name than the one it is
    published as, or when it (through any chain of tags) names anything but
    that commit.
    """
    if tag_name is not None:
        wanted = tag_name[len("refs/tags/") :] if tag_name.startswith("refs/tags/") else tag_name
        inner = tag_headers.get(b"tag", b"").decode("utf-8", "replace")
        if inner != wanted:
            return Failure(
                MISMATCH,
                f"is published as {wanted!r} but was made as {inner!r}, so its signature does not count",
                "ask the repository's owner to tag the release under its own name",
            )
    target_type, target = _peel(store, tag.object_id, tag_headers)
    if target_type != b"commit" or target != commit_id:
        return Failure(
            MISMATCH,
            f"points to {target_type.decode('ascii', 'replace')} {target[:12]}, not to commit {commit_id[:12]}",
            "the remote advertised a tag and a commit that do not belong together; run `gitimport sync` again",
        )
    return None


def _peel(store: ObjectStore, tag_id: str, tag_headers: dict[bytes, bytes]) -> tuple[bytes, str]:
    """(type, id) of what a tag finally names, following tags of tags; a loop stops at the tag that closes it."""
    seen = {tag_id}
    while True:
        target = tag_headers.get(b"object", b"").decode("ascii", "replace")
        target_type = tag_headers.get(b"type", b"")
        if target_type != b"tag" or target in seen:
            return target_type, target
        seen.add(target)
        tag_headers = headers(read_object(store, target, b"tag"))


# -- the error ---------------------------------------------------------------------------------


def _error(failures: list[tuple[Candidate, Failure]], what: str, path: Path) -> SignatureError:
    """One error for all refused candidates, led by the first that carried a signature at all."""
    signed = [(c, f) for c, f in failures if f.reason != UNSIGNED]
    if not signed:
        return _unsigned_error([c for c, _ in failures], what, path)
    candidate, primary = signed[0]
    message = f"{_capital(candidate.label)} of {what} {primary.phrase}"
    for other, failure in failures:
        if other is not candidate:
            joint = "its " if other.object_type == "commit" else "the "
            same = (failure.reason, failure.signer) == (primary.reason, primary.signer)
            message += f", and {joint}{other.label} too" if same else f", and {joint}{other.label} {failure.phrase}"
    hint = primary.hint or f"only signatures by keys in {path} are accepted"
    error_class = SignatureToolError if primary.reason == TOOL_MISSING else SignatureError
    return error_class(message + ".", hint, reason=primary.reason, signer=primary.signer, trusted_signers=path)


def _unsigned_error(candidates: list[Candidate], what: str, path: Path) -> SignatureError:
    labels = [c.label for c in candidates]
    if len(labels) == 2:
        message = f"Neither {labels[0]} nor its {labels[1]} of {what} is signed, and require-signed is on."
    else:
        message = f"{_capital(labels[0])} of {what} is not signed, and require-signed is on."
    hint = f"sign the commit (git commit -S) or a tag that the ref names (git tag -s) with a key listed in {path}"
    return SignatureError(message, hint, reason=UNSIGNED, trusted_signers=path)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
