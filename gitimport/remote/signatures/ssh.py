"""The SSH check: ``ssh-keygen -Y find-principals`` and ``ssh-keygen -Y verify`` against the trusted keys.

A signature counts only when ssh-keygen finds its key in the SSH part of the
trusted-signers file and verifies it in the ``git`` namespace, the one git
signs in.  The key's fingerprint is read from the signature itself, so a
refusal can say which key signed.  This module must never accept a signature
without ssh-keygen's word, never read the user's ``~/.ssh`` or git's own
allowed-signers setting, and never leave the payload or signature on disk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import IO

from .outcome import BAD, SSH, SSH_BEGIN, UNSUPPORTED, UNTRUSTED, Candidate, Failure, Signer, tool_missing
from .tools import Workdir, last_line, run
from .trusted import TrustedSigners

SSH_END = b"-----END SSH SIGNATURE-----"
#: The namespace git signs commits and tags in (``ssh-keygen -Y sign -n git``).
NAMESPACE = "git"


class SshCheck:
    """Checks SSH signatures against the SSH part of one trusted-signers file."""

    def __init__(self, signers: TrustedSigners, workdir: Workdir, timeout: float) -> None:
        self.signers = signers
        self.timeout = timeout
        self._workdir = workdir
        self._allowed_signers: Path | None = None

    def check(self, candidate: Candidate) -> Signer | Failure:
        """Accept the candidate's SSH signature, or say why not."""
        path = self.signers.path
        try:
            key_type, fingerprint = signature_key(candidate.signature)
        except ValueError:
            return Failure(UNSUPPORTED, "carries an SSH signature that cannot be read", "the signature block is damaged")
        who = f"SSH key {fingerprint} ({key_type})"
        if not self.signers.has_ssh_keys:
            return Failure(
                UNTRUSTED,
                f"is signed by {who}, and {path} lists no SSH keys",
                f"if you trust that key (compare its fingerprint with its owner's), add its public key to {path}",
                who,
            )
        ssh_keygen = shutil.which("ssh-keygen")
        if ssh_keygen is None:
            return tool_missing(SSH)
        with self._workdir.scratch() as scratch:
            signature_file = scratch / "signature"
            signature_file.write_bytes(candidate.signature)
            payload_file = scratch / "payload"
            payload_file.write_bytes(candidate.payload)
            principals = self._principals(ssh_keygen, signature_file, who)
            if isinstance(principals, Failure):
                return principals
            return self._verify(ssh_keygen, signature_file, payload_file, principals, candidate, fingerprint)

    def _principals(self, ssh_keygen: str, signature_file: Path, who: str) -> list[str] | Failure:
        """The trusted principals whose key made the signature; a Failure when there are none."""
        path = self.signers.path
        found = self._run([ssh_keygen, "-Y", "find-principals", "-f", str(self._allowed_signers_file()), "-s", str(signature_file)])
        if found is None:
            return tool_missing(SSH)
        principals = [line.strip() for line in found.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
        if found.returncode == 0 and principals:
            return principals
        problem = last_line(found.stderr)
        hint = f"if you trust that key (compare its fingerprint with its owner's), add its public key to {path}"
        if problem and "no principal matched" not in problem.lower():
            hint = f"ssh-keygen said: {problem}"
        return Failure(UNTRUSTED, f"is signed by {who}, which is not in {path}", hint, who)

    def _verify(
        self, ssh_keygen: str, signature_file: Path, payload_file: Path, principals: list[str], candidate: Candidate, fingerprint: str
    ) -> Signer | Failure:
        """The first principal for whom ssh-keygen verifies the payload; a ``bad`` Failure when it does for none."""
        allowed = str(self._allowed_signers_file())
        problems = []
        for principal in principals:
            with payload_file.open("rb") as payload:
                checked = self._run(
                    [ssh_keygen, "-Y", "verify", "-f", allowed, "-I", principal, "-n", NAMESPACE, "-s", str(signature_file)],
                    stdin=payload,
                )
            if checked is None:
                return tool_missing(SSH)
            if checked.returncode == 0:
                return Signer(SSH, principal, fingerprint, candidate.object_type, candidate.object_id)
            problems.append(last_line(checked.stderr) or last_line(checked.stdout))
        who = f"{principals[0]} (SSH key {fingerprint})"
        detail = next((p for p in problems if p), "")
        return Failure(
            BAD,
            f"carries a signature by {who} that does not verify: its content was changed after signing, or it was not signed for git",
            f"do not use this code; ssh-keygen said: {detail}" if detail else "do not use this code",
            who,
        )

    def _allowed_signers_file(self) -> Path:
        """The SSH part of the trusted-signers file, written once into the verifier's folder for ``ssh-keygen -f``."""
        if self._allowed_signers is None:
            self._allowed_signers = self._workdir.path / "allowed_signers"
            self._allowed_signers.write_text(self.signers.allowed_signers, encoding="utf-8")
        return self._allowed_signers

    def _run(self, args: list[str], stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes] | None:
        return run(args, timeout=self.timeout, trusted_signers=self.signers.path, stdin=stdin)


def signature_key(signature: bytes) -> tuple[str, str]:
    """The key type and ``SHA256:`` fingerprint of the key inside an armored SSHSIG (PROTOCOL.sshsig).

    Read only to name the signer in messages; whether the key is trusted is
    ssh-keygen's decision.

    Raises:
      ValueError: the armor or the blob inside it is damaged.
    """
    lines = signature.strip().splitlines()
    try:
        end = lines.index(SSH_END)
        if lines[0] != SSH_BEGIN:
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
    """One length-prefixed ``string`` of the SSH wire format (RFC 4251) and the position after it."""
    if position + 4 > len(data):
        raise ValueError("truncated")
    length = int.from_bytes(data[position : position + 4], "big")
    end = position + 4 + length
    if end > len(data):
        raise ValueError("truncated")
    return data[position + 4 : end], end
