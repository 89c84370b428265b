"""A local emulator of the whole Workflows API: a Starlette app over a SQLite store.

It imports nothing from the client side of wfsync (plan, apply, cli), so it stays a
faithful, independent stand-in for the platform.
"""

from __future__ import annotations

from wfsync.emulator.config import DEV_KEY, Dialect, EmulatorConfig, Faults
from wfsync.emulator.store import JobTiming, Store

__all__ = ["DEV_KEY", "Dialect", "EmulatorConfig", "Faults", "JobTiming", "Store"]
