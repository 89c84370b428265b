"""Project settings from ``wfsync.yaml`` (or ``--config FILE``), all optional.

paths: [workflows]
protect: ["Billing *", "Emergency hotline"]
safety: {max_delete_share: 0.3, max_update_share: 0.3, min_existing: 10}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wfsync import schema
from wfsync.errors import ConfigError
from wfsync.yamlsource import Problem, YamlError, read_yaml

__all__ = ["DEFAULT_FILE", "Safety", "Settings", "load_settings"]

DEFAULT_FILE = "wfsync.yaml"


@dataclass(frozen=True)
class Safety:
    """Limits on how much of the live account one plan may change (creates never count)."""

    max_delete_share: float = 0.3
    max_update_share: float = 0.3
    min_existing: int = 10


@dataclass(frozen=True)
class Settings:
    paths: tuple[str, ...] = ("workflows",)
    protect: tuple[str, ...] = ()
    safety: Safety = field(default_factory=Safety)
    api_url: str | None = None
    source: str | None = None  # the file they came from, if any


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from ``path``, else from ./wfsync.yaml when present, else the defaults."""
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            return Settings()
        path = DEFAULT_FILE
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the settings: {exc.strerror}") from exc
    try:
        document = read_yaml(file, data)
    except YamlError as exc:
        raise ConfigError(str(exc)) from exc
    value = document.value if document.value is not None else {}
    problems = list(document.problems)
    for issue in schema.validate("config", value):
        key = issue.message.startswith("property ")
        problems.append(Problem(document.where(issue.path, key=key), issue.message))
    if problems:
        raise ConfigError("\n".join(map(str, sorted(problems))))
    safety = value.get("safety", {})
    base = Path(file).parent
    return Settings(
        # Paths in the file are relative to the file, so --config works from anywhere.
        paths=tuple(os.path.normpath(base / p) for p in value.get("paths", ["workflows"])),
        protect=tuple(value.get("protect", ())),
        safety=Safety(**safety),
        api_url=value.get("api_url"),
        source=file,
    )
