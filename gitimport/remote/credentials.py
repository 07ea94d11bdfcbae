"""Credentials for private repositories over HTTPS, found the way git finds them.

In order: the URL's own userinfo (for one-off use), ``~/.netrc`` (or
``$NETRC``), and, when the server still answers 401, git's credential helpers
through ``git credential fill`` (when git is installed; never prompting).
Credentials live only in memory for the fetch: they are stripped from every
URL before it is stored, printed or put in a message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the secret, even in a debugger or traceback
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def split_userinfo(url: str) -> tuple[str, Credentials | None]:
    """The URL without userinfo, and the credentials it carried (if any)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, Credentials(unquote(parts.username), unquote(parts.password or ""))


def for_http_url(url: str) -> tuple[str, Credentials | None]:
    """The URL without userinfo, and its credentials: the URL's own, else ``~/.netrc``'s for its host.

    Git remotes and tree mirrors both take theirs this way; git's credential
    helpers are asked later, and only by a git remote, when the server answers 401.
    """
    bare, credentials = split_userinfo(url)
    return bare, credentials if credentials is not None else from_netrc(urlsplit(bare).hostname or "")


def from_netrc(host: str) -> Credentials | None:
    """Credentials for ``host`` in ``$NETRC`` or ``~/.netrc``; a broken file is ignored."""
    import netrc

    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if not os.path.isfile(path):
        return None
    try:
        found = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError):
        return None
    if not found:
        return None
    login, _, password = found
    return Credentials(login or "", password or "")


def from_git_helper(url: str) -> Credentials | None:
    """Ask git's configured credential helpers, without ever prompting on a terminal."""
    git = shutil.which("git")
    if git is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    request = f"protocol={parts.scheme}\nhost={host}\npath={parts.path.lstrip('/')}\n\n"
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    env.pop("DISPLAY", None)
    try:
        answer = subprocess.run([git, "credential", "fill"], input=request, capture_output=True, text=True, env=env, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if answer.returncode != 0:
        return None
    fields = dict(line.split("=", 1) for line in answer.stdout.splitlines() if "=" in line)
    if not fields.get("password"):
        return None
    return Credentials(fields.get("username", ""), fields["password"])
