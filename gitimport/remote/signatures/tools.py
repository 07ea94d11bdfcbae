"""Running ``ssh-keygen`` and ``gpg`` strictly: a plain locale, a time limit, private temporary files.

The checks hand the programs only files written here, in a folder of the
verifier's own that is removed on close (or when the verifier is garbage
collected), and each check's payload and signature go in a scratch folder
that is removed as soon as the check ends.  This module must never use a
shell, never run anything but the program it is given, never wait without a
time limit and never leave a file behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path
from typing import IO

from ...errors import SignatureToolError
from .outcome import TOOL_MISSING

#: Seconds one run of ssh-keygen or gpg may take.
TOOL_TIMEOUT = 60.0


class Workdir:
    """A private temporary folder, made on first use and removed by :meth:`close` or with its owner."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._finalizer: weakref.finalize[[Path], Workdir] | None = None

    @property
    def path(self) -> Path:
        """The folder; a new one after :meth:`close`."""
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="gitimport-signatures-"))
            self._finalizer = weakref.finalize(self, _remove, self._path)
        return self._path

    def scratch(self) -> Scratch:
        """A sub-folder for one check's files, removed when the ``with`` block ends."""
        return Scratch(self.path)

    def close(self) -> None:
        """Remove the folder and everything in it."""
        if self._finalizer is not None:
            self._finalizer()
        self._path = self._finalizer = None


class Scratch:
    """A temporary folder for one check's payload and signature, always removed."""

    def __init__(self, parent: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="check-", dir=parent))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        _remove(self.path)


def run(
    args: list[str], *, timeout: float, trusted_signers: Path, stdin: IO[bytes] | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[bytes] | None:
    """Run a tool with a plain locale (so its messages can be read); None when it cannot be started.

    ``home`` becomes ``GNUPGHOME``, so gpg never falls back to the user's
    keyring.  ``trusted_signers`` is only named in the error.

    Raises:
      SignatureToolError: the tool failed to run or took longer than ``timeout`` seconds.
    """
    env = dict(os.environ, LC_ALL="C", LANGUAGE="C")
    if home is not None:
        env["GNUPGHOME"] = str(home)
    try:
        return subprocess.run(
            args,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SignatureToolError(
            f"{Path(args[0]).name} failed while checking a signature: {error}.",
            "check that ssh-keygen and gpg work on this machine",
            reason=TOOL_MISSING,
            trusted_signers=trusted_signers,
        ) from None


def last_line(output: bytes) -> str:
    """The last non-blank line a tool wrote: where ssh-keygen and gpg say what went wrong."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
