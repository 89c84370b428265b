"""Which API a command talks to, and with which key: the configured account, or the
embedded sandbox emulator (``--sandbox``) with its state in ``.wfsync/sandbox.db``.

The key comes only from the environment (``WFSYNC_API_KEY``, else ``INDIGENIUS_API_KEY``),
never from a flag or a file, and is never shown: ``Target`` leaves it out of its repr.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from wfsync.errors import ConfigError

__all__ = ["DEFAULT_API_URL", "KEY_VARIABLES", "SANDBOX_DB", "Target", "open_target"]

DEFAULT_API_URL = "https://api.indigenius.ai"
SANDBOX_DB = os.path.join(".wfsync", "sandbox.db")
KEY_VARIABLES = ("WFSYNC_API_KEY", "INDIGENIUS_API_KEY")


@dataclass(frozen=True)
class Target:
    """Where requests go (``url``), what the plan records as the API (``name``), and the key."""

    url: str
    name: str
    key: str = field(repr=False)


@contextmanager
def open_target(
    api_url: str | None,
    *,
    sandbox: bool = False,
    configured_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Target]:
    """The API to use for the length of the block (the sandbox is served while it lasts)."""
    env = os.environ if env is None else env
    if sandbox:
        from wfsync.emulator import DEV_KEY
        from wfsync.emulator.server import EmulatorServer

        os.makedirs(os.path.dirname(SANDBOX_DB), exist_ok=True)
        with EmulatorServer(db=SANDBOX_DB) as server:
            yield Target(server.url, f"sandbox:{SANDBOX_DB}", DEV_KEY)
        return
    url = api_url or env.get("WFSYNC_API_URL") or configured_url or DEFAULT_API_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the API URL must start with http:// or https://, not {url!r}")
    key = next((env[name] for name in KEY_VARIABLES if env.get(name)), None)
    if key is None:
        raise ConfigError(
            "no API key: set WFSYNC_API_KEY (or INDIGENIUS_API_KEY) in the environment, "
            "or try wfsync with --sandbox"
        )
    yield Target(url.rstrip("/"), url.rstrip("/"), key)
