"""The host and transport policy, applied to every URL gitimport contacts.

``allow-hosts`` and ``insecure-hosts`` (docs/configuration.md#host-policy) decide
which URLs may be contacted at all: mirrors and git's ``insteadOf`` rewrite a
spec's URL first, and the rewritten URL must pass too; so must every URL an
HTTP server redirects to (:func:`check_redirect`).  Loopback is exempt only
from the rule against unencrypted transports in a URL the user wrote, and
local repositories are the user's own disk.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from ..errors import PolicyError
from ..project.config import Config
from ..project.spec import parse_repo, redact_url


def apply_mirrors(url: str, mirrors: dict[str, str]) -> str:
    """Rewrite the longest matching URL prefix, like git's ``url.<base>.insteadOf``."""
    matches = [prefix for prefix in mirrors if url.startswith(prefix)]
    if not matches:
        return url
    prefix = max(matches, key=len)
    return mirrors[prefix] + url[len(prefix) :]


def check_policy(url: str, config: Config) -> None:
    """Refuse a repository URL the configuration does not allow."""
    repo = parse_repo(url)
    if not repo.is_local:
        _check_host(repo.scheme, repo.host or "", url, config)


def check_mirror_policy(url: str, config: Config) -> None:
    """Refuse a tree mirror's http(s) URL the configuration does not allow: the same rules as for a repository."""
    parts = urlsplit(url)
    _check_host(parts.scheme, parts.hostname or "", url, config)


def _check_host(scheme: str, host: str, url: str, config: Config) -> None:
    if _outside_allow_hosts(host, config):
        raise PolicyError(f"Host {host!r} of {_shown(url)} is not in allow-hosts.", _allow_hint(host, config))
    if _in_clear_text(scheme, host, config):
        raise PolicyError(
            f"Refusing {scheme}:// for {_shown(url)}: it is not encrypted or authenticated.",
            f"use https:// or ssh://, or add {host!r} to insecure-hosts in the config",
        )


def check_redirect(source: str, target: str, config: Config) -> None:
    """Refuse an HTTP redirect from ``source`` to a URL the configuration does not allow.

    The target passes the same host and transport checks as a spec's URL,
    and one more: a redirect from https:// to http:// is refused unless the
    target host is in insecure-hosts, loopback included, because the server
    chose it and the user wrote https://.  Only http(s) targets are followed:
    a server must not turn a fetch into a read of ``file://`` or a connection
    of another protocol.  Messages leave out userinfo, queries and fragments,
    where signed redirect URLs carry their tokens.
    """
    before, after = urlsplit(source), urlsplit(target)
    host = after.hostname or ""
    refused = f"Refusing the redirect from {_shown(source)} to {_shown(target)}"
    if after.scheme not in ("http", "https"):
        raise PolicyError(
            f"{refused}: only http:// and https:// redirects are followed.",
            "put the repository's own URL in the spec",
        )
    if _outside_allow_hosts(host, config):
        raise PolicyError(f"{refused}: host {host!r} is not in allow-hosts.", _allow_hint(host, config))
    if before.scheme == "https" and after.scheme == "http" and host not in config.insecure_hosts:
        raise PolicyError(
            f"{refused}: it downgrades https:// to unencrypted http://.",
            f"add {host!r} to insecure-hosts in the config only if plain HTTP to it is acceptable",
        )
    if _in_clear_text(after.scheme, host, config):
        raise PolicyError(
            f"{refused}: http:// is not encrypted or authenticated.",
            f"add {host!r} to insecure-hosts in the config if you trust the network to it",
        )


def _outside_allow_hosts(host: str, config: Config) -> bool:
    return bool(config.allow_hosts) and host not in config.allow_hosts


def _in_clear_text(scheme: str, host: str, config: Config) -> bool:
    return scheme in ("http", "git") and not _is_loopback(host) and host not in config.insecure_hosts


def _allow_hint(host: str, config: Config) -> str:
    return f"add {host!r} to allow-hosts in {config.path or 'the config'} if you trust it"


def _shown(url: str) -> str:
    """A URL for a message: no userinfo, no query, no fragment."""
    parts = urlsplit(redact_url(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
