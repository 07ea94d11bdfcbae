"""Talking to remote repositories through dulwich: list refs, fetch commits.

This module and :mod:`gitimport.remote.transport` are the only ones that speak
git protocols.  It applies mirrors and the host policy to every URL it
contacts (the transport applies it again to every HTTP redirect), bounds each
attempt of an operation by ``timeout``, fetches as little as it can (the
wanted commits at depth 1, falling back to deeper fetches only for servers
that refuse), and translates dulwich's transport-specific exceptions into
:class:`FetchError` with one sentence and a hint.  It is imported lazily,
never on the warm import path, and it never puts credentials into a message.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from dulwich.client import GitClient, HTTPUnauthorized
from dulwich.errors import HangupException, NotGitRepository
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from ..errors import FetchError, PolicyError, RefNotFoundError
from ..project.config import Config
from ..project.discovery import ENV_TIMEOUT
from ..project.spec import RepoURL, is_commit_id, redact_url
from .policy import apply_mirrors, check_policy
from .repo import OfferingPinnedCommits, has_object, pack_object_count, pack_sizes, pin_commits
from .transport import Deadline, open_client

RETRY_BACKOFF_SECONDS = 0.5
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteRefs:
    """What ls-remote said: ref name to advertised id, and to the commit it peels to."""

    advertised: dict[str, str]
    peeled: dict[str, str]

    def names(self) -> list[str]:
        return sorted(self.advertised)


@dataclass(frozen=True)
class Resolved:
    """A ref resolved to a commit, and what kind of ref it was."""

    commit: str
    kind: str  # tag | branch | HEAD | commit | ref


@dataclass
class FetchStats:
    """What one fetch brought: for the summary people read."""

    objects: int = 0
    bytes: int = 0
    skipped: bool = False


class Remote:
    """One repository as we contact it: its URL after mirrors, its client, its credentials."""

    def __init__(self, repo: RepoURL, config: Config) -> None:
        from .credentials import from_netrc, split_userinfo

        self.repo = repo
        self.config = config
        self.timeout = config.timeout
        self.retries = config.retries
        self._git_config = _user_git_config()
        contacted = apply_mirrors(repo.fetch, config.mirrors)
        if contacted == repo.fetch and self._git_config is not None:
            from dulwich.config import apply_instead_of

            contacted = apply_instead_of(self._git_config, contacted)
        check_policy(repo.fetch, config)
        if contacted != repo.fetch:
            check_policy(contacted, config)
        self._is_http = contacted.startswith(("http://", "https://"))
        self.url, self._credentials = split_userinfo(contacted) if self._is_http else (contacted, None)
        if self._is_http and self._credentials is None:
            self._credentials = from_netrc(urlsplit(self.url).hostname or "")
        self.display = redact_url(self.url)
        self._asked_helper = False
        self._client: GitClient | None = None
        self._path = ""
        self._deadline = Deadline()
        self._timed_out = False

    def _connect(self) -> tuple[GitClient, str]:
        if self._client is None:
            self._client, self._path = open_client(
                self.url,
                config=self.config,
                git_config=self._git_config,
                credentials=self._credentials,
                deadline=self._deadline,
                ssh_command=os.environ.get("GIT_SSH_COMMAND") or _config_value(self._git_config, b"core", b"sshCommand"),
            )
        return self._client, self._path

    def _authenticated(self, operation: Callable[[GitClient, str], T]) -> T:
        """Run ``operation``; on a 401, ask git's credential helpers once and retry."""
        try:
            return operation(*self._connect())
        except HTTPUnauthorized:
            if not self._is_http or self._asked_helper:
                raise
            from .credentials import from_git_helper

            self._asked_helper = True
            credentials = from_git_helper(self.url)
            if credentials is None:
                raise
            self._credentials, self._client = credentials, None
            return operation(*self._connect())

    def ls_remote(self) -> RemoteRefs:
        """List the remote's refs once, with annotated tags peeled to commits."""

        def list_refs() -> Any:
            with self._translated_errors():
                return self._authenticated(lambda client, path: client.get_refs(path.encode() if isinstance(path, str) else path))

        result = self._retrying(list_refs, self.retries)
        raw = {name.decode("utf-8", "replace"): sha.decode("ascii") for name, sha in result.refs.items() if sha}
        advertised = {name: sha for name, sha in raw.items() if not name.endswith("^{}")}
        peeled = {name: raw.get(name + "^{}", sha) for name, sha in advertised.items()}
        if self.repo.is_local:
            peeled = self._peel_locally(advertised)
        return RemoteRefs(advertised=advertised, peeled=peeled)

    def _peel_locally(self, advertised: dict[str, str]) -> dict[str, str]:
        """file:// and plain paths advertise no ``^{}`` entries: peel in the source repo."""
        from dulwich.object_store import peel_sha

        with self._translated_errors(), Repo(self._local_path()) as source:
            return {name: peel_sha(source.object_store, ObjectID(sha.encode()))[1].id.decode() for name, sha in advertised.items()}

    def _local_path(self) -> str:
        return self.url[len("file://") :] if self.url.startswith("file://") else self.url

    def fetch(
        self, target: Repo, commits: set[str], refs: RemoteRefs | None = None, progress: Callable[[bytes], None] | None = None
    ) -> FetchStats:
        """Bring ``commits`` into ``target`` and keep them reachable from our own refs.

        Tries, in order: the commits by id at depth 1; the ref tips that peel to
        them at depth 1 (for servers that refuse wants that are not tips); all
        refs at full depth.  Stops as soon as every commit is present, and at
        a timeout: a server too slow for a shallow fetch is no faster for a
        deeper one, which only asks it for more.
        """
        missing = {c for c in commits if not has_object(target, c)}
        if not missing:
            return FetchStats(skipped=True)
        before = pack_sizes(target)
        attempts: list[tuple[set[str], int | None]] = [(missing, 1)]
        if refs is not None:
            tips = {sha for name, sha in refs.advertised.items() if refs.peeled.get(name) in missing}
            if tips:
                attempts.append((tips, 1))
        attempts.append((set(), None))
        error: FetchError | None = None
        for number, (wants, depth) in enumerate(attempts):
            try:
                # a failing attempt that has a fallback is retried once; the last one fully
                self._fetch_once(
                    target, wants, depth, progress, retries=self.retries if number == len(attempts) - 1 else min(1, self.retries)
                )
            except FetchError as exc:
                if self._timed_out:
                    raise
                error = error or exc
                continue
            missing = {c for c in missing if not has_object(target, c)}
            if not missing:
                break
        if missing:
            if error:
                raise error
            raise FetchError(
                f"{self.display} did not send commit {sorted(missing)[0]}.",
                "the commit may have been removed by a force-push; check the spec's ref, or run `gitimport sync --upgrade`",
            )
        pin_commits(target, commits)
        new = {p: s for p, s in pack_sizes(target).items() if p not in before}
        return FetchStats(objects=sum(pack_object_count(p) for p in new), bytes=sum(new.values()))

    def _fetch_once(self, target: Repo, wants: set[str], depth: int | None, progress: Callable[[bytes], None] | None, retries: int) -> None:
        def determine_wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
            if wants:
                return sorted(w.encode() for w in wants)
            return sorted({sha for name, sha in refs.items() if sha and not name.endswith(b"^{}")})

        def fetch(client: GitClient, path: str) -> None:
            client.fetch(path, OfferingPinnedCommits(target), determine_wants=determine_wants, depth=depth, progress=progress)  # type: ignore[arg-type]

        def attempt() -> None:
            with self._translated_errors():
                self._authenticated(fetch)

        self._retrying(attempt, retries)

    @contextlib.contextmanager
    def _translated_errors(self) -> Iterator[None]:
        """Run one attempt within ``timeout``; turn every transport's exceptions into one readable FetchError.

        ``timeout`` is a deadline for the attempt as a whole (one ls-remote,
        one fetch), on http(s), git:// and ssh alike: a server that drips a
        byte at a time is cut off when it runs out (see
        :mod:`gitimport.remote.transport`).  The per-socket timeout stays, for
        connecting.  A timeout is a transient fault, retried as the others
        are (see :meth:`_retrying`), so an operation against a server that
        never finishes fails after at most ``retries + 1`` times ``timeout``
        plus the backoff.  Local repositories are read in this process and
        are not bounded.
        """
        self._timed_out = False
        bounded = contextlib.nullcontext() if self.repo.is_local else self._deadline.running(self.timeout)
        try:
            with _socket_timeout(self.timeout), bounded:
                yield
        except (FetchError, PolicyError):
            raise
        except Exception as exc:  # every transport and pack parser has its own exceptions
            if self._deadline.expired or _is_timeout(exc):  # a cut connection fails in any of them
                self._timed_out = True
                raise FetchError(
                    f"Timed out after {self.timeout:g} s talking to {self.display}.",
                    f"if the server is slow but working, raise `timeout` in the config (or {ENV_TIMEOUT}); "
                    "otherwise check the URL and your network",
                    transient=True,
                ) from None
            raise _translated(exc, self.display) from None

    def _retrying(self, action: Callable[[], T], retries: int) -> T:
        """Run a remote operation, retrying transient faults with exponential backoff.

        Repositories on local disk are never retried: what failed there fails again.
        """
        if self.repo.is_local:
            retries = 0
        for attempt in range(retries + 1):
            try:
                return action()
            except FetchError as exc:
                if not exc.transient or attempt == retries:
                    raise
                self._client = None  # a fresh connection for the next attempt
                time.sleep(RETRY_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")


_NOT_FOUND_PHRASES = ("not found", "no such repository", "does not appear to be a git repository", "not a git repository")


_timeout_users = 0
_timeout_guard = threading.Lock()
_saved_timeout: float | None = None


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Give new sockets a timeout (dulwich's git:// client has no option for it).

    The default is process-wide, so concurrent fetches (``sync --jobs``) share
    it: the first one in sets it and the last one out restores it.
    """
    global _timeout_users, _saved_timeout
    with _timeout_guard:
        if _timeout_users == 0:
            _saved_timeout = socket.getdefaulttimeout()
            socket.setdefaulttimeout(seconds)
        _timeout_users += 1
    try:
        yield
    finally:
        with _timeout_guard:
            _timeout_users -= 1
            if _timeout_users == 0:
                socket.setdefaulttimeout(_saved_timeout)


def _translated(exc: Exception, display: str) -> FetchError:
    """The readable FetchError for a transport's exception (timeouts are handled by the caller)."""
    if isinstance(exc, HTTPUnauthorized):
        return FetchError(
            f"{display} requires authentication.",
            "put credentials in ~/.netrc or in the URL (they are never written to the lock)",
        )
    if isinstance(exc, NotGitRepository):
        return FetchError(f"No git repository at {display}.", "check the REPO part of the spec")
    return FetchError(_explain(exc, display), _hint(exc), transient=_is_transient(exc))


def _is_timeout(exc: BaseException) -> bool:
    """A per-socket timeout, however the transport wrapped it."""
    return isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in str(exc).lower()


def _user_git_config() -> Any:
    """The user's git configuration (insteadOf, proxies, sshCommand), or None if unreadable."""
    from dulwich.config import StackedConfig

    try:
        return StackedConfig.default()
    except (OSError, ValueError):
        return None


def _config_value(config: Any, section: bytes, name: bytes) -> str | None:
    if config is None:
        return None
    try:
        value = config.get(section, name)
    except KeyError:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else None


def _is_transient(exc: BaseException) -> bool:
    """Faults worth another try: resets, truncated transfers, HTTP 5xx and 429 (and timeouts, see the caller)."""
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return False  # nothing listens there, or no such host: retrying only delays the error
    if isinstance(exc, (ConnectionError, HangupException, zlib.error, EOFError)):
        return True
    text = str(exc).lower()
    if any(f"{code}" in text for code in (429, 500, 502, 503, 504)):
        return True
    return any(word in text for word in ("reset", "broken pipe", "incomplete", "truncated", "checksum", "closed"))


def _explain(exc: BaseException, display: str) -> str:
    text = redact_url(str(exc))
    lowered = text.lower()
    if (
        isinstance(exc, socket.gaierror)
        or "name or service not known" in lowered
        or "failed to resolve" in lowered
        or "nodename nor servname" in lowered
    ):
        return f"Cannot resolve the host of {display}."
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in lowered:
        return f"Connection refused by {display}."
    if "404" in text or any(phrase in lowered for phrase in _NOT_FOUND_PHRASES):
        return f"No git repository at {display}."
    if isinstance(exc, HangupException):
        return f"{display} hung up during the transfer."
    if isinstance(exc, zlib.error):
        return f"{display} sent corrupt data."
    return f"Fetching from {display} failed: {text.splitlines()[0] if text else type(exc).__name__}."


def _hint(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, socket.gaierror) or "resolve" in text or "name or service" in text:
        return "check the host name in the spec and your network"
    if "404" in text or "not found" in text or "repository" in text:
        return "check the REPO part of the spec"
    return "check the URL and your network, then run `gitimport sync` again"


def resolve_ref(refs: RemoteRefs, ref: str, display: str) -> Resolved:
    """Resolve REF the way git does: full names, then tags, then branches.

    Raises:
      RefNotFoundError: with the closest tag and branch names as a hint.
    """
    if is_commit_id(ref):
        return Resolved(ref, "commit")
    candidates = [(ref, "HEAD" if ref == "HEAD" else "ref"), (f"refs/tags/{ref}", "tag"), (f"refs/heads/{ref}", "branch")]
    for name, kind in candidates:
        if name in refs.peeled:
            if ref.startswith("refs/tags/"):
                kind = "tag"
            elif ref.startswith("refs/heads/"):
                kind = "branch"
            return Resolved(refs.peeled[name], kind)
    short = [n.split("/", 2)[-1] for n in refs.names() if n.startswith(("refs/tags/", "refs/heads/"))]
    close = difflib.get_close_matches(ref, short, n=3, cutoff=0.5)
    if close:
        hint = f"did you mean {', '.join(repr(c) for c in close)}?"
    elif short:
        hint = f"it has: {', '.join(sorted(short)[:10])}"
    else:
        hint = "the repository has no tags or branches"
    if len(ref) < 40 and all(c in "0123456789abcdef" for c in ref):
        hint += "; commit ids must be written in full (40 hex digits)"
    raise RefNotFoundError(f"Ref {ref!r} is not in {display}.", hint)
