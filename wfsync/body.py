"""The workflow body: what a plan compares and how a difference is described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SENSITIVE", "FieldDiff"]

SENSITIVE = "(sensitive)"


@dataclass(frozen=True)
class FieldDiff:
    """One managed field that differs: where, what it is, what it will be. For a field
    holding a value from the environment (``sensitive``), ``new`` is its template
    (``https://h.example.com/${TOKEN}``) and the old value is never shown."""

    path: str
    old: Any
    new: Any
    sensitive: bool = False

    @property
    def data(self) -> dict[str, Any]:
        old = SENSITIVE if self.sensitive else self.old
        return {"path": self.path, "old": old, "new": self.new, "sensitive": self.sensitive}
