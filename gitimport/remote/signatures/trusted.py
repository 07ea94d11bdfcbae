"""The trusted-signers file: which SSH and OpenPGP keys ``require-signed`` accepts.

This module only reads and splits the file; it never runs a program, never
touches a keyring and never decides whether a signature is good.  A file that
cannot be read, has an unterminated key block, or lists no keys at all is a
:class:`~gitimport.errors.ConfigError`, so a mistake in it can never be taken
for "trust nothing" or "trust everything".

The format
----------

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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError

PGP_KEY_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
PGP_KEY_END = "-----END PGP PUBLIC KEY BLOCK-----"


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
        """Whether the SSH part has a key line, not only comments and blank lines."""
        return any(line.strip() and not line.lstrip().startswith("#") for line in self.allowed_signers.splitlines())


def parse_trusted_signers(text: str, path: Path) -> TrustedSigners:
    """Split the text of a trusted-signers file; ``path`` is only used in messages.

    Raises:
      ConfigError: a key block has no end line, or the file lists no keys.
    """
    ssh_lines, blocks = _split_blocks(text, path)
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


def _split_blocks(text: str, path: Path) -> tuple[list[str], list[str]]:
    """(lines outside the OpenPGP key blocks, the blocks), each block re-joined with its lines stripped."""
    ssh_lines: list[str] = []
    blocks: list[str] = []
    block: list[str] | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if block is None:
            if stripped == PGP_KEY_BEGIN:
                block, start = [stripped], number
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
    return ssh_lines, blocks
