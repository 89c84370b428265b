"""Redaction at the sink: one registry of every secret, applied where text leaves the process.

Like a CI system masking its registered secrets in logs, wfsync registers each secret as
soon as it knows it (the API key, each ``${NAME}`` value a definition uses, the password
of a URL) and every sink masks them all: standard output and error (wrapped once by the
CLI), log records, and every file wfsync writes. No message has to remember to hide
anything, and a server that echoes a request back cannot make wfsync print a secret.

    >>> secrets = Secrets()
    >>> secrets.add("s3cr3t-token", "${HOOK_TOKEN}")
    >>> secrets.mask("https://h.example.com/s3cr3t-token")
    'https://h.example.com/${HOOK_TOKEN}'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # logging itself is imported by --debug only (every command imports this)
    import logging

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "SECRETS",
    "RedactingFilter",
    "RedactingStream",
    "Secrets",
]

MASK = "***"
# Shorter values are not masked: masking "1" or "yes" everywhere would garble all output,
# and a secret that short protects nothing.
MIN_LENGTH = 4


class Secrets:
    """The secrets of this process, each with the text that stands for it."""

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str, shown: str = MASK) -> None:
        """Mask ``value`` (and its URL-encoded form) as ``shown`` from now on."""
        if not value or len(value) < MIN_LENGTH:
            return
        from urllib.parse import quote

        with self._lock:
            for form in {value, quote(value, safe=""), quote(value)}:
                if form not in self._shown:
                    self._shown[form] = shown
                    self._pattern = None

    def add_url(self, url: str) -> None:
        """Mask the credentials of a URL: its password and its user name (often a token)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        for secret in (parts.password, parts.username):
            if secret:
                self.add(secret)

    def extend(self, values: Iterable[tuple[str, str]]) -> None:
        for value, shown in values:
            self.add(value, shown)

    def clear(self) -> None:
        with self._lock:
            self._shown.clear()
            self._pattern = None

    def mask(self, text: str) -> str:
        if not self._shown or not text:
            return text
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                # Longest first: a secret that contains another is masked whole.
                ordered = sorted(self._shown, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern.sub(lambda match: self._shown[match.group(0)], text)


# The process's registry: the CLI registers into it, and its sinks read it.
SECRETS = Secrets()


class RedactingStream:
    """A text stream that masks every registered secret in what is written to it."""

    def __init__(self, stream: IO[str], secrets: Secrets = SECRETS) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(self._secrets.mask(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, buffer…
        return getattr(self._stream, name)


class RedactingFilter:
    """A logging filter that masks every registered secret in each record (logging takes
    any object with a ``filter`` method)."""

    def __init__(self, secrets: Secrets = SECRETS) -> None:
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._secrets.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
