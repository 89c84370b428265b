"""The store and its scheduler, in-process with a clock the test moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FakeClock
from wfsync.emulator.simulate import simulate_run
from wfsync.emulator.store import CorruptDatabase, JobTiming, Store, format_instant

TIMING = JobTiming(queue_seconds=2, run_seconds=10)


def make(clock: FakeClock, **kwargs: object) -> Store:
    return Store(":memory:", timing=TIMING, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_the_scheduler_starts_a_job_when_it_is_due(clock: FakeClock) -> None:
    store = make(clock)
    workflow = store.create_workflow({"title": "Reminder"})
    job = store.schedule_run(workflow["id"], clock.now + 60, "GMT_plus_1")
    clock.advance(59)
    assert store.get_job(job["jobId"])["status"] == "scheduled"
    clock.advance(1)
    assert store.get_job(job["jobId"])["status"] == "queued"
    clock.advance(2)
    running = store.get_job(job["jobId"])
    assert running["status"] == "running" and running["startedAt"] == format_instant(clock.now)
    clock.advance(10)
    done = store.get_job(job["jobId"])
    assert done["status"] == "completed" and done["finishedAt"] == format_instant(clock.now)


def test_a_late_tick_stamps_each_step_when_it_was_due(clock: FakeClock) -> None:
    store = make(clock)
    workflow = store.create_workflow({"title": "Reminder"})
    due = clock.now + 60
    job = store.schedule_run(workflow["id"], due, "GMT")
    clock.advance(3600)
    assert store.tick() == 3
    done = store.get_job(job["jobId"])
    assert done["startedAt"] == format_instant(due + 2)
    assert done["finishedAt"] == format_instant(due + 12)


def test_cancel_leaves_a_running_job_alone(clock: FakeClock) -> None:
    store = make(clock)
    workflow = store.create_workflow({"title": "x"})
    running = store.start_run(workflow["id"])["jobId"]
    clock.advance(3)
    queued = store.start_run(workflow["id"])["jobId"]
    scheduled = store.schedule_run(workflow["id"], clock.now + 100, "GMT")["jobId"]
    assert store.cancel_pending(workflow["id"]) == [queued, scheduled]
    assert store.get_job(running)["status"] == "running"
    clock.advance(20)
    assert store.get_job(scheduled)["status"] == "cancelled"
    assert store.get_job(running)["status"] == "completed"


def test_simulated_calls_follow_the_seed() -> None:
    body = {"title": "x", "endCall": {"phrases": ["bye"]}}
    assert simulate_run(1, 5, body, 0.0, 0) == simulate_run(1, 5, body, 0.0, 0)
    outcomes = {str(simulate_run(seed, 5, body, 0.0, 0).result) for seed in range(10)}
    assert len(outcomes) > 5, "different seeds give different calls"
    answered = [
        c
        for seed in range(30)
        for c in simulate_run(seed, 1, body, 0.0, 0).result["calls"]
        if c["outcome"] == "answered"
    ]
    assert answered and all(c["endedBy"] == "bye" and c["durationSeconds"] >= 20 for c in answered)


def test_fail_share_fails_runs_by_chance() -> None:
    outcomes = [simulate_run(0, seq, {"title": "x"}, 0.5, 0).status for seq in range(200)]
    assert 60 < outcomes.count("failed") < 140


def test_the_same_seed_gives_the_same_summary(clock: FakeClock) -> None:
    results = []
    for _ in range(2):
        store = make(clock, seed=3)
        workflow = store.create_workflow({"title": "x"})
        for _ in range(5):
            store.start_run(workflow["id"])
        clock.advance(60)
        results.append([job["result"] for job in store.all_jobs(workflow["id"])])
    assert results[0] == results[1]


def test_ids_look_like_object_ids_and_job_ids(clock: FakeClock) -> None:
    store = make(clock)
    ids = {store.create_workflow({"title": "x"})["id"] for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    job_id = store.start_run(next(iter(ids)))["jobId"]
    assert job_id.startswith("job_") and job_id == job_id.lower()


def test_a_file_that_is_not_a_database_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    path.write_bytes(b"this is a text file, not SQLite " * 200)
    with pytest.raises(CorruptDatabase) as caught:
        Store(path)
    assert str(caught.value) == f"the emulator's database: {path}: file is not a database"


def test_a_damaged_database_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    store = Store(path)
    for n in range(1500):
        store.create_workflow({"title": f"workflow {n} " * 10})
    store.close()
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 2000] = b"\xab" * 2000  # a page in the middle, header intact
    path.write_bytes(bytes(data))
    with pytest.raises(
        CorruptDatabase, match=r"^the emulator's database: .*: database disk image is malformed$"
    ):
        Store(path)


def test_the_emulator_command_says_so_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wfsync.cli import main

    path = tmp_path / "emulator.db"
    path.write_bytes(b"\x00garbage" * 512)
    result = CliRunner().invoke(main, ["emulator", "--db", str(path), "--port", "0"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == f"Error: the emulator's database: {path}: file is not a database\n"


def test_a_healthy_file_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    first = Store(path)
    made = first.create_workflow({"title": "kept"})
    first.close()
    assert Store(path).get_workflow(made["id"])["title"] == "kept"  # type: ignore[index]
