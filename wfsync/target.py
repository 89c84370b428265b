"""Which API a command talks to, and with which key: an environment's account, or the
embedded sandbox emulator (``--sandbox``) with its state in ``.wfsync/sandbox.db``
(``.wfsync/sandbox-NAME.db`` for environment NAME: environments never share state).

The API URL (SPEC §3): ``--api-url`` wins; else the settings' ``api_url`` (the
environment's, else the top-level one) or ``WFSYNC_API_URL``; when both are set and
disagree, that is an error naming both, never a silent choice (a staging config must
not be planned against production because of a variable left in a shell).

The key comes only from the environment: the variable an environment names in
``api_key_env``, else ``WFSYNC_API_KEY``, else ``INDIGENIUS_API_KEY``; never from a flag
or a file. An environment with ``api_key_env`` never falls back to WFSYNC_API_KEY: the
wrong key in one shared variable is how a plan lands in another client's account. A key
is never shown: ``Target`` leaves it out of its repr, and messages name the variable.

    >>> with open_target(None, environment=env, settings=settings) as target:  # doctest: +SKIP
    ...     target.url, target.environment
    ('https://api.indigenius.ai', 'staging')
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from wfsync.errors import ConfigError

if TYPE_CHECKING:
    from wfsync.config import Environment, Settings

__all__ = [
    "DEFAULT_API_URL",
    "KEY_VARIABLES",
    "SANDBOX_DB",
    "Target",
    "open_target",
    "resolve_api_key",
    "resolve_api_url",
    "sandbox_db",
    "shown_url",
]

DEFAULT_API_URL = "https://api.indigenius.ai"
SANDBOX_DB = os.path.join(".wfsync", "sandbox.db")
KEY_VARIABLES = ("WFSYNC_API_KEY", "INDIGENIUS_API_KEY")


@dataclass(frozen=True)
class Target:
    """Where requests go (``url``), what the plan records as the API (``name``), the key,
    and the environment it is for (None: the single account of SPEC §3)."""

    url: str
    name: str
    key: str = field(repr=False)
    environment: str | None = None


def shown_url(url: str) -> str:
    """``url`` as plans, messages and lock files show it: any credentials in it (a password,
    or a user name alone, which is often a token) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _same_url(a: str, b: str) -> bool:
    """Equal as APIs: case of the scheme and host and a trailing slash do not matter."""
    try:
        one, two = urlsplit(a.rstrip("/")), urlsplit(b.rstrip("/"))
    except ValueError:
        return a == b
    return (one.scheme.lower(), one.netloc.lower(), one.path, one.query) == (
        two.scheme.lower(),
        two.netloc.lower(),
        two.path,
        two.query,
    )


def resolve_api_url(
    flag: str | None,
    *,
    configured: str | None = None,
    configured_in: str = "the settings",
    env: Mapping[str, str] | None = None,
) -> str:
    """The API URL by SPEC §3's precedence; ``configured`` is the settings' URL, and
    ``configured_in`` how a message names where it was written."""
    env = os.environ if env is None else env
    # An empty variable is unset: CI expands a missing secret or variable to "".
    from_env = env.get("WFSYNC_API_URL") or None
    if flag:
        url = flag
    elif configured and from_env and not _same_url(configured, from_env):
        raise ConfigError(
            f"two API URLs: {configured_in} says {shown_url(configured)} but WFSYNC_API_URL is "
            f"{shown_url(from_env)}; pass --api-url to choose, or unset WFSYNC_API_URL"
        )
    else:
        url = configured or from_env or DEFAULT_API_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the API URL must start with http:// or https://, not {shown_url(url)!r}")
    return url.rstrip("/")


def resolve_api_key(environment: Environment | None = None, env: Mapping[str, str] | None = None) -> str:
    """The API key for ``environment`` from the process environment, or an error naming
    the variable (never its value)."""
    env = os.environ if env is None else env
    name = environment.api_key_env if environment is not None else None
    if name is not None:
        assert environment is not None
        if name not in env:
            raise ConfigError(f"no API key for {environment.label}: set {name} in the environment")
        if not env[name]:
            raise ConfigError(
                f"no API key for {environment.label}: {name} is empty (a CI secret that is not set "
                "expands to an empty value)"
            )
        return env[name]
    key = next((env[variable] for variable in KEY_VARIABLES if env.get(variable)), None)
    if key is None:
        raise ConfigError(
            "no API key: set WFSYNC_API_KEY (or INDIGENIUS_API_KEY) in the environment, "
            "or try wfsync with --sandbox"
        )
    return key


def sandbox_db(environment: Environment | None = None, root: str = ".") -> str:
    """The sandbox's database for ``environment``, under the project's ``root``."""
    name = environment.name if environment is not None else None
    file = f"sandbox-{name}.db" if name is not None else "sandbox.db"
    return os.path.normpath(os.path.join(root, ".wfsync", file))


@contextmanager
def open_target(
    api_url: str | None,
    *,
    sandbox: bool = False,
    configured_url: str | None = None,
    env: Mapping[str, str] | None = None,
    environment: Environment | None = None,
    settings: Settings | None = None,
) -> Iterator[Target]:
    """The API to use for the length of the block (the sandbox is served while it lasts).

    ``environment`` (from :func:`wfsync.config.select_environments`) gives the URL, the
    key variable and the sandbox file; ``settings`` where the project's root is and how
    to name the settings file in messages; with environments defined and none given,
    ``default_env`` is used, else it is an error listing them. ``configured_url`` is the
    older way to pass the settings' URL (used when no environment is given).
    """
    if environment is None and settings is not None and settings.environments:
        from wfsync.config import select_environments

        # No --env: the default_env, else an error listing them; never the top-level
        # account by accident (a shared key is how plans land in another client's account).
        (environment,) = select_environments(settings)
    name = environment.name if environment is not None else None
    if sandbox:
        from wfsync.emulator import DEV_KEY
        from wfsync.emulator.server import EmulatorServer

        db = sandbox_db(environment, settings.root if settings is not None else ".")
        os.makedirs(os.path.dirname(db), mode=0o700, exist_ok=True)
        # The sandbox's state is the project's own: readable by its owner only (SQLite's
        # -wal and -shm files take the database's mode).
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
        with EmulatorServer(db=db) as server:
            yield Target(server.url, f"sandbox:{db}", DEV_KEY, name)
        return
    configured = environment.api_url if environment is not None else configured_url
    source = settings.source if settings is not None and settings.source else "the settings"
    where = f"{source} (environment {name!r})" if name is not None else source
    url = resolve_api_url(api_url, configured=configured, configured_in=where, env=env)
    # The name is what plans record and messages show: never a password in the URL.
    yield Target(url, shown_url(url), resolve_api_key(environment, env), name)
