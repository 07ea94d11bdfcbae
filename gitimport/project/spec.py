"""Module specs: ``REPO@REF[:PATH]`` and their table form (docs/configuration.md#specs).

This module turns what a user wrote into a :class:`Spec` with three parts:
where the repository is (:class:`RepoURL`), which ref to resolve, and which
path inside the commit to import.  It knows nothing about the network, the
cache or the lock; it must never return a URL with credentials in a field that
is meant to be stored or printed (``RepoURL.normalized``, ``Spec.redacted``).
"""

from __future__ import annotations

import ipaddress
import json
import keyword
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from ..errors import SpecError

SHORTHANDS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "codeberg": "codeberg.org",
}
SCHEMES = ("https", "http", "ssh", "git", "file")
TABLE_KEYS = frozenset({"git", "ref", "path", "require-signed", "allow-unreachable"})

_COMMIT_ID = re.compile(r"[0-9a-f]{40}")
# ``user:password@host:path``: ssh reads no password from an address, so this is a token pasted into the wrong form
_SCP_PASSWORD = re.compile(r"^[^@/:\s]+:[^@/\s]*@(?=\[|[A-Za-z0-9.\-]+:)")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<path>[^/].*|/.*)$")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes


def is_commit_id(ref: str) -> bool:
    """True for a full 40-hex commit id, which is used as is and never resolved."""
    return _COMMIT_ID.fullmatch(ref) is not None


@dataclass(frozen=True)
class RepoURL:
    """Where a repository lives, in the three forms the tool needs.

    ``fetch`` is what we contact (credentials included, local paths absolute),
    ``normalized`` is what the lock stores (docs/lock-file.md#urls-in-the-lock: no userinfo, lowercase
    host, no trailing ``/`` or ``.git``; relative local paths stay relative),
    and ``identity`` keys the cache so that every spelling of one repository
    shares one bare clone.
    """

    fetch: str
    normalized: str
    identity: str
    is_local: bool

    @property
    def host(self) -> str | None:
        """The network host contacted, or None for a repository on local disk."""
        if self.is_local:
            return None
        if "://" in self.fetch:
            return (urlsplit(self.fetch).hostname or "").lower()
        match = _SCP_LIKE.match(self.fetch)
        return match.group("host").strip("[]").lower() if match else None

    @property
    def scheme(self) -> str:
        """``https``, ``http``, ``ssh``, ``git``, ``file`` (local paths included)."""
        if self.is_local:
            return "file"
        if "://" in self.fetch:
            return urlsplit(self.fetch).scheme.lower()
        return "ssh"


@dataclass(frozen=True)
class Spec:
    """One module spec, parsed and validated."""

    text: str
    repo: RepoURL
    ref: str
    path: str
    require_signed: bool | None = None  # per-module override of the config's require-signed; not part of identity
    allow_unreachable: bool = False  # a pinned commit no branch or tag reaches is trusted anyway; not part of identity

    @property
    def redacted(self) -> str:
        """The spec as the lock stores it and change detection compares it."""
        return format_spec(self.repo.normalized, self.ref, self.path)

    @property
    def written_repo(self) -> str:
        """REPO as the user wrote it (credentials included: redact before storing or printing)."""
        return self.text.rpartition("@")[0]

    @property
    def is_pinned_commit(self) -> bool:
        return is_commit_id(self.ref)


def format_spec(repo: str, ref: str, path: str) -> str:
    """Write ``repo@ref[:path]``, the canonical text form of a spec."""
    return f"{repo}@{ref}:{path}" if path else f"{repo}@{ref}"


def format_entry(name: str, repo: str, ref: str, path: str, also: tuple[str, ...] = ()) -> str:
    """One line of a ``[modules]`` table in the table form, as a user would write it: ``NAME = { git = …, also = […] }``."""
    fields = [f"git = {_toml_string(repo)}", f"ref = {_toml_string(ref)}"]
    fields += [f"path = {_toml_string(path)}"] if path else []
    fields += [f"also = [{', '.join(_toml_string(other) for other in also)}]"] if also else []
    key = name if _BARE_KEY.fullmatch(name) else _toml_string(name)
    return f"{key} = {{ {', '.join(fields)} }}"


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text, ensure_ascii=False)


def parse_spec(value: str | Mapping[str, object], base_dir: Path | None = None) -> Spec:
    """Parse a spec string or table (``{git, ref, path}``).

    Args:
      value: what the config file holds for one module.
      base_dir: folder that relative local paths resolve against (the config
        file's folder); the current folder when None.

    Raises:
      SpecError: naming the part of the spec that is wrong.
    """
    if isinstance(value, Mapping):
        return _parse_table(value, base_dir)
    if not isinstance(value, str):
        raise SpecError(
            f"A spec must be a string or a table, not {type(value).__name__}: {value!r}.",
            'write "REPO@REF:PATH" or { git = "REPO", ref = "REF", path = "PATH" }',
        )
    text = value.strip()
    shown = redact_url(text)
    repo_text, at, rest = text.rpartition("@")
    if not at or not repo_text or _looks_like_userinfo_only(repo_text, rest):
        raise SpecError(
            f"Spec {shown!r} has no @REF.",
            "add the tag, branch or commit to import, e.g. 'https://host/repo@v1.0:src/pkg'",
        )
    ref, _, path = rest.partition(":")
    return Spec(
        text=text,
        repo=parse_repo(repo_text, base_dir, spec_text=shown),
        ref=validate_ref(ref, shown),
        path=normalize_path(path, shown),
    )


def _looks_like_userinfo_only(repo_text: str, rest: str) -> bool:
    """True when the only ``@`` is the user part of a URL, so REF is missing.

    ``https://user@host/repo`` splits into repo ``https://user``, and
    ``git@host:org/repo`` into repo ``git`` with ref ``host``: neither has a REF.
    """
    _, sep, after = repo_text.partition("://")
    if sep:
        return "/" not in after
    return re.fullmatch(r"[A-Za-z0-9._-]+", repo_text) is not None and ":" in rest


def _parse_table(table: Mapping[str, object], base_dir: Path | None) -> Spec:
    unknown = sorted(set(table) - TABLE_KEYS)
    shown = "{" + ", ".join(f"{k} = {redact_url(v)!r}" if isinstance(v, str) else f"{k} = {v!r}" for k, v in table.items()) + "}"
    if unknown:
        raise SpecError(
            f"Spec table {shown} has unknown key(s): {', '.join(unknown)}.",
            "a spec table takes only 'git', 'ref', 'path', 'require-signed' and 'allow-unreachable'",
        )
    for key in ("git", "ref"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise SpecError(
                f"Spec table {shown} needs a non-empty string '{key}'.",
                'write { git = "REPO", ref = "REF", path = "PATH" }',
            )
    path = table.get("path", "")
    if not isinstance(path, str):
        raise SpecError(f"Spec table {shown} has a 'path' that is not a string.", "path is a POSIX path inside the repository")
    require_signed = table.get("require-signed")
    if require_signed is not None and not isinstance(require_signed, bool):
        raise SpecError(f"Spec table {shown} has a 'require-signed' that is not true or false.", "write require-signed = true")
    allow_unreachable = table.get("allow-unreachable", False)
    if not isinstance(allow_unreachable, bool):
        raise SpecError(f"Spec table {shown} has an 'allow-unreachable' that is not true or false.", "write allow-unreachable = true")
    git, ref = str(table["git"]), str(table["ref"])
    text = format_spec(git, ref, path)
    return Spec(
        text=text,
        repo=parse_repo(git, base_dir, spec_text=shown),
        ref=validate_ref(ref, shown),
        path=normalize_path(path, shown),
        require_signed=require_signed,
        allow_unreachable=allow_unreachable,
    )


def parse_repo(text: str, base_dir: Path | None = None, spec_text: str | None = None) -> RepoURL:
    """Parse the REPO part of a spec into a :class:`RepoURL`."""
    quoted = spec_text if spec_text is not None else redact_url(text)
    if not text:
        raise SpecError(f"Spec {quoted!r} has an empty REPO.", "write a URL, a local path or github:owner/repo before the @")
    if _CONTROL.search(text):  # urlsplit drops tabs and newlines silently: the URL contacted would not be the one written
        raise SpecError(
            f"Spec {quoted!r} has a control character (a newline, a tab, …) in its REPO.",
            "write the REPO on one line, without control characters",
        )
    if _is_local_path(text):
        return _local_repo(text, base_dir)
    scheme, _, rest = text.partition(":")
    if scheme in SHORTHANDS and not rest.startswith("//"):
        return _shorthand_repo(scheme, rest, quoted)
    if "://" in text:
        return _url_repo(text, quoted)
    if _SCP_PASSWORD.match(text):
        raise SpecError(
            f"Spec {quoted!r} puts a password in an scp-like address ({redact_url(text)!r}); ssh takes none from there.",
            "use an ssh key for user@host:path, or an https:// URL with the token in ~/.netrc (docs/private-repos.md)",
        )
    match = _SCP_LIKE.match(text)
    if match and match.group("path"):
        return _scp_repo(match, text)
    raise SpecError(
        f"Spec {quoted!r} has a REPO that is not a URL, a local path or a shorthand: {redact_url(text)!r}.",
        "use https://host/path, ssh://host/path, git://host/path, file:///path, user@host:path, ./path or github:owner/repo",
    )


def _is_local_path(text: str) -> bool:
    return text in (".", "..") or text.startswith(("/", "./", "../", "~/"))


def _local_repo(text: str, base_dir: Path | None) -> RepoURL:
    expanded = Path(os.path.expanduser(text))
    absolute = Path(os.path.normpath((base_dir or Path.cwd()) / expanded))
    normalized = _strip_repo_suffix(text if not text.startswith("~") else str(expanded))
    identity = _strip_repo_suffix(f"file://{absolute.as_posix()}")
    return RepoURL(fetch=str(absolute), normalized=normalized, identity=identity, is_local=True)


def _shorthand_repo(prefix: str, rest: str, quoted: str) -> RepoURL:
    parts = [p for p in rest.strip("/").split("/") if p]
    if len(parts) < 2 or any(p in (".", "..") for p in parts):
        raise SpecError(
            f"Spec {quoted!r} has a shorthand REPO without owner/repo: {prefix}:{rest!r}.",
            f"write {prefix}:OWNER/REPO",
        )
    url = f"https://{SHORTHANDS[prefix]}/{'/'.join(parts)}"
    normalized = _strip_repo_suffix(url)
    return RepoURL(fetch=url, normalized=normalized, identity=normalized, is_local=False)


def _url_repo(text: str, quoted: str) -> RepoURL:
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise SpecError(f"Spec {quoted!r} has a REPO URL that cannot be parsed.", str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise SpecError(
            f"Spec {quoted!r} uses an unsupported URL scheme {parts.scheme!r}.",
            f"supported schemes: {', '.join(SCHEMES)}",
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise SpecError(f"Spec {quoted!r} has a file URL that is not absolute.", "write file:///absolute/path")
        normalized = _strip_repo_suffix(f"file://{posixpath.normpath(parts.path)}")
        return RepoURL(fetch=text, normalized=normalized, identity=normalized, is_local=True)
    try:
        host = parts.hostname
        port = parts.port
        if "[" in parts.netloc and host is not None:  # Python < 3.11 does not check bracketed hosts itself
            ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError as exc:
        raise SpecError(f"Spec {quoted!r} has a REPO URL with a bad host or port.", str(exc)) from None
    if not host:
        raise SpecError(f"Spec {quoted!r} has a REPO URL without a host.", f"write {scheme}://HOST/PATH")
    if not parts.path.strip("/"):
        raise SpecError(f"Spec {quoted!r} has a REPO URL without a repository path.", f"write {scheme}://{host}/PATH")
    if parts.query or parts.fragment:
        raise SpecError(f"Spec {quoted!r} has a query or fragment in its REPO URL.", "remove the ?… or #… part")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    normalized = _strip_repo_suffix(urlunsplit((scheme, netloc, parts.path, "", "")))
    return RepoURL(fetch=text, normalized=normalized, identity=normalized, is_local=False)


def _scp_repo(match: re.Match[str], text: str) -> RepoURL:
    host = match.group("host").lower()
    normalized = _strip_repo_suffix(f"{host}:{match.group('path')}")
    return RepoURL(fetch=text, normalized=normalized, identity=normalized, is_local=False)


def _strip_repo_suffix(url: str) -> str:
    """Drop trailing ``/`` and ``.git`` (repeatedly, so the result is stable), keeping a name."""
    while True:
        stripped = url.rstrip("/")
        if stripped.endswith(".git") and not stripped[:-4].endswith(("/", ":")) and len(stripped) > 4:
            stripped = stripped[:-4]
        if stripped == url or not stripped:
            return url
        url = stripped


def validate_ref(ref: str, spec_text: str) -> str:
    """Check REF against git's ref-name rules (the subset that matters here)."""
    if not ref:
        raise SpecError(f"Spec {spec_text!r} has an empty REF after '@'.", "write a tag, a branch, HEAD or a 40-hex commit id")
    problem = None
    if _BAD_REF_CHARS.search(ref):
        problem = "contains a space, control character or one of ~^:?*[\\"
    elif ".." in ref or "@" in ref or "//" in ref:
        problem = "contains '..', '@' or '//'"
    elif ref.startswith(("-", "/", ".")) or ref.endswith(("/", ".", ".lock")):
        problem = "starts with '-', '/' or '.', or ends with '/', '.' or '.lock'"
    if problem:
        raise SpecError(f"Spec {spec_text!r} has an invalid REF {ref!r}: it {problem}.", "git ref names cannot contain these")
    return ref


def normalize_path(path: str, spec_text: str) -> str:
    """Validate PATH and return it in canonical form ('' for the repository root)."""
    if "\\" in path:
        raise SpecError(f"Spec {spec_text!r} has a PATH with a backslash: {path!r}.", "PATH is a POSIX path: use '/'")
    if path.startswith("/"):
        raise SpecError(f"Spec {spec_text!r} has an absolute PATH {path!r}.", "PATH is relative to the repository root")
    parts = [p for p in PurePosixPath(path).parts if p not in ("", ".")]
    if ".." in parts:
        raise SpecError(f"Spec {spec_text!r} has a PATH that climbs out with '..': {path!r}.", "PATH must stay inside the repository")
    if ".git" in parts:
        raise SpecError(f"Spec {spec_text!r} has a PATH through a '.git' folder: {path!r}.", "PATH must name tracked files")
    return "/".join(parts)


def validate_module_name(name: object) -> str:
    """Check that NAME is a dotted Python identifier like ``acme.tools``."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"Module name {name!r} is not a string.", "module names are dotted identifiers such as 'mylib' or 'acme.tools'")
    for part in name.split("."):
        if not part.isidentifier() or keyword.iskeyword(part):
            raise SpecError(
                f"Module name {name!r} is not a valid dotted Python identifier (bad part {part!r}).",
                "use letters, digits and underscores, not starting with a digit, separated by dots",
            )
    return name


def redact_url(url: str) -> str:
    """Remove userinfo from any URL-like text, for messages and logs.

    Everything between ``://`` and the last ``@`` before the next ``/`` goes,
    so a password with a raw ``@``, a space or a newline in it goes whole; a
    ``user:password@`` in front of an scp-like ``host:path`` goes too.
    """
    return _SCP_PASSWORD.sub("", re.sub(r"(?<=://)[^/]*@", "", url))
