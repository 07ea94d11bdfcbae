"""The errors gitimport reports, and the exit code each one maps to.

Every failure a user can cause or meet is raised as a :class:`GitImportError`
subclass carrying one readable sentence and a hint.  The command line prints
those two lines and exits with ``exit_code``; the finder re-raises them as
:class:`GitImportImportError` so import statements see an ``ImportError``.
Messages must never contain credentials: build them from redacted URLs only.
"""

from __future__ import annotations

#: Exit codes of DESIGN §7.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_OUT_OF_DATE = 3


class GitImportError(Exception):
    """A failure with a message for people and a hint on what to do next."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class UsageError(GitImportError):
    """Something wrong in a file the user wrote or on the command line."""

    exit_code = EXIT_USAGE


class SpecError(UsageError):
    """A module spec that breaks the grammar of DESIGN §2."""


class ConfigError(UsageError):
    """A configuration file that cannot be found, parsed or understood."""


class LockFileError(UsageError):
    """A lock file that cannot be parsed or fails validation."""


class PolicyError(UsageError):
    """A URL that the transport or host policy of the config refuses."""


class FetchError(GitImportError):
    """The network or a remote repository failed us."""

    #: worth retrying: a reset, a timeout, a truncated transfer, HTTP 5xx or 429
    transient = False


class RefNotFoundError(FetchError):
    """A ref that the remote does not have: the spec names something that is not there."""

    exit_code = EXIT_USAGE


class PathNotFoundError(UsageError):
    """A spec PATH that the commit does not contain."""


class UnsafeTreeError(GitImportError):
    """A tree that cannot be written safely (escaping paths, gitlinks, collisions)."""


class IntegrityError(GitImportError):
    """Content that does not hash to what the lock or git says it must."""


class OfflineError(GitImportError):
    """Work that needs the network while offline mode forbids it."""


class OutOfDateError(GitImportError):
    """The lock file would have to change, but --locked or frozen forbids it."""

    exit_code = EXIT_OUT_OF_DATE


class GitImportImportError(ImportError):
    """An import that gitimport could not serve; what the finder raises."""
