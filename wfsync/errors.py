"""The errors wfsync raises, all under one root.

    WfsyncError
    ├── ConfigError            bad settings, flags or environment
    │   └── EmulatorConfigError    a bad --key / --fault / emulator option
    ├── DefinitionError        definitions.py: every problem of every file, FILE:LINE:COL
    ├── PlanError              live state that cannot be planned against (an ambiguous title)
    ├── UnsafePlan             a plan over a safety limit; ends in how to force it
    ├── StalePlan              saved.py: the live state changed since the plan was saved
    ├── LockTimeout            lock.py: another apply against the same API kept running
    ├── JobTimeout             operate.py: a followed job did not end in time
    └── ApiError               the Workflows API said no, or could not be reached
        ├── AuthError              401: the key was refused
        ├── ForbiddenError         403: the key lacks a scope (``scope`` names it)
        ├── NotFoundError          404
        ├── RequestError           400 and other 4xx: the server's field messages
        ├── ThrottledError         429, still after every retry
        ├── ServerError            5xx, still after every retry
        ├── TransportError         no answer: connection refused or dropped, timeout
        └── ProtocolError          an answer that is not the API's (HTML, bad JSON, wrong shape)
            └── UnsafeIdError          an id from the server that cannot be one path segment

Every error reads well as a message on its own; the CLI prints ``str(error)``
and exits 1, never a traceback. Errors keep their context as attributes.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "EmulatorConfigError",
    "ForbiddenError",
    "NotFoundError",
    "PlanError",
    "ProtocolError",
    "RequestError",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "UnsafeIdError",
    "UnsafePlan",
    "WfsyncError",
]


class WfsyncError(Exception):
    """The root of every error wfsync reports to a user."""


class ConfigError(WfsyncError):
    """Settings, flags or environment that cannot be used."""


class EmulatorConfigError(ConfigError):
    """An emulator option (key, fault, timing) that cannot be parsed."""


class PlanError(WfsyncError):
    """The live state cannot be planned against; ``problems`` lists each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class UnsafePlan(WfsyncError):
    """A plan that would change more of the account than the safety limits allow."""


class ApiError(WfsyncError):
    """A request the Workflows API refused or never answered.

    ``method`` and ``path`` name the request, ``status`` the answer (None when there was
    none) and ``messages`` what the server said. The API key is never part of any of them.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        messages: Sequence[str] = (),
        *,
        hint: str = "",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.messages = list(messages)
        self.hint = hint
        super().__init__(self._text())

    def _text(self) -> str:
        head = f"{self.method} {self.path}"
        said = "; ".join(self.messages)
        status = f"{self.status} {_reason(self.status)}" if self.status else "no answer"
        text = f"{head}: {status}"
        if said:
            text += f": {said}"
        if self.hint:
            text += f" ({self.hint})"
        return text


def _reason(status: int | None) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status or 0).phrase
    except ValueError:
        return ""


class AuthError(ApiError):
    """401: the API key is missing, unknown or revoked."""


class ForbiddenError(ApiError):
    """403: the API key lacks the scope this request needs (``scope``)."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        messages: Sequence[str] = (),
        *,
        scope: str,
        hint: str = "",
    ) -> None:
        self.scope = scope
        super().__init__(method, path, status, messages, hint=hint)


class NotFoundError(ApiError):
    """404: no workflow or job with that id."""


class RequestError(ApiError):
    """400 and other 4xx: the server rejected the request; ``messages`` says why."""


class ThrottledError(ApiError):
    """429 after every retry."""


class ServerError(ApiError):
    """5xx after every retry (or at once, for a request not safe to repeat)."""


class TransportError(ApiError):
    """No answer: the connection was refused or dropped, or it timed out."""


class ProtocolError(ApiError):
    """An answer that is not the API's: HTML, truncated JSON, a body of the wrong shape."""


class UnsafeIdError(ProtocolError):
    """An id from the server that would not stay one path segment (``..``, empty)."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__("", "", None)

    def _text(self) -> str:
        return f"the server gave the id {self.value!r}, which cannot name a workflow or job in a request"
