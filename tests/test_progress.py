"""The apply progress view: one line per finished change (ids and job ids kept), a live bar
below them on a terminal, plain lines in a log; its counts are the summary's."""

from __future__ import annotations

import io
import re

from tests.terminal import Terminal, python
from wfsync.apply import ApplyReport, Outcome
from wfsync.plan import Create, Delete, ScheduleRun, Update
from wfsync.progress import Event, Progress, change_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def screen(raw: str) -> list[str]:
    """What a terminal shows for ``raw``: carriage returns and erased lines applied."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        line = line.split("\x1b[2K")[-1].split("\r")[-1]
        lines.append(line)
    return lines


CREATED = Event("create", "Lead follow-up", "65f0aa", "done", "id 65f0aa")
SCHEDULED = Event(
    "schedule", "Lead follow-up", "65f0aa", "done", "job job_123", "2027-07-01T09:00:00.000Z", "GMT_plus_1"
)
FAILED = Event("delete", "Old survey", "65f0bb", "failed", "500 Internal Server Error")
SKIPPED = Event(
    "schedule", "New one", None, "skipped", "its workflow was not created", "2027-01-01T00:00:00Z"
)


def test_each_change_line_keeps_what_a_user_needs_next() -> None:
    assert change_line(CREATED) == 'created "Lead follow-up": id 65f0aa'
    assert change_line(SCHEDULED) == (
        'scheduled "Lead follow-up" at 2027-07-01T09:00:00.000Z (GMT_plus_1): job job_123'
    )
    assert change_line(FAILED) == 'FAILED delete "Old survey": 500 Internal Server Error'
    assert change_line(Event("update", "Ünïcode", "x", "done")) == 'updated "Ünïcode"'


def test_in_a_log_each_change_is_one_line_and_nothing_is_redrawn() -> None:
    out = io.StringIO()
    view = Progress(4, out, tty=False)
    for event in (CREATED, SCHEDULED, FAILED, SKIPPED):
        view.add(event)
    view.close()
    assert out.getvalue().splitlines() == [change_line(e) for e in (CREATED, SCHEDULED, FAILED, SKIPPED)]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_on_a_terminal_the_lines_stay_above_one_live_bar() -> None:
    out, clock = io.StringIO(), Clock()
    view = Progress(4, out, tty=True, clock=clock, columns=120)
    clock.now += 2.0
    view.add(CREATED)
    assert screen(out.getvalue()) == [
        change_line(CREATED),
        "creating and updating [######------------------] 1/4  0.5/s  ETA 6s",
    ]
    clock.now += 2.0
    view.add(FAILED)
    view.add(SKIPPED)
    clock.now += 2.0
    view.add(SCHEDULED)
    view.close()
    assert screen(out.getvalue()) == [
        change_line(CREATED),
        change_line(FAILED),
        change_line(SKIPPED),
        change_line(SCHEDULED),
        "scheduling [########################] 4/4, 1 failed, 1 skipped  0.7/s",
        "",
    ]


def test_refresh_draws_the_bar_before_anything_finishes_and_moves_the_eta() -> None:
    out, clock = io.StringIO(), Clock()
    view = Progress(3, out, tty=True, clock=clock, columns=120)
    view.refresh()
    assert screen(out.getvalue()) == ["applying [------------------------] 0/3"]
    clock.now += 1.0
    view.add(CREATED)
    clock.now += 3.0
    view.refresh()
    assert screen(out.getvalue())[-1].endswith("1/3  0.2/s  ETA 8s")
    log = io.StringIO()
    Progress(3, log, tty=False).refresh()
    assert log.getvalue() == ""


def test_the_bar_fits_the_terminal() -> None:
    out = io.StringIO()
    view = Progress(10, out, tty=True, columns=40)
    view.add(CREATED)
    assert all(len(line) < 40 for line in screen(out.getvalue())[1:])


def test_colour_marks_failures_and_skips_only_when_asked() -> None:
    out = io.StringIO()
    Progress(2, out, tty=False, color=True).add(FAILED)
    assert out.getvalue() == f"\x1b[31m{change_line(FAILED)}\x1b[0m\n"
    out = io.StringIO()
    Progress(2, out, tty=False, color=True).add(CREATED)
    assert out.getvalue() == change_line(CREATED) + "\n"


def test_the_counts_agree_with_the_apply_report() -> None:
    outcomes = [
        Outcome(Create("A"), "done", "id 1", "1"),
        Outcome(Update("B", "2"), "failed", "500", "2"),
        Outcome(ScheduleRun("C", None, "2027-01-01T00:00:00Z"), "skipped", "its workflow was not created"),
        Outcome(Delete("D", "4"), "skipped", "apply was interrupted before it", "4"),
        Outcome(Delete("E", "5"), "done", "", "5"),
    ]
    out = io.StringIO()
    view = Progress(len(outcomes), out, tty=True, columns=200)
    for outcome in outcomes:
        view.report(outcome)
    view.close()
    counts = ApplyReport(outcomes).counts
    assert view.counts == {"done": 2, "failed": counts["failed"], "skipped": counts["skipped"]}
    assert (
        screen(out.getvalue())[-2].startswith("deleting [") and "5/5, 1 failed, 2 skipped" in out.getvalue()
    )
    assert 'created "A": id 1' in out.getvalue() and 'SKIPPED delete "D"' in out.getvalue()


# A real apply of 300 creates against the emulator, on a terminal (argv[1]: latency).
APPLY_300 = """
import asyncio, signal, sys
from wfsync.api import ApiClient
from wfsync.apply import apply_plan
from wfsync.emulator import DEV_KEY, EmulatorConfig, JobTiming
from wfsync.emulator.config import parse_faults
from wfsync.emulator.server import EmulatorServer
from wfsync.plan import Create, Plan
from wfsync.progress import Progress

plan = Plan(changes=tuple(
    Create(f"Campaign {n:03d}", body={"title": f"Campaign {n:03d}", "callbackUrl": f"https://crm.example.com/{n}"})
    for n in range(300)
))

async def main(url):
    view = Progress(len(plan.changes), sys.stdout, tty=sys.stdout.isatty())
    async with ApiClient.connect(url, DEV_KEY) as api:
        report = await apply_plan(api, plan, parallelism=10, report=view.report, stop_on=(signal.SIGINT,))
    view.close()
    print(report.summary_line())

timing = JobTiming(queue_seconds=0.05, run_seconds=0.15)
config = EmulatorConfig(timing=timing, faults=parse_faults(sys.argv[1:]))
with EmulatorServer(config) as server:
    asyncio.run(main(server.url))
"""


def test_a_300_change_apply_at_a_terminal_keeps_every_line_and_ends_with_the_bar() -> None:
    with Terminal(python(APPLY_300), columns=100) as term:
        term.expect("Apply complete")
        assert term.wait() == 0
    shown = [line for line in screen(term.text) if line]
    created = [line for line in shown if line.startswith('created "Campaign ')]
    assert len(created) == 300 and len(set(created)) == 300
    assert all(re.fullmatch(r'created "Campaign \d{3}": id \w+', line) for line in created)
    # A rate once the apply has run STEADY_SECONDS; the 300 creates may take less.
    assert re.fullmatch(r"creating and updating \[#{24}\] 300/300(  [\d,.]+/s)?", shown[-2])
    assert shown[-1].startswith("Apply complete: 300 created")
    assert "\x1b[2K" in term.text  # the bar was redrawn in place, not printed 300 times


def test_an_interrupted_apply_ends_with_a_bar_that_says_what_the_summary_says() -> None:
    with Terminal([*python(APPLY_300), "latency=20ms"], columns=120) as term:
        term.expect("/300")  # the bar is up: changes are being made
        term.send("\x03")
        term.expect("Apply finished with failures")
        assert term.wait() == 0
    shown = [line for line in screen(term.text) if line]
    bar, summary = shown[-2], shown[-1]
    finished = re.search(r"\] (\d+)/300, (\d+) skipped", bar)
    assert finished, bar
    assert finished[1] == "300"
    created = len([line for line in shown if line.startswith('created "Campaign ')])
    skipped = len([line for line in shown if line.startswith('SKIPPED create "Campaign ')])
    assert 0 < created < 300 and created + skipped == 300
    assert int(finished[2]) == skipped
    assert summary.startswith(f"Apply finished with failures: {created} created,")
    assert summary.endswith(f"0 failed, {skipped} skipped.")


class Writes(io.StringIO):
    """A stream that keeps each write apart (what a pipe or a terminal is sent, and when)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_in_a_loop_the_lines_of_one_turn_are_one_write_made_when_the_turn_ends() -> None:
    import asyncio

    out = Writes()
    view = Progress(4, out, tty=True, columns=120)

    async def main() -> list[str]:
        view.add(CREATED)
        view.add(SCHEDULED)
        assert out.writes == []  # not yet: more may finish in this turn
        await asyncio.sleep(0)  # the turn ends: both lines go out together, the bar below
        seen = list(out.writes)
        view.add(FAILED)
        await asyncio.sleep(0)
        return seen

    seen = asyncio.run(main())
    assert len(seen) == 1
    assert screen(seen[0])[:2] == [change_line(CREATED), change_line(SCHEDULED)]
    assert len(out.writes) == 2 and change_line(FAILED) in out.writes[1]


def test_lines_waiting_for_the_turn_to_end_are_written_by_close_as_on_ctrl_c() -> None:
    import asyncio

    out = Writes()
    view = Progress(2, out, tty=False)

    async def interrupted() -> str:
        try:
            view.add(CREATED)
            raise KeyboardInterrupt
        finally:
            view.close()  # as the apply's view is, in a finally: the loop may never turn again
            written = out.getvalue()
        return written

    async def main() -> str:
        try:
            return await interrupted()
        except KeyboardInterrupt:
            return out.getvalue()  # still in the same turn

    assert asyncio.run(main()) == change_line(CREATED) + "\n"


def test_without_a_loop_each_line_is_written_at_once() -> None:
    out = Writes()
    Progress(2, out, tty=False).add(CREATED)
    assert out.writes == [change_line(CREATED) + "\n"]


def test_what_the_apply_says_in_the_same_turn_comes_after_the_lines_before_it() -> None:
    import asyncio

    from wfsync.cli.sync import _View

    out = Writes()
    view = _View(out, False, "", tty=False)

    async def main() -> None:
        view.progress.add(CREATED)
        view.say("verify: first\nverify: second\n")  # no turn in between

    asyncio.run(main())
    assert out.getvalue().splitlines() == [change_line(CREATED), "verify: first", "verify: second"]
