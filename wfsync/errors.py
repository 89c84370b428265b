"""The errors wfsync raises, all under one root.

    WfsyncError
    ├── ConfigError            bad settings, flags or environment
    ├── EmulatorConfigError    a bad --key / --fault / emulator option
    └── SchemaError            a document that a JSON Schema rejects (carries every issue)

Every error reads well as a message on its own; the CLI prints ``str(error)``
and exits 1, never a traceback. Errors keep their context as attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wfsync.schema import SchemaIssue

__all__ = ["ConfigError", "EmulatorConfigError", "SchemaError", "WfsyncError"]


class WfsyncError(Exception):
    """The root of every error wfsync reports to a user."""


class ConfigError(WfsyncError):
    """Settings, flags or environment that cannot be used."""


class EmulatorConfigError(ConfigError):
    """An emulator option (key, fault, timing) that cannot be parsed."""


class SchemaError(WfsyncError):
    """A document rejected by a JSON Schema; ``issues`` holds every problem found."""

    def __init__(self, schema: str, issues: Sequence[SchemaIssue]) -> None:
        self.schema = schema
        self.issues = list(issues)
        super().__init__("; ".join(issue.message for issue in self.issues))
