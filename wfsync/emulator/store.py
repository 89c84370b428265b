"""The emulator's state: workflows and jobs in SQLite, and the job state machine.

A job's life is a function of time, so the store keeps for every unfinished job the
instant of its next step (``due_at``) and :meth:`Store.tick` carries out every step
that is due, in order, stamping each with the instant it was due rather than the
instant the tick ran. That keeps histories exact however rarely the clock is read,
and lets tests drive time with a fake clock instead of sleeping.

    scheduled --(scheduledDate)--> queued --(queue_seconds)--> running
    running --(run_seconds)--> completed | failed
    scheduled | queued --(cancel, delete)--> cancelled

    >>> store = Store(":memory:")
    >>> workflow = store.create_workflow({"title": "Lead follow-up"})
    >>> store.get_workflow(workflow["id"])["title"]
    'Lead follow-up'
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wfsync.emulator.simulate import simulate_run
from wfsync.errors import ConfigError
from wfsync.schema import utc_instant

__all__ = ["PENDING", "CorruptDatabase", "JobTiming", "Store", "format_instant"]

PENDING = ("scheduled", "queued")
ACTIVE = ("scheduled", "queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at REAL,
    scheduled_date TEXT,
    timezone TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_workflow ON jobs (workflow_id, seq);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class CorruptDatabase(ConfigError):
    """The emulator's SQLite file is damaged or not a database at all."""


@dataclass(frozen=True)
class JobTiming:
    """How long a run waits in the queue and then runs, in seconds."""

    queue_seconds: float = 0.2
    run_seconds: float = 1.0


def format_instant(epoch: float) -> str:
    """An epoch as the platform's instant form, ``2027-07-01T09:00:00.000Z``."""
    millis = round(epoch * 1000)  # whole milliseconds, so float error never shows
    moment = datetime.fromtimestamp(millis // 1000, tz=UTC).replace(microsecond=millis % 1000 * 1000)
    return utc_instant(moment)


class Store:
    """Workflows and jobs, thread-safe, in a SQLite file or in memory (``:memory:``)."""

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        seed: int = 0,
        timing: JobTiming = JobTiming(),
        fail_share: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.timing = timing
        self.fail_share = fail_share
        self.clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(os.fspath(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            if os.fspath(path) != ":memory:":
                self._check(os.fspath(path))
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CorruptDatabase(f"the emulator's database: {os.fspath(path)}: {exc}") from None
        self._ids = random.Random(f"ids:{seed}:{path}:{os.getpid()}:{time.time_ns()}")
        self._counter = itertools.count(self._ids.randrange(1 << 24))
        self._org = self._meta("organization", lambda: f"org_{self._ids.getrandbits(48):012x}")

    # -- plumbing ---------------------------------------------------------------------------

    def _check(self, path: str) -> None:
        """Refuse a damaged file at start, not with a traceback at the first request."""
        found = self._db.execute("PRAGMA quick_check").fetchall()
        problems = [row[0] for row in found if row[0] != "ok"]
        if problems:
            raise sqlite3.DatabaseError(
                f"{problems[0]}" + (f" (and {len(problems) - 1} more)" * (len(problems) > 1))
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _meta(self, key: str, default: Callable[[], str]) -> str:
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row:
                return str(row["value"])
            value = default()
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

    def _object_id(self) -> str:
        """A Mongo-shaped ObjectId: 4 bytes of time, 5 random, a 3-byte counter."""
        stamp = int(self.clock()) & 0xFFFFFFFF
        return f"{stamp:08x}{self._ids.getrandbits(40):010x}{next(self._counter) & 0xFFFFFF:06x}"

    def _job_id(self) -> str:
        alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
        value = (int(self.clock() * 1000) << 80) | self._ids.getrandbits(80)
        return "job_" + "".join(alphabet[(value >> shift) & 31] for shift in range(125, -1, -5))

    def reset(self) -> None:
        """Forget every workflow and job (tests share one emulator and reset it)."""
        with self._transaction() as db:
            db.execute("DELETE FROM jobs")
            db.execute("DELETE FROM workflows")

    def close(self) -> None:
        """Close the database; again is a no-op. A file left in WAL mode is checkpointed and
        switched back, so a clean stop leaves no -wal or -shm file beside it."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # closed already, or another process reads it
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.close()

    # -- workflows --------------------------------------------------------------------------

    def _workflow(self, row: sqlite3.Row) -> dict[str, Any]:
        workflow: dict[str, Any] = {"id": row["id"], **json.loads(row["body"])}
        workflow.update(
            organizationId=self._org,
            status="active",
            createdAt=row["created_at"],
            updatedAt=row["updated_at"],
            __v=row["version"],
        )
        return workflow

    def create_workflow(self, body: Mapping[str, Any], *, workflow_id: str | None = None) -> dict[str, Any]:
        """Store a new workflow (titles need not be unique, as on the platform)."""
        now = format_instant(self.clock())
        with self._transaction() as db:
            new_id = workflow_id or self._object_id()
            db.execute(
                "INSERT INTO workflows (id, body, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (new_id, json.dumps(dict(body)), now, now),
            )
            row = db.execute("SELECT * FROM workflows WHERE id = ?", (new_id,)).fetchone()
        return self._workflow(row)

    def get_workflow(self, workflow_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
        return self._workflow(row) if row else None

    def list_workflows(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of workflows in creation order, and the total count."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM workflows ORDER BY seq LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            total = self._db.execute("SELECT count(*) FROM workflows").fetchone()[0]
        return [self._workflow(row) for row in rows], int(total)

    def update_workflow(self, workflow_id: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """Apply a partial update; a None value removes that field."""
        with self._transaction() as db:
            row = db.execute("SELECT body FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
            if row is None:
                return None
            body = json.loads(row["body"])
            for key, value in patch.items():
                if value is None:
                    body.pop(key, None)
                else:
                    body[key] = value
            db.execute(
                "UPDATE workflows SET body = ?, updated_at = ?, version = version + 1 WHERE id = ?",
                (json.dumps(body), format_instant(self.clock()), workflow_id),
            )
            row = db.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
        return self._workflow(row)

    def delete_workflow(self, workflow_id: str) -> bool:
        """Delete a workflow and cancel its unfinished jobs; False when there is none."""
        with self._transaction() as db:
            gone = db.execute("DELETE FROM workflows WHERE id = ?", (workflow_id,)).rowcount
            if gone:
                self._cancel(db, workflow_id, ACTIVE, "workflow deleted")
        return bool(gone)

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, row: sqlite3.Row) -> dict[str, Any]:
        job: dict[str, Any] = {
            "jobId": row["id"],
            "workflowId": row["workflow_id"],
            "type": row["kind"],
            "status": row["status"],
            "createdAt": row["created_at"],
            "scheduledDate": row["scheduled_date"],
            "timezone": row["timezone"],
            "startedAt": row["started_at"],
            "finishedAt": row["finished_at"],
        }
        if row["error"]:
            job["error"] = row["error"]
        if row["result"]:
            job["result"] = json.loads(row["result"])
        return job

    def start_run(self, workflow_id: str) -> dict[str, Any]:
        """Queue an immediate run."""
        now = self.clock()
        with self._transaction() as db:
            job_id = self._job_id()
            db.execute(
                "INSERT INTO jobs (id, workflow_id, kind, status, due_at, created_at)"
                " VALUES (?, ?, 'run', 'queued', ?, ?)",
                (job_id, workflow_id, now + self.timing.queue_seconds, format_instant(now)),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row)

    def schedule_run(self, workflow_id: str, at: float, timezone: str) -> dict[str, Any]:
        """Schedule a one-shot run at the epoch ``at`` (a past instant is due at once)."""
        now = self.clock()
        due = max(at, now)
        with self._transaction() as db:
            job_id = self._job_id()
            db.execute(
                "INSERT INTO jobs (id, workflow_id, kind, status, due_at, scheduled_date, timezone,"
                " created_at) VALUES (?, ?, 'scheduled', 'scheduled', ?, ?, ?, ?)",
                (job_id, workflow_id, due, format_instant(at), timezone, format_instant(now)),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row)

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        self.tick()
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def list_jobs(self, workflow_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of a workflow's jobs, oldest first, and their total count."""
        self.tick()
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE workflow_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (workflow_id, limit, offset),
            ).fetchall()
            total = self._db.execute(
                "SELECT count(*) FROM jobs WHERE workflow_id = ?", (workflow_id,)
            ).fetchone()[0]
        return [self._job(row) for row in rows], int(total)

    def all_jobs(self, workflow_id: str) -> list[dict[str, Any]]:
        """Every job of a workflow, oldest first (for summaries and reports)."""
        self.tick()
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE workflow_id = ? ORDER BY seq", (workflow_id,)
            ).fetchall()
        return [self._job(row) for row in rows]

    def cancel_pending(self, workflow_id: str) -> list[str]:
        """Cancel the workflow's scheduled and queued jobs (never a running one)."""
        self.tick()
        with self._transaction() as db:
            return self._cancel(db, workflow_id, PENDING, "cancelled")

    def _cancel(
        self, db: sqlite3.Connection, workflow_id: str, statuses: tuple[str, ...], reason: str
    ) -> list[str]:
        marks = ",".join("?" * len(statuses))
        ids = [
            row["id"]
            for row in db.execute(
                f"SELECT id FROM jobs WHERE workflow_id = ? AND status IN ({marks}) ORDER BY seq",
                (workflow_id, *statuses),
            )
        ]
        db.execute(
            f"UPDATE jobs SET status = 'cancelled', due_at = NULL, finished_at = ?, error = ?"
            f" WHERE workflow_id = ? AND status IN ({marks})",
            (
                format_instant(self.clock()),
                None if reason == "cancelled" else reason,
                workflow_id,
                *statuses,
            ),
        )
        return ids

    # -- the scheduler ----------------------------------------------------------------------

    def tick(self) -> int:
        """Carry out every job step that is due now; returns how many steps were taken."""
        now = self.clock()
        steps = 0
        with self._transaction() as db:
            while True:
                rows = db.execute(
                    "SELECT * FROM jobs WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, seq",
                    (now,),
                ).fetchall()
                if not rows:
                    return steps
                for row in rows:
                    self._step(db, row)
                    steps += 1

    def _step(self, db: sqlite3.Connection, row: sqlite3.Row) -> None:
        due = float(row["due_at"])
        timing = self.timing
        if row["status"] == "scheduled":
            db.execute(
                "UPDATE jobs SET status = 'queued', due_at = ? WHERE seq = ?",
                (due + timing.queue_seconds, row["seq"]),
            )
        elif row["status"] == "queued":
            db.execute(
                "UPDATE jobs SET status = 'running', started_at = ?, due_at = ? WHERE seq = ?",
                (format_instant(due), due + timing.run_seconds, row["seq"]),
            )
        else:  # running
            body_row = db.execute("SELECT body FROM workflows WHERE id = ?", (row["workflow_id"],)).fetchone()
            body = json.loads(body_row["body"]) if body_row else {}
            outcome = simulate_run(self.seed, int(row["seq"]), body, self.fail_share, due)
            db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, due_at = NULL, error = ?, result = ?"
                " WHERE seq = ?",
                (
                    outcome.status,
                    format_instant(due),
                    outcome.error,
                    json.dumps(outcome.result),
                    row["seq"],
                ),
            )
