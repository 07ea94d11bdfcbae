"""The host and transport policy, applied to every URL gitimport contacts.

``allow-hosts`` and ``insecure-hosts`` (docs/configuration.md#host-policy) decide
which URLs may be contacted at all: mirrors and git's ``insteadOf`` rewrite a
spec's URL first, and the rewritten URL must pass too.  Loopback is exempt
only from the rule against unencrypted transports, and local repositories
are the user's own disk.
"""

from __future__ import annotations

import ipaddress

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
    """Refuse a URL the configuration does not allow."""
    repo = parse_repo(url)
    if repo.is_local:
        return
    host = repo.host or ""
    if config.allow_hosts and host not in config.allow_hosts:
        raise PolicyError(
            f"Host {host!r} of {redact_url(url)} is not in allow-hosts.",
            f"add {host!r} to allow-hosts in {config.path or 'the config'} if you trust it",
        )
    if repo.scheme in ("http", "git") and not _is_loopback(host) and host not in config.insecure_hosts:
        raise PolicyError(
            f"Refusing {repo.scheme}:// for {redact_url(url)}: it is not encrypted or authenticated.",
            f"use https:// or ssh://, or add {host!r} to insecure-hosts in the config",
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
