"""One apply at a time per API, on this machine.

The Workflows API has no locks and no idempotency keys, so two applies planned at once
would both create the same workflow. ``apply`` therefore holds an exclusive lock (an
OS file lock, released by the kernel even when the process is killed) for the API it
talks to, and computes its plan only once it holds it: a second apply waits, then finds
the first one's work done. Applies on different machines need their CI's own
serialisation (a GitHub Actions concurrency group); see the README.

The lock files live in ``$WFSYNC_LOCK_DIR``, else the user's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wfsync.errors import WfsyncError
from wfsync.target import shown_url

__all__ = ["LockTimeout", "apply_lock", "lock_key", "lock_path"]

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = "127.0.0.1"


class LockTimeout(WfsyncError):
    """Another apply held the lock for longer than we were willing to wait."""


def lock_key(api_name: str) -> str:
    """The API an apply talks to, written one way: ``HTTPS://API.example.com:443/`` and
    ``https://api.example.com`` are one API, and so are ``localhost``, ``127.0.0.1`` and
    ``[::1]`` on one port (a machine's loopback is one server whatever it is called).

    The scheme and host are lowercased, the default port made explicit, a password and a
    query dropped; a name that is not an http(s) URL (the sandbox's) is kept as it is.
    """
    from urllib.parse import urlsplit

    from wfsync.urls import is_loopback

    try:
        parts = urlsplit(api_name.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return api_name
    if scheme not in DEFAULT_PORTS or not host:
        return api_name
    host = LOOPBACK if is_loopback(host) else host.lower().rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    return f"{scheme}://{shown}:{port or DEFAULT_PORTS[scheme]}{path}"


def lock_path(api_name: str, account: str | None = None) -> Path:
    """The lock file of the API ``api_name`` (a URL, normalised by :func:`lock_key`), and of
    one ``account`` on it (an environment: agencies reach many accounts through one URL)."""
    base = os.environ.get("WFSYNC_LOCK_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "wfsync", "locks"
    )
    name = lock_key(api_name) + (f"\0{account}" if account is not None else "")
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return Path(base) / f"apply-{digest}.lock"


@contextmanager
def apply_lock(
    api_name: str,
    *,
    timeout: float,
    account: str | None = None,
    on_wait: Callable[[str], None] = lambda holder: None,
    on_unavailable: Callable[[str], None] = lambda reason: None,
) -> Iterator[None]:
    """Hold the apply lock for ``api_name``; waits up to ``timeout`` seconds for it.

    Where no lock can be had (no POSIX locks, a read-only home), ``on_unavailable`` is
    told why and the apply goes on unlocked: serialise applies in CI then.
    """
    try:
        import fcntl
    except ImportError:
        on_unavailable("this system has no POSIX file locks")
        yield
        return
    path = lock_path(api_name, account)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115  (held across the yield below)
    except OSError as exc:
        on_unavailable(f"cannot use {path}: {exc.strerror or exc} (set WFSYNC_LOCK_DIR)")
        yield
        return
    with handle:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another wfsync apply against {shown_url(api_name)} is running ({holder}); "
                        f"waited {timeout:g} s (--lock-timeout)"
                    ) from None
                if not told:
                    on_wait(holder)
                    told = True
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
