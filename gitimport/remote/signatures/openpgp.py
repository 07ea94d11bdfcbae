"""The OpenPGP check: ``gpg --verify`` in a temporary GnuPG home that holds only the trusted keys.

The key blocks of the trusted-signers file are imported once into a fresh
GnuPG home inside the verifier's folder, and every ``gpg`` run is pointed at
it (``--homedir`` and ``GNUPGHOME``), so the user's own keyring is never read
or changed.  A signature counts only when gpg reports it good (``GOODSIG``)
and the primary key of the signing key (``VALIDSIG``) is one of the imported
ones.  This module must never use the user's keyring, never fetch keys from
the network (``--no-auto-key-retrieve``), never start a gpg-agent of its own
(``--no-autostart``) and never leave the payload or signature on disk.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ...errors import ConfigError
from .outcome import BAD, OPENPGP, UNSUPPORTED, UNTRUSTED, Candidate, Failure, Signer, tool_missing, tool_missing_error
from .tools import Workdir, last_line, run
from .trusted import TrustedSigners

STATUS_PREFIX = "[GNUPG:] "
# The status keywords of a signature refused for its key's or its own age, and how messages put it.
_STALE = (
    ("EXPKEYSIG", "whose key has expired"),
    ("REVKEYSIG", "whose key was revoked"),
    ("EXPSIG", "in a signature that has expired"),
)


class OpenPgpCheck:
    """Checks OpenPGP signatures against the key blocks of one trusted-signers file."""

    def __init__(self, signers: TrustedSigners, workdir: Workdir, timeout: float) -> None:
        self.signers = signers
        self.timeout = timeout
        self._workdir = workdir
        self._gnupg_home: Path | None = None
        self._keys: dict[str, str] = {}  # primary fingerprint -> first user id

    def check(self, candidate: Candidate) -> Signer | Failure:
        """Accept the candidate's OpenPGP signature, or say why not.

        Raises:
          ConfigError: a key block of the trusted-signers file cannot be imported.
          SignatureToolError: gpg vanished while the keys were being imported.
        """
        gpg = gpg_program()
        if gpg is None:
            return tool_missing(OPENPGP)
        home = self._home(gpg)
        with self._workdir.scratch() as scratch:
            signature_file = scratch / "signature.asc"
            signature_file.write_bytes(candidate.signature)
            payload_file = scratch / "payload"
            payload_file.write_bytes(candidate.payload)
            verify = ["--status-fd", "1", "--trust-model", "always", "--verify", str(signature_file), str(payload_file)]
            result = self._run([*gpg_args(gpg, home), *verify], home)
        if result is None:
            return tool_missing(OPENPGP)
        return self._read_status(candidate, result)

    def _read_status(self, candidate: Candidate, result: subprocess.CompletedProcess[bytes]) -> Signer | Failure:
        """Judge one ``gpg --verify`` run by its status lines, never by its exit status alone."""
        status, signatures = _status(result.stdout)
        if signatures > 1 or "PLAINTEXT" in status:
            return Failure(
                UNSUPPORTED,
                "carries an OpenPGP signature block that is not one detached signature",
                "sign with `git commit -S` or `git tag -s`",
            )
        valid = status.get("VALIDSIG", [])
        if result.returncode == 0 and "GOODSIG" in status and len(valid) >= 10 and valid[9].upper() in self._keys:
            primary = valid[9].upper()
            identity = " ".join(status["GOODSIG"][1:]) or self._keys[primary]
            return Signer(OPENPGP, identity, primary, candidate.object_type, candidate.object_id)
        return self._refusal(status, last_line(result.stderr))

    def _refusal(self, status: dict[str, list[str]], problem: str) -> Failure:
        """Why gpg did not vouch for the signature, from its status keywords; ``problem`` is its last complaint."""
        path = self.signers.path
        for keyword, state in _STALE:
            if keyword in status:
                who = self._who(status[keyword])
                return Failure(
                    UNTRUSTED, f"is signed by {who}, {state}", f"ask the signer for a new signature, or update the key in {path}", who
                )
        if "BADSIG" in status:
            who = self._who(status["BADSIG"])
            return Failure(
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
                return Failure(
                    UNTRUSTED,
                    f"is signed by {who}, which is not in {path}",
                    f"if you trust that key (check its fingerprint with its owner), add `gpg --armor --export KEY` output to {path}",
                    who,
                )
            return Failure(UNSUPPORTED, f"carries a signature by {who} that gpg cannot check", f"gpg said: {problem}" if problem else "")
        return Failure(UNSUPPORTED, "carries an OpenPGP signature that gpg cannot check", f"gpg said: {problem}" if problem else "")

    def _who(self, fields: list[str]) -> str:
        """Name the signer of a refused signature from a status line's key id and user id."""
        key_id = fields[0].upper() if fields else "?"
        user_id = " ".join(fields[1:])
        fingerprint = next((f for f in self._keys if f.endswith(key_id)), "")
        key = f"OpenPGP key {fingerprint}" if fingerprint else f"OpenPGP key ID {key_id}"
        return f"{user_id} ({key})" if user_id else key

    def _home(self, gpg: str) -> Path:
        """The temporary GnuPG home holding the trusted keys, made on first use."""
        if self._gnupg_home is not None:
            return self._gnupg_home
        home = self._workdir.path / "gnupg"
        home.mkdir(mode=0o700)
        # An existing common.conf without use-keyboxd keeps GnuPG 2.4 from starting a keyboxd here.
        (home / "common.conf").write_text("", encoding="utf-8")
        self._import_keys(gpg, home)
        self._gnupg_home = home
        return home

    def _import_keys(self, gpg: str, home: Path) -> None:
        """Import every trusted key block into ``home`` and learn the primary keys, or refuse the file."""
        keys = self._workdir.path / "trusted-keys.asc"
        keys.write_text("".join(self.signers.openpgp_keys), encoding="utf-8")
        imported = self._run([*gpg_args(gpg, home), "--status-fd", "1", "--import", str(keys)], home)
        listed = self._run([*gpg_args(gpg, home), "--with-colons", "--fixed-list-mode", "--list-keys"], home)
        if imported is None or listed is None:
            raise tool_missing_error(OPENPGP, self.signers.path)
        self._keys = primary_keys(listed.stdout.decode("utf-8", "replace"))
        # The exit status is no guide: gpg also fails when it cannot ask an agent about secret keys.
        status = [line.split(" ")[1] for line in imported.stdout.decode("utf-8", "replace").splitlines() if line.startswith(STATUS_PREFIX)]
        failed = {"IMPORT_PROBLEM", "NODATA"} & set(status) or status.count("IMPORT_OK") < len(self.signers.openpgp_keys)
        if self.signers.openpgp_keys and (failed or not self._keys):
            problem = gpg_problem(imported.stderr).replace(str(keys), str(self.signers.path))
            raise ConfigError(
                f"The trusted-signers file {self.signers.path} holds an OpenPGP key block that gpg cannot import.",
                f"gpg said: {problem}" if problem else "replace it with the output of `gpg --armor --export KEY`",
            )

    def _run(self, args: list[str], home: Path) -> subprocess.CompletedProcess[bytes] | None:
        return run(args, timeout=self.timeout, trusted_signers=self.signers.path, home=home)


def gpg_program() -> str | None:
    """The gpg on PATH, under either of its names; None when GnuPG is not installed."""
    return shutil.which("gpg") or shutil.which("gpg2")


def gpg_args(gpg: str, home: Path) -> list[str]:
    """The start of every gpg command: only ``home``, never a terminal, an agent of its own or a key server."""
    return [gpg, "--homedir", str(home), "--batch", "--no-tty", "--no-autostart", "--no-auto-key-retrieve", "--no-permission-warning"]


def gpg_problem(stderr: bytes) -> str:
    """The line of gpg's chatter that says what went wrong."""
    chatter = ("created", "agent", "Total number", "processed", "imported", "unchanged")
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip() and not any(c in line for c in chatter)]
    return next((line for line in lines if "failed" in line), lines[-1] if lines else "")


def primary_keys(colons: str) -> dict[str, str]:
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


def _status(stdout: bytes) -> tuple[dict[str, list[str]], int]:
    """The arguments of each status keyword's first line, and how many signatures (``NEWSIG``) gpg saw."""
    status: dict[str, list[str]] = {}
    signatures = 0
    for line in stdout.decode("utf-8", "replace").splitlines():
        if not line.startswith(STATUS_PREFIX):
            continue
        keyword, _, rest = line[len(STATUS_PREFIX) :].partition(" ")
        signatures += keyword == "NEWSIG"
        status.setdefault(keyword, rest.split(" "))
    return status, signatures
