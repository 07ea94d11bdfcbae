"""Keys and signed repositories made at test time with ssh-keygen, gpg and the git CLI.

Nothing here reads or changes the user's own keys or git configuration: SSH
keys are files in a temporary folder, the OpenPGP keys live in a temporary
GnuPG home (whose gpg-agent is stopped when the keys are dropped), and every
git command runs with ``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_CONFIG_NOSYSTEM=1``,
a temporary ``HOME`` and fixed identities and dates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

IDENTITY_NAME = "Fixture"
IDENTITY_EMAIL = "fixture@example.com"
FIXED_DATE = "1700000000 +0000"


def tool(name: str) -> str | None:
    return shutil.which(name)


@dataclass(frozen=True)
class SshKey:
    """An ed25519 key pair in files, made with ``ssh-keygen -t ed25519 -N ''``."""

    email: str
    private: Path
    public: str
    """``ssh-ed25519 AAAA… comment``"""
    fingerprint: str
    """``SHA256:…``"""

    def allowed_signers_line(self, principal: str | None = None) -> str:
        key_type, key = self.public.split()[:2]
        return f"{principal or self.email} {key_type} {key}\n"


@dataclass(frozen=True)
class GpgKey:
    """An ed25519 OpenPGP key without passphrase in a temporary GnuPG home."""

    email: str
    fingerprint: str
    home: Path
    armored: str
    """``gpg --armor --export`` of the public key."""


Key = Union[SshKey, GpgKey]


def make_ssh_key(folder: Path, name: str, email: str) -> SshKey:
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(private)], check=True, stdin=subprocess.DEVNULL)
    public = (folder / f"{name}.pub").read_text().strip()
    listed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(private)], check=True, capture_output=True, text=True)
    return SshKey(email, private, public, listed.stdout.split()[1])


def make_gpg_home() -> Path:
    """A fresh GnuPG home with a short path (the agent's socket path must stay short)."""
    home = Path(tempfile.mkdtemp(prefix="gi-gpg-"))
    home.chmod(0o700)
    return home


def stop_gpg_home(home: Path) -> None:
    if tool("gpgconf"):
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(home, ignore_errors=True)


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, GNUPGHOME=str(home)),
    )


def make_gpg_key(home: Path, name: str, email: str) -> GpgKey:
    uid = f"{name} <{email}>"
    _gpg(home, "--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key", uid, "ed25519", "sign", "never")
    listed = _gpg(home, "--with-colons", "--list-keys", f"={uid}")
    fingerprint = next(line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:"))
    armored = _gpg(home, "--armor", "--export", fingerprint).stdout
    return GpgKey(email, fingerprint, home, armored)


class SignedRepo:
    """A git repository built with the git CLI, whose commits and tags can be signed."""

    def __init__(self, path: Path, home: Path, gnupg_home: Path | None = None) -> None:
        self.path = path
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": IDENTITY_NAME,
            "GIT_AUTHOR_EMAIL": IDENTITY_EMAIL,
            "GIT_AUTHOR_DATE": FIXED_DATE,
            "GIT_COMMITTER_NAME": IDENTITY_NAME,
            "GIT_COMMITTER_EMAIL": IDENTITY_EMAIL,
            "GIT_COMMITTER_DATE": FIXED_DATE,
            "LC_ALL": "C",
        }
        if gnupg_home is not None:
            self.env["GNUPGHOME"] = str(gnupg_home)
        home.mkdir(parents=True, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self._counter = 0

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", *args], cwd=self.path, env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout.strip()

    def _signing(self, key: Key | None) -> list[str]:
        if key is None:
            return []
        if isinstance(key, SshKey):
            return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key.private}"]
        return ["-c", "gpg.format=openpgp", "-c", "gpg.program=gpg", "-c", f"user.signingkey={key.fingerprint}"]

    def commit(self, message: str, *, sign: Key | None = None) -> str:
        """Commit a new version of ``mylib.py``; return the commit id."""
        self._counter += 1
        (self.path / "mylib.py").write_text(f"VERSION = {self._counter}\n")
        self.git("add", "mylib.py")
        self.git(*self._signing(sign), "commit", "-q", *(["-S"] if sign else []), "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, commit: str, *, sign: Key | None = None, annotated: bool = True) -> str | None:
        """Tag ``commit``; return the tag object id, or None for a lightweight tag."""
        if sign is not None:
            self.git(*self._signing(sign), "tag", "-s", name, "-m", f"Release {name}", commit)
        elif annotated:
            self.git("tag", "-a", name, "-m", f"Release {name}", commit)
        else:
            self.git("tag", name, commit)
            return None
        return self.git("rev-parse", f"refs/tags/{name}")
