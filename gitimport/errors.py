"""The errors gitimport reports, the exit code each one maps to, and the one way they are written.

Every failure a user can cause or meet is raised as a :class:`GitImportError`
subclass carrying one readable sentence and a hint.  The command line writes
them with :func:`format_error` and exits with ``exit_code``; the finder and
``pin()`` turn them into :class:`GitImportImportError` with
:func:`import_error`, so import statements see an ``ImportError``.  The
parents say who must act: a :class:`UsageError` is something wrong in a file
the user wrote or on the command line (exit 2), anything else a failure of
the network, the environment or integrity (exit 1).  Messages must never
contain credentials: build them from redacted URLs only.

This module is at the bottom of the package: it imports nothing from
gitimport, and everything may import it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

#: Exit codes (docs/commands.md#exit-codes-and-errors).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_OUT_OF_DATE = 3


def format_error(message: str, hint: str | None = None, prefix: str = "") -> str:
    """``message`` and, on a line of its own, ``hint: …``: how every error is shown."""
    return f"{prefix}{message}\nhint: {hint}" if hint else f"{prefix}{message}"


class GitImportError(Exception):
    """A failure with a message for people and a hint on what to do next."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return format_error(self.message, self.hint)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled by state, not by each class's ``__init__``: ``sync --jobs`` sends errors back from worker processes."""
        return (_unpickled, (type(self), self.args, self.__dict__))


def _unpickled(cls: type[GitImportError], args: tuple[object, ...], state: dict[str, object]) -> GitImportError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class UsageError(GitImportError):
    """Something wrong in a file the user wrote or on the command line."""

    exit_code = EXIT_USAGE


class SpecError(UsageError):
    """A module spec that breaks the grammar of docs/configuration.md#specs."""


class ConfigError(UsageError):
    """A configuration file that cannot be found, parsed or understood."""


class LockFileError(UsageError):
    """A lock file that cannot be parsed or fails validation."""


class PolicyError(UsageError):
    """A URL that the transport or host policy of the config refuses."""


class NotInRepositoryError(UsageError):
    """A spec that names something the repository does not have: the user must change the spec."""


class RefNotFoundError(NotInRepositoryError):
    """A ref that the remote does not have."""


class PathNotFoundError(NotInRepositoryError):
    """A spec PATH that the commit does not contain, or that holds nothing importable."""


class FetchError(GitImportError):
    """The network or a remote repository failed us."""

    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, hint)
        #: worth retrying: a reset, a timeout, a truncated transfer, HTTP 5xx or 429
        self.transient = transient


class MirrorError(FetchError):
    """A tree mirror did not serve a tree: it lacks it, failed, or sent what is not a sound archive (``damaged``).

    Never shown as an error: sync tries the next mirror, then git, and says
    why under ``-v``; a damaged archive is also named in a warning.
    """

    def __init__(self, message: str, hint: str | None = None, *, damaged: bool = False) -> None:
        super().__init__(message, hint)
        self.damaged = damaged


class UnsafeTreeError(GitImportError):
    """A tree that cannot be written safely (escaping paths, gitlinks, collisions)."""


class IntegrityError(GitImportError):
    """Content that does not hash to what the lock or git says it must."""


class DamagedRepositoryError(IntegrityError):
    """A git object the cache's bare repository should hold is missing, or no longer hashes to its id.

    Sync mends it by fetching the repository again; nothing else can.
    """


class MissingObjectError(DamagedRepositoryError):
    """A blob or tree the cache's bare repository does not hold, which was read.

    A partial fetch leaves blobs out on purpose, and the trees off the way to
    the PATHs synced (docs/how-it-works.md#partial-fetch): sync catches this,
    fetches the object by ``object_id`` and reads again, so it reaches the
    user only where nothing can be fetched.  ``kind`` is ``"blob"`` or
    ``"tree"``: what the reader expected, which decides how it is asked for.
    """

    def __init__(self, message: str, hint: str | None, object_id: str, kind: str = "blob") -> None:
        super().__init__(message, hint)
        self.object_id = object_id
        self.kind = kind


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


class OfflineError(GitImportError):
    """Work that needs the network while offline mode forbids it."""


class OutOfDateError(GitImportError):
    """The lock file would have to change, but --locked or frozen forbids it."""

    exit_code = EXIT_OUT_OF_DATE


class GitImportImportError(ImportError):
    """An import that gitimport could not serve; what the finder raises."""


def import_error(name: str | None, message: str, hint: str | None = None) -> GitImportImportError:
    """The ImportError for a name gitimport could not serve, written like every other error."""
    return GitImportImportError(format_error(message, hint), name=name)
