"""Fields a server keeps changing back, remembered so plans stop proposing them forever.

When an apply sends a value and the verification round reads back another one, the
server normalises that field (it lower-cases a host, fills a default, trims a list…).
Sending it again would change nothing, so wfsync remembers the pair (what it sent, what
the server kept) per account, title and field in ``.wfsync/normalised.json`` (mode 0600),
and a later plan shows a note instead of the same update again. Only digests are kept,
never the values: a value may hold a secret. A changed definition (another value sent)
or a changed server value (another value kept) is planned as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FILE", "Normalisation", "digest", "load", "remember"]

FILE = os.path.join(".wfsync", "normalised.json")


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Normalisation:
    """The server keeps ``kept`` (a digest) for ``path`` of ``title`` when sent ``sent``."""

    title: str
    path: str
    sent: str
    kept: str

    @property
    def data(self) -> dict[str, str]:
        return {"title": self.title, "path": self.path, "sent": self.sent, "kept": self.kept}


def load(file: str, api_url: str | None) -> dict[tuple[str, str], Normalisation]:
    """What is remembered for the account at ``api_url`` (nothing when the file is unusable:
    it only ever saves a repeated update)."""
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
        found = data.get(api_url or "", [])
        items = [Normalisation(i["title"], i["path"], i["sent"], i["kept"]) for i in found]
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return {}
    return {
        (item.title, item.path): item for item in items if all(isinstance(v, str) for v in item.data.values())
    }


def remember(file: str, api_url: str | None, items: Iterable[Normalisation]) -> None:
    """Add ``items`` for the account (replacing earlier ones for the same title and field)."""
    items = list(items)
    if not items:
        return
    try:
        with open(file, encoding="utf-8") as handle:
            data: Mapping[str, Any] = json.load(handle)
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError, RecursionError):
        data = {}
    known = {(i.get("title"), i.get("path")): i for i in data.get(api_url or "", []) if isinstance(i, dict)}
    known.update({(i.title, i.path): i.data for i in items})
    updated = {**data, api_url or "": list(known.values())}
    os.makedirs(os.path.dirname(file) or ".", exist_ok=True)
    temporary = f"{file}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(updated, handle, indent=2, sort_keys=True)
    os.replace(temporary, file)
