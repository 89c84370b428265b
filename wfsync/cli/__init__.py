"""The ``wfsync`` command line (the only place for argv, the environment, stdout and exit codes)."""

from __future__ import annotations

# Each module adds its commands to the group.
from wfsync.cli import ci, delete, doctor, emulator, operate, project, status, sync  # noqa: F401
from wfsync.cli.app import main

__all__ = ["main"]
