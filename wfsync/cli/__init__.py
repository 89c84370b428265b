"""The ``wfsync`` command line (the only place for argv, the environment, stdout and exit codes)."""

from __future__ import annotations

from wfsync.cli import delete, emulator, operate, project, sync  # noqa: F401  (each module adds its commands to the group)
from wfsync.cli.app import main

__all__ = ["main"]
