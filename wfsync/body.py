"""The workflow body: what a plan compares and how a difference is described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SENSITIVE", "FieldDiff"]

SENSITIVE = "(sensitive)"


@dataclass(frozen=True)
class FieldDiff:
    """One managed field that differs: where, what it is, what it will be."""

    path: str
    old: Any
    new: Any
    sensitive: bool = False

    @property
    def data(self) -> dict[str, Any]:
        shown = (SENSITIVE, SENSITIVE) if self.sensitive else (self.old, self.new)
        return {"path": self.path, "old": shown[0], "new": shown[1], "sensitive": self.sensitive}
