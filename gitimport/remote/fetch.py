"""Talking to remote repositories through dulwich: list refs, fetch commits.

This module and :mod:`gitimport.remote.transport` are the only ones that speak
git protocols.  It applies mirrors and the host policy to every URL it
contacts (the transport applies it again to every HTTP redirect), bounds each
attempt of an operation by ``timeout``, fetches as little as it can (the
wanted commits at depth 1, with the trees on the way to PATH but no blobs
where the server filters, then the trees and blobs sync names, by id; the
whole commits where it does not; deeper fetches only for servers that
refuse), and translates dulwich's
transport-specific exceptions into :class:`FetchError` with one sentence and
a hint.  History checks fetch
commits without trees where the server filters (:meth:`Remote.fetch_history`).
It is imported lazily, never on the warm import path, and it never puts
credentials into a message.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import re
import socket
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from dulwich.client import GitClient, HTTPUnauthorized
from dulwich.errors import HangupException, NotGitRepository
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from ..errors import FetchError, PolicyError, RefNotFoundError
from ..project.config import Config
from ..project.discovery import ENV_TIMEOUT
from ..project.spec import RepoURL, is_commit_id, redact_url
from .policy import apply_mirrors, check_policy
from .repo import OfferingOnly, OfferingPinnedCommits, has_object, holds_trees, pack_object_count, pack_sizes, pin_commits
from .transport import Deadline, open_client

RETRY_BACKOFF_SECONDS = 0.5
T = TypeVar("T")

#: The filter of a history fetch: commits and tags, no trees or blobs.
HISTORY_FILTER = b"tree:0"
#: The filter of a commit fetch where the server filters: the commits and every tree, no blob
#: (docs/how-it-works.md#partial-fetch); also of trees wanted by id, which then come with every tree below them.
PARTIAL_FILTER = b"blob:none"


def trees_filter(depth: int) -> bytes:
    """The filter of a commit fetch that brings only the trees near the root: those less than ``depth`` folders deep, no blob.

    git's ``tree:<depth>`` leaves out every tree and blob at ``depth`` or
    deeper (the root tree is at 0); ``blob:none`` leaves out the blobs above
    it.  A server may refuse either kind (``uploadpackfilter.*``).
    """
    return b"combine:tree:%d+blob:none" % depth


_FILTER_NOTICE = "object filtering not recognized by server"


@dataclass(frozen=True)
class RemoteRefs:
    """What ls-remote said: ref name to advertised id, and to the commit it peels to; the protocol it spoke."""

    advertised: dict[str, str]
    peeled: dict[str, str]
    protocol: int = 0  # 2 for git servers; 0 for dulwich's and local repositories

    def names(self) -> list[str]:
        return sorted(self.advertised)

    def own_tips(self) -> dict[str, str]:
        """The repository's own branches and tags (advertised id to the commit it peels to).

        Not ``refs/pull/*`` and the like: a pull request's head is a fork's
        commit, which is what a history check must not take as the repository's.
        """
        return {sha: self.peeled[name] for name, sha in self.advertised.items() if name.startswith(("refs/heads/", "refs/tags/"))}


@dataclass(frozen=True)
class Resolved:
    """A ref resolved to a commit, and what kind of ref it was."""

    commit: str
    kind: str  # tag | branch | HEAD | commit | ref


@dataclass
class FetchStats:
    """What one fetch brought: for the summary people read, and how it was asked for (for ``sync -v``)."""

    objects: int = 0
    bytes: int = 0
    skipped: bool = False
    how: str = ""


@dataclass(frozen=True)
class Advertised:
    """What a server's upload-pack offered, as dulwich read it at the start of a fetch."""

    protocol: int
    filter: bool  # protocol v2's ``fetch=... filter``: dulwich sends a filter only then (never in v0)
    want_any: bool  # any object id may be wanted: always in protocol v2, in v0 only with allow-any/reachable-sha1-in-want

    @property
    def filters(self) -> bool:
        """Whether a partial fetch can work: the commits filtered, then blobs and trees wanted by id."""
        return self.protocol == 2 and self.filter and self.want_any

    def why_whole(self) -> str:
        """Why a fetch from this server brings whole commits (for ``sync -v``)."""
        if self.protocol != 2:
            return f"protocol v{self.protocol}, in which dulwich sends no filter"
        return "the server does not advertise filter" if not self.filter else "the server does not let objects be wanted by id"


def _advertised(protocol: int, capabilities: set[bytes]) -> Advertised:
    """Read the filter and want-by-id capabilities out of an advertisement (v0 names, or v2's ``fetch=`` list)."""
    names: set[bytes] = set()
    for capability in capabilities:
        name, _, value = capability.partition(b"=")
        names.add(name)
        if protocol == 2 and name == b"fetch":
            names.update(value.split())
    want_any = protocol == 2 or bool(names & {b"allow-any-sha1-in-want", b"allow-reachable-sha1-in-want"})
    return Advertised(protocol=protocol, filter=b"filter" in names, want_any=want_any)


@dataclass(frozen=True)
class HistoryStats:
    """What one history fetch brought, and how it was asked for (for ``sync -v``)."""

    objects: int
    bytes: int
    how: str  # "commits only, filter tree:0", or why it came with trees and blobs


class Remote:
    """One repository as we contact it: its URL after mirrors, its client, its credentials."""

    def __init__(self, repo: RepoURL, config: Config) -> None:
        from .credentials import for_http_url

        self.repo = repo
        self.config = config
        self.timeout = config.timeout
        self.retries = config.retries
        self._git_config = user_git_config()
        contacted = apply_mirrors(repo.fetch, config.mirrors)
        if contacted == repo.fetch and self._git_config is not None:
            from dulwich.config import apply_instead_of

            contacted = apply_instead_of(self._git_config, contacted)
        check_policy(repo.fetch, config)
        if contacted != repo.fetch:
            check_policy(contacted, config)
        self._is_http = contacted.startswith(("http://", "https://"))
        self.url, self._credentials = for_http_url(contacted) if self._is_http else (contacted, None)
        self.display = redact_url(self.url)
        self._asked_helper = False
        self._client: GitClient | None = None
        self._path = ""
        self._deadline = Deadline()
        self._timed_out = False
        self.advertised: Advertised | None = None  # what the server offered at the start of the last fetch

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
            self._record_capabilities(self._client)
        return self._client, self._path

    def _record_capabilities(self, client: GitClient) -> None:
        """Keep what the server advertises at each fetch in :attr:`advertised`.

        dulwich reads the advertisement inside ``fetch_pack`` and passes it to
        ``_negotiate_upload_pack_capabilities`` (0.24 and 1.2 alike) before it
        asks for wants or haves, and keeps it nowhere else; it sends a filter
        only when the server advertises one, silently fetching everything
        otherwise, so this is how gitimport knows which fetch it got.
        """
        negotiate = client._negotiate_upload_pack_capabilities

        def recorded(server_capabilities: set[bytes]) -> Any:
            self.advertised = _advertised(getattr(client, "protocol_version", 0), set(server_capabilities))
            return negotiate(server_capabilities)

        setattr(client, "_negotiate_upload_pack_capabilities", recorded)  # noqa: B010  # an instance attribute, over the method

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

        def list_refs() -> tuple[Any, int]:
            def get_refs(client: GitClient, path: str) -> tuple[Any, int]:
                result = client.get_refs(path.encode() if isinstance(path, str) else path)
                return result, getattr(client, "protocol_version", 0)  # what the server spoke; local clients have none

            with self._translated_errors():
                return self._authenticated(get_refs)

        result, protocol = self._retrying(list_refs, self.retries)
        raw = {name.decode("utf-8", "replace"): sha.decode("ascii") for name, sha in result.refs.items() if sha}
        advertised = {name: sha for name, sha in raw.items() if not name.endswith("^{}")}
        peeled = {name: raw.get(name + "^{}", sha) for name, sha in advertised.items()}
        if self.repo.is_local:
            peeled = self._peel_locally(advertised)
        return RemoteRefs(advertised=advertised, peeled=peeled, protocol=protocol)

    def _peel_locally(self, advertised: dict[str, str]) -> dict[str, str]:
        """file:// and plain paths advertise no ``^{}`` entries: peel in the source repo."""
        from dulwich.object_store import peel_sha

        with self._translated_errors(), Repo(self._local_path()) as source:
            return {name: peel_sha(source.object_store, ObjectID(sha.encode()))[1].id.decode() for name, sha in advertised.items()}

    def _local_path(self) -> str:
        return self.url[len("file://") :] if self.url.startswith("file://") else self.url

    def fetch(
        self,
        target: Repo,
        commits: set[str],
        refs: RemoteRefs | None = None,
        progress: Callable[[bytes], None] | None = None,
        *,
        whole: bool = False,
        tree_depth: int | None = None,
    ) -> FetchStats:
        """Bring ``commits`` into ``target`` and keep them reachable from our own refs.

        Tries, in order: the commits by id at depth 1; the ref tips that peel to
        them at depth 1 (for servers that refuse wants that are not tips); all
        refs at full depth.  Stops as soon as every commit is present, and at
        a timeout: a server too slow for a shallow fetch is no faster for a
        deeper one, which only asks it for more.

        Each attempt asks for the commits and their trees without blobs
        (``filter blob:none``); a server that filters sends just that, and the
        commits are marked partial, for :meth:`fetch_blobs` to complete with
        what each module needs.  Any other server sends the whole commits.
        ``whole`` asks for the whole commits again even if they are present,
        without a filter and without haves: how blobs are brought from a
        server that cannot send them by id.

        ``tree_depth`` first asks for the commits with only the trees less
        than that many folders deep (:func:`trees_filter`): the way to each
        PATH, whatever the size of the repository.  Such a commit lacks trees
        as well as blobs, and is marked partial all the same; a reader that
        needs a tree off that way fetches it (see :meth:`fetch_trees`).  A
        server that refuses this filter gets the attempts above.
        """
        missing = set(commits) if whole else {c for c in commits if not has_object(target, c)}
        if not missing:
            return FetchStats(skipped=True)
        before = pack_sizes(target)
        filtered = not whole and not self.repo.is_local
        if filtered:
            _hush_filter_notice()
        offering: OfferingPinnedCommits | OfferingOnly = (
            OfferingOnly(target, set()) if whole else OfferingPinnedCommits(target, filtering=lambda: self._filters())
        )
        fetched = set(missing)
        refused = ""
        if filtered and tree_depth is not None and (refs is None or refs.protocol == 2):  # only v2 filters
            refused = self._fetch_near_root(offering, missing, tree_depth, progress)
            missing = {c for c in missing if not has_object(target, c)}
            if refused:  # perhaps a thin pack's delta against a tree a partial commit lacks: offer none
                offering = OfferingPinnedCommits(target)
        attempts: list[tuple[set[str], int | None]] = [(missing, 1)] if missing else []
        if refs is not None:
            tips = {sha for name, sha in refs.advertised.items() if refs.peeled.get(name) in missing}
            if tips:
                attempts.append((tips, 1))
        if missing:
            attempts.append((set(), None))
        error: FetchError | None = None
        for number, (wants, depth) in enumerate(attempts):
            try:
                # a failing attempt that has a fallback is retried once; the last one fully
                self._fetch_once(
                    offering,
                    wants,
                    depth,
                    progress,
                    retries=self.retries if number == len(attempts) - 1 else min(1, self.retries),
                    filter_spec=PARTIAL_FILTER if filtered else None,
                )
            except FetchError as exc:
                if self._timed_out:
                    raise
                error = error or exc
                continue
            missing = set() if whole else {c for c in missing if not has_object(target, c)}
            if not missing:
                break
        if missing:
            if error:
                raise error
            raise FetchError(
                f"{self.display} did not send commit {sorted(missing)[0]}.",
                "the commit may have been removed by a force-push; check the spec's ref, or run `gitimport sync --upgrade`",
            )
        partial = filtered and self._filters()
        pin_commits(target, fetched, partial=partial)
        pin_commits(target, set(commits) - fetched, partial=None)
        new = {p: s for p, s in pack_sizes(target).items() if p not in before}
        if self.repo.is_local:
            how = "whole commits, read from the local repository"
        elif partial and tree_depth is not None and not refused:
            how = f"commits and the trees near the root, filter {trees_filter(tree_depth).decode()}"
        elif partial:
            how = f"commits and trees, filter {PARTIAL_FILTER.decode()}{refused}"
        else:
            if self.advertised is None:
                why = "the server's capabilities are unknown"
            elif whole and self.advertised.filters:
                why = "the server did not send objects wanted by id"
            else:
                why = self.advertised.why_whole()
            how = f"whole commits{', again' if whole else ''}: {why}"
        return FetchStats(objects=sum(pack_object_count(p) for p in new), bytes=sum(new.values()), how=how)

    def _fetch_near_root(
        self, offering: OfferingPinnedCommits | OfferingOnly, commits: set[str], tree_depth: int, progress: Callable[[bytes], None] | None
    ) -> str:
        """Ask for ``commits`` with the trees near the root only; what a refusal said ("" if none), for ``sync -v``.

        A timeout is retried once, as the caller's first attempt is; any other
        failure is taken for a refusal (git's upload-pack refuses a filter by
        hanging up, which looks transient) and the caller's attempts follow
        at once.  The pack may be thin, as every first attempt's: git then
        sends only the trees that changed since the haves (a whole pack, here,
        holds every tree near the root again).  A partial commit offered as a
        have may lack a tree such a delta is made against; dulwich then fails
        to complete the pack, which fails this attempt, and the caller's
        follow without partial haves.
        """

        def attempt() -> None:
            try:
                self._fetch_once(offering, commits, 1, progress, 0, filter_spec=trees_filter(tree_depth))
            except FetchError as exc:
                if self._timed_out:
                    raise
                raise FetchError(exc.message, exc.hint) from None  # not transient: not worth the same request again

        try:
            self._retrying(attempt, min(1, self.retries))
        except FetchError as exc:
            if self._timed_out:
                raise
            return f" (filter {trees_filter(tree_depth).decode()} refused or failed: {exc.message})"
        return ""

    def fetch_blobs(
        self, target: Repo, wants: set[str], max_file_size: int, progress: Callable[[bytes], None] | None = None
    ) -> FetchStats | None:
        """Bring the blobs and trees ``wants`` names, by id, in one request; None if the server cannot.

        The request carries ``filter blob:limit=<max_file_size + 1>``: the
        server leaves out every blob below a wanted tree that is larger than
        ``max-file-size``, so such a blob is never sent or inflated here; the
        caller refuses it by name.  (git applies the filter only to what it
        reaches from a want, never to an object wanted by its own id.)
        """
        return self._fetch_by_id(target, wants, f"blob:limit={max_file_size + 1}".encode(), "blobs", progress)

    def fetch_trees(self, target: Repo, trees: set[str], progress: Callable[[bytes], None] | None = None) -> FetchStats | None:
        """Bring the trees ``trees`` names, by id, each with every tree below it and no blob; None if the server cannot.

        For a reader that walks trees the fetch of the trees near the root
        left out, before it knows which blobs it lacks.
        """
        return self._fetch_by_id(target, trees, PARTIAL_FILTER, "trees", progress)

    def _fetch_by_id(
        self, target: Repo, wants: set[str], filter_spec: bytes, what: str, progress: Callable[[bytes], None] | None
    ) -> FetchStats | None:
        """One request for objects by id, under ``filter_spec``.

        The request carries no haves (a have would make the server leave out
        the very objects it reaches, which we lack) and asks for a whole
        pack.  The objects arrive in a pack that dulwich indexes as any
        other: each one hashed on arrival, and again when it is read.

        The decision is made after the server's advertisement is read, before
        anything is asked: a server that does not filter (see
        :class:`Advertised`) is asked for nothing, and None tells the caller
        to fetch the whole commits instead.
        """
        if self.repo.is_local:
            return None  # read from disk, where nothing is saved by asking for less
        _hush_filter_notice()
        before = pack_sizes(target)
        try:
            self._fetch_once(
                OfferingOnly(target, set()), wants, None, progress, self.retries, filter_spec=filter_spec, thin=False, unless_filtering=True
            )
        except FetchError:
            if self._timed_out:
                raise
            return None  # a server that refuses objects by id after all (a v2 server may): the whole commits instead
        if not self._filters():
            return None
        new = {p: s for p, s in pack_sizes(target).items() if p not in before}
        how = f"the {what}, by id ({len(wants)} wants), filter {filter_spec.decode()}"
        return FetchStats(objects=sum(pack_object_count(p) for p in new), bytes=sum(new.values()), how=how)

    def _filters(self) -> bool:
        """Whether the server, as it advertised itself at the start of the last fetch, allows a partial fetch."""
        return self.advertised is not None and self.advertised.filters

    def fetch_history(
        self, target: Repo, tips: set[str], known: str, refs: RemoteRefs, progress: Callable[[bytes], None] | None = None
    ) -> HistoryStats:
        """Bring into ``target`` every commit that ``tips`` reach and ``known`` does not, to answer a history question.

        ``target`` is a scratch repository (see
        :func:`gitimport.remote.repo.scratch_repository`), never the cache's:
        the server is told we have ``known`` and its history, which ``target``
        does not hold, so the answer is only what lies between, and with the
        filter ``tree:0`` (protocol v2, where the server allows it) only the
        commits.  Where it does not filter, the trees and blobs come too, still
        only those that ``known`` lacks.  No depth: the history is what is asked.
        """
        before = pack_sizes(target)
        _hush_filter_notice()
        v2 = refs.protocol == 2
        self._fetch_once(
            OfferingOnly(target, {known}),
            tips,
            None,
            progress,
            self.retries,
            filter_spec=HISTORY_FILTER if v2 else None,
            # a thin pack may be made of deltas against objects of ``known``'s history, which ``target``
            # lacks: in v2 thin packs are optional, so ask for a whole one; dulwich's server (v0 only)
            # insists on thin packs, and makes them of deltas against objects it sends
            thin=not v2,
        )
        new = {p: s for p, s in pack_sizes(target).items() if p not in before}
        if self.repo.is_local:
            how = "read from the local repository"
        elif not v2:
            how = "with trees and blobs: protocol v0, without a filter"
        elif holds_trees(target):
            how = "with trees and blobs: the server does not filter"
        else:
            how = f"commits only, filter {HISTORY_FILTER.decode()}"
        return HistoryStats(objects=sum(pack_object_count(p) for p in new), bytes=sum(new.values()), how=how)

    def _fetch_once(
        self,
        offering: OfferingPinnedCommits | OfferingOnly,
        wants: set[str],
        depth: int | None,
        progress: Callable[[bytes], None] | None,
        retries: int,
        *,
        filter_spec: bytes | None = None,
        thin: bool = True,
        unless_filtering: bool = False,
    ) -> None:
        """One fetch into the repository that ``offering`` wraps, which chooses the "haves" the server is told of.

        ``unless_filtering``: ask for nothing unless the server turns out to
        allow a partial fetch (dulwich then ends the request without a pack).
        """

        def determine_wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
            if unless_filtering and not self._filters():
                return []
            if wants:
                return sorted(w.encode() for w in wants)
            return sorted({sha for name, sha in refs.items() if sha and not name.endswith(b"^{}")})

        def fetch(client: GitClient, path: str) -> None:
            with _thin_packs(client, thin):
                client.fetch(path, offering, determine_wants=determine_wants, depth=depth, progress=progress, filter_spec=filter_spec)  # type: ignore[arg-type]

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
            with bounded:
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


@contextlib.contextmanager
def _thin_packs(client: GitClient, wanted: bool) -> Iterator[None]:
    """Ask for thin packs or not, for one fetch.

    dulwich keeps the choice in the client's capabilities (its constructor's
    ``thin_packs``); the client is made once per remote, so the capability is
    taken out for the one fetch that must not get a thin pack, and put back.
    """
    capabilities: set[bytes] = getattr(client, "_fetch_capabilities", set())
    drop = not wanted and b"thin-pack" in capabilities
    if drop:
        capabilities.discard(b"thin-pack")
    try:
        yield
    finally:
        if drop:
            capabilities.add(b"thin-pack")


def _hush_filter_notice() -> None:
    """Keep dulwich from telling the user, on stderr, that a server ignored the filter.

    gitimport notices it itself (trees arrived) and says so under ``sync -v``.
    dulwich 1.x logs it, 0.24 warns; both filters are idempotent.
    """
    logging.getLogger("dulwich.client").addFilter(_not_the_filter_notice)
    warnings.filterwarnings("ignore", message=_FILTER_NOTICE, category=UserWarning)


def _not_the_filter_notice(record: logging.LogRecord) -> bool:
    return _FILTER_NOTICE not in record.getMessage()


_UNRESOLVED_PHRASES = ("name or service not known", "failed to resolve", "nodename nor servname", "name resolution")
_NOT_FOUND_PHRASES = ("not found", "no such repository", "does not appear to be a git repository", "not a git repository")


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


def user_git_config() -> Any:
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


_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_HTTP_STATUS = re.compile(r"unexpected http resp (\d{3})")
_URL = re.compile(r"\S+://\S*")


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status a server answered with, where dulwich reports one (only in its message)."""
    match = _HTTP_STATUS.search(str(exc))
    return int(match.group(1)) if match else None


def _words(exc: BaseException) -> str:
    """The exception's message without the URLs in it, lowered, for matching phrases.

    A URL's digits are not a status: a port such as 40404 once made an HTTP
    429 read as "no git repository" (and a port with 500 in it would make
    any error look transient).
    """
    return _URL.sub("", str(exc)).lower()


def _is_transient(exc: BaseException) -> bool:
    """Faults worth another try: resets, truncated transfers, HTTP 5xx and 429 (and timeouts, see the caller)."""
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return False  # nothing listens there, or no such host: retrying only delays the error
    if isinstance(exc, (ConnectionError, HangupException, zlib.error, EOFError)):
        return True
    if _http_status(exc) in _TRANSIENT_STATUSES:
        return True
    return any(word in _words(exc) for word in ("reset", "broken pipe", "incomplete", "truncated", "checksum", "closed"))


def _explain(exc: BaseException, display: str) -> str:
    words = _words(exc)
    status = _http_status(exc)
    if isinstance(exc, socket.gaierror) or any(phrase in words for phrase in _UNRESOLVED_PHRASES):
        return f"Cannot resolve the host of {display}."
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in words:
        return f"Connection refused by {display}."
    if status == 404 or any(phrase in words for phrase in _NOT_FOUND_PHRASES):
        return f"No git repository at {display}."
    if status is not None:
        return f"{display} answered HTTP {status}."
    if isinstance(exc, HangupException):
        said = [line for line in str(exc).splitlines() if line.strip()] if exc.stderr_lines else []
        return f"{display} hung up: {redact_url(said[-1].strip()).rstrip('.')}." if said else f"{display} hung up during the transfer."
    if isinstance(exc, zlib.error):
        return f"{display} sent corrupt data."
    text = redact_url(str(exc))
    return f"Fetching from {display} failed: {text.splitlines()[0] if text else type(exc).__name__}."


def _hint(exc: BaseException) -> str:
    words = _words(exc)
    status = _http_status(exc)
    if isinstance(exc, socket.gaierror) or any(phrase in words for phrase in _UNRESOLVED_PHRASES):
        return "check the host name in the spec and your network"
    if status == 404 or "not found" in words or "repository" in words:
        return "check the REPO part of the spec"
    if status in _TRANSIENT_STATUSES:
        return "the server is busy or failing; run `gitimport sync` again later (`retries` and `timeout` set how hard it tries)"
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
