"""Checking that a locked commit is signed by someone the user trusts (docs/security.md#3-signed-code).

With ``require-signed = true`` a commit is accepted only when the tag that the
ref names, or the commit itself, carries a good signature by a key listed in
the ``trusted-signers`` file; no other signature counts (not one on a parent,
not one on another tag pointing at the same commit).  SSH signatures are
checked with ``ssh-keygen -Y find-principals`` and ``ssh-keygen -Y verify``,
OpenPGP signatures with ``gpg --verify`` in a temporary GnuPG home that holds
only the trusted keys, so the user's own keyring is never read or changed.
Objects are read with :func:`gitimport.materialize.read_object`, which checks
that each one hashes to its id, so the bytes whose signature is checked are
exactly the objects that the ids name.  Nothing from the repository is ever
executed: the only programs run are ``ssh-keygen`` and ``gpg``, on temporary
files that are always removed.

The trusted-signers file
------------------------

A text file (UTF-8) in two parts that may be mixed in any order:

* SSH keys, in the ``allowed_signers`` format of ``ssh-keygen(1)`` (the same
  file as git's ``gpg.ssh.allowedSignersFile``)::

      # principal(s)        [options]            key type     public key
      alice@example.com                          ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAA...
      bob@example.com,bob   namespaces="git"     ssh-rsa      AAAAB3NzaC1yc2EAAAADAQAB...

  The principal is the name reported for a good signature.  Blank lines and
  lines starting with ``#`` are ignored.

* OpenPGP public keys as ASCII-armored blocks, as ``gpg --armor --export KEY``
  writes them::

      -----BEGIN PGP PUBLIC KEY BLOCK-----
      ...
      -----END PGP PUBLIC KEY BLOCK-----

  Every key in a block is trusted (its primary key and its signing subkeys);
  the name reported for a good signature is the signature's user id.

Everything outside the armored blocks is handed to ``ssh-keygen`` as the
allowed-signers file; the blocks are imported into the temporary GnuPG home.

Use
---

``verify_signed(store, commit_id, tag_object_id, path, what=name)`` checks one
commit and returns the :class:`Signer`, or raises :class:`SignatureError`.  To
check many commits against one file, open one :class:`SignatureVerifier` and
call its ``verify`` method for each: the file is read and the OpenPGP keys are
imported once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import subprocess
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import ConfigError, IntegrityError
from ..store.objects import ObjectStore, read_object

SSH = "ssh"
OPENPGP = "openpgp"

#: Seconds one run of ssh-keygen or gpg may take.
TOOL_TIMEOUT = 60.0

PGP_KEY_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
PGP_KEY_END = "-----END PGP PUBLIC KEY BLOCK-----"

_SSH_BEGIN = b"-----BEGIN SSH SIGNATURE-----"
_SSH_END = b"-----END SSH SIGNATURE-----"
_X509 = "x509"
_PGP_MESSAGE = "openpgp-message"
# The signature armor that git recognizes (gpg-interface.c), and what each one is.
_SIGNATURE_MARKERS = {
    b"-----BEGIN PGP SIGNATURE-----": OPENPGP,
    b"-----BEGIN PGP MESSAGE-----": _PGP_MESSAGE,
    _SSH_BEGIN: SSH,
    b"-----BEGIN SIGNED MESSAGE-----": _X509,
}
_KIND_NAMES = {SSH: "SSH", OPENPGP: "OpenPGP", _PGP_MESSAGE: "OpenPGP", _X509: "X.509"}

# Why a signature was refused; SignatureError.reason is one of these.
UNSIGNED = "unsigned"
UNTRUSTED = "untrusted"
BAD = "bad"
UNSUPPORTED = "unsupported"
TOOL_MISSING = "tool-missing"
MISMATCH = "mismatch"


class SignatureError(IntegrityError):
    """A commit that ``require-signed`` refuses: unsigned, badly signed, or signed by an untrusted key.

    ``reason`` is one of ``unsigned``, ``untrusted``, ``bad``, ``unsupported``,
    ``tool-missing`` and ``mismatch`` (a tag that does not name the commit);
    ``signer`` says who signed, when that is known; ``trusted_signers`` is the
    file that says whom to trust.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        reason: str,
        signer: str | None = None,
        trusted_signers: Path | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.reason = reason
        self.signer = signer
        self.trusted_signers = trusted_signers


class SignatureToolError(SignatureError):
    """``ssh-keygen`` or ``gpg`` is needed to check a signature but is not installed."""


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
        return f"{self.identity} ({_KIND_NAMES[self.kind]} key {self.fingerprint}) on {self.object_type} {self.object_id[:12]}"


@dataclass(frozen=True)
class TrustedSigners:
    """A trusted-signers file, split into its SSH and OpenPGP parts."""

    path: Path
    allowed_signers: str
    """The SSH part, in ssh-keygen's allowed-signers format."""
    openpgp_keys: tuple[str, ...]
    """The ASCII-armored OpenPGP public key blocks."""

    @property
    def has_ssh_keys(self) -> bool:
        return any(line.strip() and not line.lstrip().startswith("#") for line in self.allowed_signers.splitlines())


def parse_trusted_signers(text: str, path: Path) -> TrustedSigners:
    """Split the text of a trusted-signers file; ``path`` is only used in messages."""
    ssh_lines: list[str] = []
    blocks: list[str] = []
    block: list[str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if block is None:
            if stripped == PGP_KEY_BEGIN:
                block = [stripped]
                start = number
            else:
                ssh_lines.append(line)
        else:
            block.append(stripped)
            if stripped == PGP_KEY_END:
                blocks.append("\n".join(block) + "\n")
                block = None
    if block is not None:
        raise ConfigError(
            f"The trusted-signers file {path} has an OpenPGP key block at line {start} without its {PGP_KEY_END!r} line.",
            "paste the whole output of `gpg --armor --export KEY`",
        )
    signers = TrustedSigners(path, "\n".join(ssh_lines) + "\n", tuple(blocks))
    if not signers.has_ssh_keys and not signers.openpgp_keys:
        raise ConfigError(
            f"The trusted-signers file {path} lists no keys, so no signature could be trusted.",
            "add lines `PRINCIPAL ssh-ed25519 AAAA…` for SSH keys, or paste `gpg --armor --export KEY` output for OpenPGP keys",
        )
    return signers


def load_trusted_signers(path: Path) -> TrustedSigners:
    """Read and split a trusted-signers file.

    Raises:
      ConfigError: the file cannot be read, has an unterminated key block, or lists no keys.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"The trusted-signers file {path} does not exist.",
            "create it with one `PRINCIPAL ssh-ed25519 AAAA…` line per trusted SSH key, or OpenPGP keys from `gpg --armor --export`",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"The trusted-signers file {path} cannot be read: {error}.", "check the trusted-signers setting") from None
    return parse_trusted_signers(text, Path(path))


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


@dataclass(frozen=True)
class _Candidate:
    """One object that may carry a signature, split the way git splits it."""

    object_type: str
    object_id: str
    label: str
    kind: str | None
    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class _Failure:
    reason: str
    phrase: str
    hint: str
    signer: str | None = None


class SignatureVerifier:
    """Checks signatures against one trusted-signers file; reusable for many commits.

    Use it as a context manager, or call :meth:`close`, so that its temporary
    folder (the allowed-signers copy and the GnuPG home) is removed.
    Not safe to share between threads.
    """

    def __init__(self, trusted_signers: Path | TrustedSigners, *, timeout: float = TOOL_TIMEOUT) -> None:
        self.signers = trusted_signers if isinstance(trusted_signers, TrustedSigners) else load_trusted_signers(trusted_signers)
        self.timeout = timeout
        self._workdir: Path | None = None
        self._allowed_signers: Path | None = None
        self._gnupg_home: Path | None = None
        self._openpgp_keys: dict[str, str] = {}  # primary fingerprint -> first user id
        self._finalizer: weakref.finalize[[Path], SignatureVerifier] | None = None

    def __enter__(self) -> SignatureVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._workdir = self._allowed_signers = self._gnupg_home = self._finalizer = None
        self._openpgp_keys = {}

    # -- the check ------------------------------------------------------------------------------

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
        failures: list[tuple[_Candidate, _Failure]] = []
        if tag_object_id is not None:
            tag = _tag_candidate(store, tag_object_id)
            mismatch = _tag_mismatch(store, tag, commit_id, tag_name)
            if mismatch is not None:
                failures.append((tag, mismatch))
            else:
                result = self._check(tag)
                if isinstance(result, Signer):
                    return result
                failures.append((tag, result))
        commit = _commit_candidate(store, commit_id)
        result = self._check(commit)
        if isinstance(result, Signer):
            return result
        failures.append((commit, result))
        raise self._error(failures, what)

    def _check(self, candidate: _Candidate) -> Signer | _Failure:
        if candidate.kind is None:
            return _Failure(UNSIGNED, "is not signed", "")
        if candidate.kind == SSH:
            return self._check_ssh(candidate)
        if candidate.kind == OPENPGP:
            return self._check_openpgp(candidate)
        if candidate.kind == _PGP_MESSAGE:
            detail = "an OpenPGP message rather than a detached signature"
        elif candidate.kind == _X509:
            detail = "an X.509 signature"
        else:
            detail = "a signature of an unknown kind"
        return _Failure(
            UNSUPPORTED,
            f"carries {detail}, which gitimport cannot check",
            f"sign with an SSH or OpenPGP key listed in {self.signers.path}",
        )

    # -- SSH ------------------------------------------------------------------------------------

    def _check_ssh(self, candidate: _Candidate) -> Signer | _Failure:
        path = self.signers.path
        try:
            key_type, fingerprint = _ssh_signature_key(candidate.signature)
        except ValueError:
            return _Failure(UNSUPPORTED, "carries an SSH signature that cannot be read", "the signature block is damaged")
        who = f"SSH key {fingerprint} ({key_type})"
        key = f"SSH key {fingerprint}"
        if not self.signers.has_ssh_keys:
            return _Failure(
                UNTRUSTED,
                f"is signed by {who}, and {path} lists no SSH keys",
                f"if you trust that key (compare its fingerprint with its owner's), add its public key to {path}",
                who,
            )
        ssh_keygen = shutil.which("ssh-keygen")
        if ssh_keygen is None:
            return _tool_missing(SSH)
        with self._scratch() as scratch:
            signature_file = scratch / "signature"
            signature_file.write_bytes(candidate.signature)
            payload_file = scratch / "payload"
            payload_file.write_bytes(candidate.payload)
            allowed = str(self._allowed_signers_file())
            found = self._run([ssh_keygen, "-Y", "find-principals", "-f", allowed, "-s", str(signature_file)])
            if found is None:
                return _tool_missing(SSH)
            principals = [line.strip() for line in found.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
            if found.returncode != 0 or not principals:
                problem = _last_line(found.stderr)
                hint = f"if you trust that key (compare its fingerprint with its owner's), add its public key to {path}"
                if problem and "no principal matched" not in problem.lower():
                    hint = f"ssh-keygen said: {problem}"
                return _Failure(UNTRUSTED, f"is signed by {who}, which is not in {path}", hint, who)
            problems = []
            for principal in principals:
                with payload_file.open("rb") as payload:
                    checked = self._run(
                        [ssh_keygen, "-Y", "verify", "-f", allowed, "-I", principal, "-n", "git", "-s", str(signature_file)],
                        stdin=payload,
                    )
                if checked is None:
                    return _tool_missing(SSH)
                if checked.returncode == 0:
                    return Signer(SSH, principal, fingerprint, candidate.object_type, candidate.object_id)
                problems.append(_last_line(checked.stderr) or _last_line(checked.stdout))
        who = f"{principals[0]} ({key})"
        detail = next((p for p in problems if p), "")
        return _Failure(
            BAD,
            f"carries a signature by {who} that does not verify: its content was changed after signing, or it was not signed for git",
            f"do not use this code; ssh-keygen said: {detail}" if detail else "do not use this code",
            who,
        )

    def _allowed_signers_file(self) -> Path:
        if self._allowed_signers is None:
            self._allowed_signers = self._work() / "allowed_signers"
            self._allowed_signers.write_text(self.signers.allowed_signers, encoding="utf-8")
        return self._allowed_signers

    # -- OpenPGP --------------------------------------------------------------------------------

    def _check_openpgp(self, candidate: _Candidate) -> Signer | _Failure:
        gpg = _gpg_program()
        if gpg is None:
            return _tool_missing(OPENPGP)
        home = self._gnupg(gpg)
        with self._scratch() as scratch:
            signature_file = scratch / "signature.asc"
            signature_file.write_bytes(candidate.signature)
            payload_file = scratch / "payload"
            payload_file.write_bytes(candidate.payload)
            result = self._run(
                [*_gpg_args(gpg, home), "--status-fd", "1", "--trust-model", "always", "--verify", str(signature_file), str(payload_file)],
                home=home,
            )
        if result is None:
            return _tool_missing(OPENPGP)
        return self._read_gpg_status(candidate, result)

    def _read_gpg_status(self, candidate: _Candidate, result: subprocess.CompletedProcess[bytes]) -> Signer | _Failure:
        path = self.signers.path
        status: dict[str, list[str]] = {}
        signatures = 0
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            if not line.startswith("[GNUPG:] "):
                continue
            keyword, _, rest = line[9:].partition(" ")
            signatures += keyword == "NEWSIG"
            status.setdefault(keyword, rest.split(" "))
        problem = _last_line(result.stderr)
        if signatures > 1 or "PLAINTEXT" in status:
            return _Failure(
                UNSUPPORTED,
                "carries an OpenPGP signature block that is not one detached signature",
                "sign with `git commit -S` or `git tag -s`",
            )
        valid = status.get("VALIDSIG", [])
        if result.returncode == 0 and "GOODSIG" in status and len(valid) >= 10 and valid[9].upper() in self._openpgp_keys:
            primary = valid[9].upper()
            identity = " ".join(status["GOODSIG"][1:]) or self._openpgp_keys[primary]
            return Signer(OPENPGP, identity, primary, candidate.object_type, candidate.object_id)
        for keyword, state in (
            ("EXPKEYSIG", "whose key has expired"),
            ("REVKEYSIG", "whose key was revoked"),
            ("EXPSIG", "in a signature that has expired"),
        ):
            if keyword in status:
                who = self._openpgp_who(status[keyword])
                return _Failure(
                    UNTRUSTED, f"is signed by {who}, {state}", f"ask the signer for a new signature, or update the key in {path}", who
                )
        if "BADSIG" in status:
            who = self._openpgp_who(status["BADSIG"])
            return _Failure(
                BAD,
                f"carries a signature by {who} that does not verify: its content was changed after signing",
                "do not use this code; the signed objects in the repository were altered",
                who,
            )
        if "ERRSIG" in status:
            fields = status["ERRSIG"]
            fingerprint = fields[6] if len(fields) > 6 and fields[6] not in ("", "-") else ""
            who = f"OpenPGP key {fingerprint.upper()}" if fingerprint else f"OpenPGP key ID {fields[0].upper()}"
            if (len(fields) > 5 and fields[5] == "9") or "NO_PUBKEY" in status:
                return _Failure(
                    UNTRUSTED,
                    f"is signed by {who}, which is not in {path}",
                    f"if you trust that key (check its fingerprint with its owner), add `gpg --armor --export KEY` output to {path}",
                    who,
                )
            return _Failure(UNSUPPORTED, f"carries a signature by {who} that gpg cannot check", f"gpg said: {problem}" if problem else "")
        return _Failure(UNSUPPORTED, "carries an OpenPGP signature that gpg cannot check", f"gpg said: {problem}" if problem else "")

    def _openpgp_who(self, fields: list[str]) -> str:
        key_id = fields[0].upper() if fields else "?"
        user_id = " ".join(fields[1:])
        fingerprint = next((f for f in self._openpgp_keys if f.endswith(key_id)), "")
        key = f"OpenPGP key {fingerprint}" if fingerprint else f"OpenPGP key ID {key_id}"
        return f"{user_id} ({key})" if user_id else key

    def _gnupg(self, gpg: str) -> Path:
        """The temporary GnuPG home holding the trusted keys, made on first use."""
        if self._gnupg_home is not None:
            return self._gnupg_home
        home = self._work() / "gnupg"
        home.mkdir(mode=0o700)
        # An existing common.conf without use-keyboxd keeps GnuPG 2.4 from starting a keyboxd here.
        (home / "common.conf").write_text("", encoding="utf-8")
        keys = self._work() / "trusted-keys.asc"
        keys.write_text("".join(self.signers.openpgp_keys), encoding="utf-8")
        imported = self._run([*_gpg_args(gpg, home), "--status-fd", "1", "--import", str(keys)], home=home)
        listed = self._run([*_gpg_args(gpg, home), "--with-colons", "--fixed-list-mode", "--list-keys"], home=home)
        if imported is None or listed is None:
            raise _tool_missing_error(OPENPGP, self.signers.path)
        self._openpgp_keys = _primary_keys(listed.stdout.decode("utf-8", "replace"))
        # The exit status is no guide: gpg also fails when it cannot ask an agent about secret keys.
        status = [line.split(" ")[1] for line in imported.stdout.decode("utf-8", "replace").splitlines() if line.startswith("[GNUPG:] ")]
        failed = {"IMPORT_PROBLEM", "NODATA"} & set(status) or status.count("IMPORT_OK") < len(self.signers.openpgp_keys)
        if self.signers.openpgp_keys and (failed or not self._openpgp_keys):
            problem = _gpg_problem(imported.stderr).replace(str(keys), str(self.signers.path))
            raise ConfigError(
                f"The trusted-signers file {self.signers.path} holds an OpenPGP key block that gpg cannot import.",
                f"gpg said: {problem}" if problem else "replace it with the output of `gpg --armor --export KEY`",
            )
        self._gnupg_home = home
        return home

    # -- plumbing -------------------------------------------------------------------------------

    def _work(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="gitimport-signatures-"))
            self._finalizer = weakref.finalize(self, _remove, self._workdir)
        return self._workdir

    def _scratch(self) -> _Scratch:
        return _Scratch(self._work())

    def _run(
        self, args: list[str], *, stdin: IO[bytes] | None = None, home: Path | None = None
    ) -> subprocess.CompletedProcess[bytes] | None:
        """Run a tool with a plain locale; None when it cannot be started."""
        env = dict(os.environ, LC_ALL="C", LANGUAGE="C")
        if home is not None:
            env["GNUPGHOME"] = str(home)
        try:
            return subprocess.run(
                args,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            return None
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SignatureToolError(
                f"{Path(args[0]).name} failed while checking a signature: {error}.",
                "check that ssh-keygen and gpg work on this machine",
                reason=TOOL_MISSING,
                trusted_signers=self.signers.path,
            ) from None

    def _error(self, failures: list[tuple[_Candidate, _Failure]], what: str) -> SignatureError:
        path = self.signers.path
        signed = [(c, f) for c, f in failures if f.reason != UNSIGNED]
        if not signed:
            labels = [c.label for c, _ in failures]
            if len(labels) == 2:
                message = f"Neither {labels[0]} nor its {labels[1]} of {what} is signed, and require-signed is on."
            else:
                message = f"{_capital(labels[0])} of {what} is not signed, and require-signed is on."
            hint = f"sign the commit (git commit -S) or a tag that the ref names (git tag -s) with a key listed in {path}"
            return SignatureError(message, hint, reason=UNSIGNED, trusted_signers=path)
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


class _Scratch:
    """A temporary folder for one check's payload and signature, always removed."""

    def __init__(self, parent: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="check-", dir=parent))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- reading objects ---------------------------------------------------------------------------


def _commit_candidate(store: ObjectStore, commit_id: str) -> _Candidate:
    data = read_object(store, commit_id, b"commit")
    payload, signature = split_commit_signature(data, sha256=len(commit_id) == 64)
    return _Candidate("commit", commit_id, f"commit {commit_id[:12]}", _signature_kind(signature), payload, signature)


def _tag_candidate(store: ObjectStore, tag_id: str) -> _Candidate:
    data = read_object(store, tag_id, b"tag")
    payload, signature = split_tag_signature(data)
    name = _headers(data).get(b"tag", b"").decode("utf-8", "replace")
    label = f"tag {name}" if name else f"tag {tag_id[:12]}"
    return _Candidate("tag", tag_id, label, _signature_kind(signature), payload, signature)


def _tag_mismatch(store: ObjectStore, tag: _Candidate, commit_id: str, tag_name: str | None) -> _Failure | None:
    """Why the tag's signature cannot vouch for ``commit_id``; None when it can."""
    data = read_object(store, tag.object_id, b"tag")
    headers = _headers(data)
    if tag_name is not None:
        wanted = tag_name[len("refs/tags/") :] if tag_name.startswith("refs/tags/") else tag_name
        inner = headers.get(b"tag", b"").decode("utf-8", "replace")
        if inner != wanted:
            return _Failure(
                MISMATCH,
                f"is published as {wanted!r} but was made as {inner!r}, so its signature does not count",
                "ask the repository's owner to tag the release under its own name",
            )
    seen = {tag.object_id}
    while True:
        target = headers.get(b"object", b"").decode("ascii", "replace")
        target_type = headers.get(b"type", b"")
        if target_type != b"tag" or target in seen:
            break
        seen.add(target)
        headers = _headers(read_object(store, target, b"tag"))
    if target_type != b"commit" or target != commit_id:
        return _Failure(
            MISMATCH,
            f"points to {target_type.decode('ascii', 'replace')} {target[:12]}, not to commit {commit_id[:12]}",
            "the remote advertised a tag and a commit that do not belong together; run `gitimport sync` again",
        )
    return None


def _headers(data: bytes) -> dict[bytes, bytes]:
    """The first value of each header line of a commit or tag."""
    headers: dict[bytes, bytes] = {}
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        if line and not line.startswith(b" "):
            key, _, value = line.partition(b" ")
            headers.setdefault(key, value)
    return headers


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
            if line.startswith(b"\n"):
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
        if any(data.startswith(marker, position) for marker in _SIGNATURE_MARKERS):
            match = position
        newline = data.find(b"\n", position)
        position = len(data) if newline < 0 else newline + 1
    return data[:match], data[match:]


def _signature_kind(signature: bytes) -> str | None:
    if not signature:
        return None
    for marker, kind in _SIGNATURE_MARKERS.items():
        if signature.startswith(marker):
            return kind
    return "unknown"


# -- SSH signature blobs -----------------------------------------------------------------------


def _ssh_signature_key(signature: bytes) -> tuple[str, str]:
    """The key type and ``SHA256:`` fingerprint of the key inside an armored SSHSIG (PROTOCOL.sshsig)."""
    lines = signature.strip().splitlines()
    try:
        end = lines.index(_SSH_END)
        if lines[0] != _SSH_BEGIN:
            raise ValueError("no armor")
        blob = base64.b64decode(b"".join(line.strip() for line in lines[1:end]), validate=True)
    except (ValueError, binascii.Error, IndexError):
        raise ValueError("not an SSH signature") from None
    if not blob.startswith(b"SSHSIG") or len(blob) < 10:
        raise ValueError("not an SSH signature")
    key, _ = _ssh_string(blob, 10)
    key_type, _ = _ssh_string(key, 0)
    fingerprint = base64.b64encode(hashlib.sha256(key).digest()).decode("ascii").rstrip("=")
    return key_type.decode("ascii", "replace"), f"SHA256:{fingerprint}"


def _ssh_string(data: bytes, position: int) -> tuple[bytes, int]:
    if position + 4 > len(data):
        raise ValueError("truncated")
    length = int.from_bytes(data[position : position + 4], "big")
    end = position + 4 + length
    if end > len(data):
        raise ValueError("truncated")
    return data[position + 4 : end], end


# -- gpg ---------------------------------------------------------------------------------------


def _gpg_program() -> str | None:
    return shutil.which("gpg") or shutil.which("gpg2")


def _gpg_args(gpg: str, home: Path) -> list[str]:
    return [gpg, "--homedir", str(home), "--batch", "--no-tty", "--no-autostart", "--no-auto-key-retrieve", "--no-permission-warning"]


def _gpg_problem(stderr: bytes) -> str:
    """The line of gpg's chatter that says what went wrong."""
    chatter = ("created", "agent", "Total number", "processed", "imported", "unchanged")
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip() and not any(c in line for c in chatter)]
    return next((line for line in lines if "failed" in line), lines[-1] if lines else "")


def _primary_keys(colons: str) -> dict[str, str]:
    """Primary key fingerprint -> first user id, from ``gpg --with-colons --list-keys``."""
    keys: dict[str, str] = {}
    current: str | None = None
    expect_primary_fpr = False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            expect_primary_fpr, current = True, None
        elif fields[0] == "sub":
            expect_primary_fpr = False
        elif fields[0] == "fpr" and expect_primary_fpr and len(fields) > 9:
            current = fields[9].upper()
            keys[current] = ""
            expect_primary_fpr = False
        elif fields[0] == "uid" and current is not None and not keys[current] and len(fields) > 9:
            keys[current] = fields[9].replace("\\x3a", ":")
    return keys


# -- messages ----------------------------------------------------------------------------------


def _tool_missing(kind: str) -> _Failure:
    tool = "ssh-keygen" if kind == SSH else "gpg"
    return _Failure(TOOL_MISSING, f"carries an {_KIND_NAMES[kind]} signature, but {tool} is not installed to check it", _TOOL_HINTS[kind])


def _tool_missing_error(kind: str, path: Path) -> SignatureToolError:
    failure = _tool_missing(kind)
    return SignatureToolError(f"A signature {failure.phrase}.", failure.hint, reason=TOOL_MISSING, trusted_signers=path)


_TOOL_HINTS = {
    SSH: "install OpenSSH's ssh-keygen (8.2 or later, e.g. the openssh-client package) and make sure it is on PATH",
    OPENPGP: "install GnuPG (e.g. the gnupg package) and make sure gpg is on PATH",
}


def _last_line(output: bytes) -> str:
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
