"""Where the key may go: an API URL is checked before any connection is made.

The key travels in a header, so over plain http anyone on the path reads it. It goes
only over https, or plain http to this machine's loopback (the emulator, a tunnel);
anything else needs ``--allow-insecure-http`` (a lab network). Kept free of httpx so
that the lock and the command line can use it cheaply.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from wfsync.errors import ConfigError

__all__ = ["LOOPBACK_NAMES", "check_url", "is_loopback"]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ``::1``."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure_http: bool = False) -> None:
    """Refuse a URL the key must not be sent to (a one-line ConfigError)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ConfigError("the API URL cannot be parsed (its host or port)") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError("the API URL must start with http:// or https:// and name a host")
    if parts.scheme == "http" and not is_loopback(host) and not allow_insecure_http:
        # Only the host is named: the URL may carry a password.
        raise ConfigError(
            f"refusing to send the API key over plain http to {host}: use https "
            "(or --allow-insecure-http on a network you trust)"
        )
