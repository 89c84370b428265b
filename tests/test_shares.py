"""Work shared with forked copies (wfsync.shares): the same answers, in order, however the
work was shared and whatever became of a copy; and validate's answer the same shared or not."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfsync import definitions, shares
from wfsync.cli import main
from wfsync.definitions import DefinitionError, check_definitions, load_definitions

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")


@pytest.fixture(autouse=True)
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The copies started. A test process may run other threads (a server another test
    module started): share_map would then never fork. The copies made here run only this
    module's functions and wfsync's loading, which take no lock such a thread holds."""
    monkeypatch.setattr(shares.threading, "active_count", lambda: 1)
    started: list[int] = []
    start = shares._start

    def counted(*args: object) -> object:
        answer = start(*args)  # type: ignore[arg-type]
        started.append(answer[0])
        return answer

    monkeypatch.setattr(shares, "_start", counted)
    return started


SECRET = "s3cr3t-shared-9f1c-never-printed"


def where(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def test_the_answers_are_in_order_and_some_come_from_a_copy() -> None:
    items = list(range(40))
    answers = shares.share_map(where, items, weights=[1] * 40, workers=3)
    assert [square for square, _ in answers] == [item * item for item in items]
    pids = {pid for _, pid in answers}
    assert os.getpid() in pids
    assert len(pids) == 3  # this process and two copies each did a share


def test_one_worker_or_one_item_is_done_here() -> None:
    assert {pid for _, pid in shares.share_map(where, [1, 2, 3], weights=[1, 1, 1], workers=1)} == {
        os.getpid()
    }
    assert shares.share_map(where, [5], weights=[1], workers=4) == [(25, os.getpid())]
    assert shares.share_map(where, [], weights=[], workers=4) == []


def test_another_thread_keeps_the_work_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies only the calling thread: with another one running, never fork."""
    monkeypatch.setattr(shares.threading, "active_count", lambda: 2)  # the fixture's undone
    answers = shares.share_map(where, list(range(10)), weights=[1] * 10, workers=4)
    assert {pid for _, pid in answers} == {os.getpid()}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
)
def test_a_containers_cpu_quota_is_read(
    tmp_path: Path, files: dict[str, str], expected: float | None
) -> None:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="ascii")
    assert shares._cpu_quota(str(root), str(tmp_path / "no-listing")) == expected


@pytest.mark.parametrize(
    ("listing", "files", "expected"),
    [
        # A systemd slice's CPUQuota=, set on a parent of the process's own cgroup (v2).
        ("0::/ci.slice/runner.service\n", {"ci.slice/cpu.max": "100000 100000\n"}, 1.0),
        # The tightest of the cgroup's and its parents'.
        (
            "0::/a/b\n",
            {"a/cpu.max": "300000 100000\n", "a/b/cpu.max": "200000 100000\n", "cpu.max": "max 100000"},
            2.0,
        ),
        # cgroup v1: the cpu controller's hierarchy, found by its name among others.
        (
            "12:memory:/x\n4:cpu,cpuacct:/docker/abc\n",
            {"cpu/docker/cpu.cfs_quota_us": "50000\n", "cpu/docker/cpu.cfs_period_us": "100000\n"},
            0.5,
        ),
        # A path that tries to climb out of the hierarchy stays in it.
        ("0::/../../etc\n", {"cpu.max": "100000 100000\n"}, 1.0),
        ("garbage\n", {}, None),
    ],
)
def test_the_quota_of_a_parent_cgroup_counts(
    tmp_path: Path, listing: str, files: dict[str, str], expected: float | None
) -> None:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="ascii")
    (tmp_path / "listing").write_text(listing, encoding="utf-8")
    assert shares._cpu_quota(str(root), str(tmp_path / "listing")) == expected


def test_the_workers_are_the_cores_less_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shares.os, "sched_getaffinity", lambda _: set(range(64)), raising=False)
    monkeypatch.setattr(shares, "_cpu_quota", lambda: 1.5)
    assert shares.available_workers() == 1
    monkeypatch.setattr(shares, "_cpu_quota", lambda: None)
    assert shares.available_workers() == shares.MAX_WORKERS
    monkeypatch.setattr(shares, "_cpu_quota", lambda: 3.0)
    assert shares.available_workers() == 3


def test_shares_are_balanced_by_weight() -> None:
    split = shares._shares([100, 1, 1, 1, 97, 2], 2)
    assert sorted(index for share in split for index in share) == list(range(6))
    weights = [100, 1, 1, 1, 97, 2]
    totals = sorted(sum(weights[index] for index in share) for share in split)
    assert totals == [101, 101]
    assert all(share == sorted(share) for share in split)
    assert shares._shares([5, 5], 8) == [[0], [1]]  # never an empty share


def fails_in_a_copy(parent: int) -> object:
    def answer(item: int) -> tuple[int, int]:
        if os.getpid() != parent:
            if item % 2:
                os._exit(3)  # the copy dies without an answer
            raise RuntimeError("a copy's own failure")
        return item * 10, os.getpid()

    return answer


def test_a_copy_that_fails_has_its_share_done_here() -> None:
    answers = shares.share_map(fails_in_a_copy(os.getpid()), list(range(12)), weights=[1] * 12, workers=4)  # type: ignore[arg-type]
    assert answers == [(item * 10, os.getpid()) for item in range(12)]


def test_an_answer_that_cannot_cross_the_pipe_is_done_here() -> None:
    parent = os.getpid()

    def answer(item: int) -> object:
        return item if os.getpid() == parent else (lambda: item)  # a lambda does not pickle

    assert shares.share_map(answer, list(range(6)), weights=[1] * 6, workers=2) == list(range(6))


def test_an_error_here_stops_and_reaps_every_copy(forks: list[int]) -> None:
    """Interrupted (an error in this process's share) while its copies still work, none
    is left running or a zombie."""
    parent = os.getpid()

    def slow(item: int) -> int:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        os.read(os.pipe()[0], 1)  # blocks for good: a copy still working
        return item

    with pytest.raises(KeyboardInterrupt):
        shares.share_map(slow, list(range(4)), weights=[1] * 4, workers=4)
    assert len(forks) == 3
    for pid in forks:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already: no child of ours by that pid


# --- validate, shared or not ---------------------------------------------------------

FILE = """\
workflows:
  - title: Campaign {n} follow-up
    callbackUrl: https://client{n}.example.com/hooks
    webhook: {{url: "https://client{n}.example.com/${{HOOK_TOKEN}}/{n}"}}
  - title: campaign {n} FOLLOW-UP
    lifecycle: {{formerTitles: [Old campaign {n}]}}
"""


@pytest.fixture
def many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Twelve files, some with problems of their own and across files, every one shared."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    for n in range(12):
        (folder / f"team-{n:02d}.yaml").write_text(FILE.format(n=n), encoding="utf-8")
    (folder / "team-03.yaml").write_text(FILE.format(n=3).replace("https://client3", "ftp://client3"))
    (folder / "team-07.yaml").write_text(FILE.format(n=2))  # titles of team-02's again
    (folder / "team-09.yaml").write_text("workflows: [\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(definitions, "SHARED_BYTES", 0)
    return folder


def outcome(folder: Path, workers: int) -> tuple[list[str], set[str]]:
    references: set[str] = set()
    with pytest.raises(DefinitionError) as raised:
        check_definitions([folder], {}, require_env=False, references=references, workers=workers)
    return [str(problem) for problem in raised.value.problems], references


def test_checking_shared_finds_what_loading_finds(many: Path, forks: list[int]) -> None:
    with pytest.raises(DefinitionError) as loaded:
        load_definitions([many], {}, require_env=False)
    expected = [str(problem) for problem in loaded.value.problems]
    assert any("team-03.yaml" in p for p in expected) and any("defined twice" in p for p in expected)
    assert any("team-09.yaml" in p for p in expected)
    for workers in (1, 2, 3, 5):
        assert outcome(many, workers) == (expected, {"HOOK_TOKEN"})
    assert len(forks) == 1 + 2 + 4


def test_validate_says_the_same_shared_or_not(
    many: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    def run(workers: int, *args: str) -> tuple[int, str]:
        monkeypatch.setattr(shares, "available_workers", lambda: workers)
        result = CliRunner().invoke(
            main, ["validate", str(many), *args], env={"WFSYNC_CACHE": "off"}, catch_exceptions=False
        )
        return result.exit_code, result.output

    alone = run(1, "--format", "json")
    assert alone[0] == 1 and len(json.loads(alone[1].split("\n}\n")[0] + "}")["problems"]) > 3
    assert run(2, "--format", "json") == alone
    assert run(4) == run(1)
    (many / "team-03.yaml").write_text(FILE.format(n=3), encoding="utf-8")
    (many / "team-07.yaml").write_text(FILE.format(n=7), encoding="utf-8")
    (many / "team-09.yaml").write_text(FILE.format(n=9), encoding="utf-8")
    valid = run(1, "--format", "json")
    assert valid[0] == 0 and len(json.loads(valid[1])["warnings"]) == 12  # a case clash a file
    assert run(3, "--format", "json") == valid
    assert run(3) == run(1)
    assert "24 workflows in 12 files: valid" in run(3)[1]
    assert forks  # the answers compared were shared


def test_a_secret_a_copy_read_is_masked(
    many: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    """The names of the secrets each copy's files refer to come back, so their values are
    masked in what this process prints (here a title made of one)."""
    for n in range(12):
        (many / f"team-{n:02d}.yaml").write_text(FILE.format(n=n), encoding="utf-8")
    (many / "team-11.yaml").write_text(
        FILE.format(n=11)
        + f"  - title: {SECRET}\n    webhook: {{url: 'https://h.example.com/${{CLIENT_SLUG}}'}}\n"
        + f"  - title: {SECRET.upper()}\n"
    )
    monkeypatch.setattr(shares, "available_workers", lambda: 3)
    result = CliRunner().invoke(
        main,
        ["validate", str(many), "--require-env", "--format", "json"],
        env={"WFSYNC_CACHE": "off", "HOOK_TOKEN": "x", "CLIENT_SLUG": SECRET},
        catch_exceptions=False,
    )
    warnings = json.loads(result.stdout)["warnings"]
    assert [w["file"] for w in warnings if SECRET.upper() in w["message"]] == [str(many / "team-11.yaml")]
    assert SECRET not in result.output
    assert len(forks) == 2


def test_copies_reaped_by_the_system_still_answer() -> None:
    """With SIGCHLD ignored (inherited from a CI launcher, a daemon), the copies' answers
    still count: validate once failed here with "No child processes", the system having
    reaped each copy itself. (SIGCHLD is now put back to its default meanwhile, below; an
    ECHILD still left, the answers, written whole or not at all, tell.)"""
    former = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        answers = shares.share_map(where, list(range(20)), weights=[1] * 20, workers=3)
    finally:
        signal.signal(signal.SIGCHLD, former)
    assert [square for square, _ in answers] == [item * item for item in range(20)]
    assert len({pid for _, pid in answers}) == 3


def test_while_copies_run_the_system_does_not_reap_them() -> None:
    """SIGCHLD ignored: put back to its default while copies run, so that this process reaps
    them (their exit status seen, their pids never reused before it stops them), and ignored
    again after."""
    parent, seen = os.getpid(), []

    def handler_here(item: int) -> int:
        if os.getpid() == parent:
            seen.append(signal.getsignal(signal.SIGCHLD))
        return item

    former = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert shares.share_map(handler_here, list(range(6)), weights=[1] * 6, workers=2) == list(range(6))
        assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGCHLD, former)
    assert seen and set(seen) == {signal.SIG_DFL}


def test_a_fork_refused_has_its_share_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process to spare (RLIMIT_NPROC, a cgroup's pids.max): fork fails with EAGAIN, and
    the work is done here, not "Error: Resource temporarily unavailable"."""

    def refused() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    monkeypatch.setattr(shares.os, "fork", refused)
    answers = shares.share_map(where, list(range(10)), weights=[1] * 10, workers=4)
    assert answers == [(item * item, os.getpid()) for item in range(10)]
    if before is not None:  # no pipe left open for a copy never made
        assert len(os.listdir("/proc/self/fd")) == before


ORPHAN = """
import os, signal, sys
from wfsync import shares
log, gate = sys.argv[1], sys.argv[2]
parent = os.getpid()

def work(item):
    if os.getpid() == parent:
        signal.pause()  # this process is killed while at its own share
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()} {item}\\n")
    if item == 1:  # the copy's first item: held until the test has killed this process
        with open(gate, "rb") as held:
            held.read()
    return item

shares.share_map(work, [0, 1, 2, 3], weights=[1, 1, 1, 1], workers=2)
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd to wait on a copy")
def test_a_copy_stops_when_this_process_is_killed(tmp_path: Path) -> None:
    """Killed (a CI timeout's SIGTERM, SIGKILL), this process leaves no copy working on
    for no one, holding the output open: a copy whose parent is gone stops at its next item."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    os.mkfifo(gate)
    process = subprocess.Popen([sys.executable, "-c", ORPHAN, str(log), str(gate)])
    try:
        writer = os.open(gate, os.O_WRONLY)  # returns once the copy waits at its item 1
        copy = int(log.read_text(encoding="utf-8").split()[0])
        process.kill()
        process.wait()
        watch = os.pidfd_open(copy)
        os.close(writer)  # the copy goes on, its parent gone
        assert select.select([watch], [], [], 60)[0], "the copy never ended"
        os.close(watch)
    finally:
        process.kill()
        process.wait()
    assert log.read_text(encoding="utf-8").split() == [str(copy), "1"]  # never item 3


INTERRUPTED = """
import os, sys
from wfsync import shares
read = os.read

def interrupted(*args):
    os.read = read
    raise KeyboardInterrupt  # as a SIGINT sent to this process alone would, in its read

os.read = interrupted
try:
    shares.share_map(lambda item: "x" * 300_000, list(range(6)), weights=[1] * 6, workers=3)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_an_interrupt_while_reading_a_copy_never_hangs() -> None:
    """Interrupted while reading the first copy (a SIGINT to this process alone), this
    process waits for that copy: it must end even with its answers larger than a pipe holds,
    though a later copy, which holds the same pipe open, neither reads it nor ends."""
    out = output_unless_hung(INTERRUPTED, "hung: the first copy blocked on a pipe a later copy holds open")
    assert out == "interrupted\n"


def output_unless_hung(script: str, hung: str) -> str:
    """What ``script`` prints, run in a session of its own; the test fails with ``hung``
    (its processes all killed) if it has not ended within a minute."""
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, _ = process.communicate(timeout=60)  # a bound on a failure, not a wait for success
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(hung)
    return out


ESCAPED = """
import os
from wfsync import shares
parent, fork = os.getpid(), os.fork

def interrupted_copy():
    pid = fork()
    if pid == 0:
        raise KeyboardInterrupt  # a Ctrl-C that reaches the copy as it begins
    return pid

os.fork = interrupted_copy
try:
    print(shares.share_map(lambda item: item * 2, [1, 2, 3, 4], weights=[1] * 4, workers=2))
except KeyboardInterrupt:
    print("escaped into the caller in", "a copy" if os.getpid() != parent else "this process")
"""


def test_a_copy_interrupted_as_it_begins_never_runs_the_callers_code() -> None:
    """A copy must never return into the code that called share_map (a second "Aborted!",
    buffers flushed twice, an exit handler run twice), however early it is interrupted."""
    done = subprocess.run([sys.executable, "-c", ESCAPED], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[2, 4, 6, 8]\n"


STUCK = """
import os, signal
from wfsync import shares
parent, read = os.getpid(), os.read

def interrupted(*args):
    os.read = read
    raise KeyboardInterrupt  # a SIGINT to this process alone, as it waits for a copy

def work(item):
    if os.getpid() != parent:
        signal.pause()  # a copy with a long share still to go
    return item

os.read = interrupted
try:
    shares.share_map(work, [1, 2], weights=[1, 1], workers=2)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_an_interrupt_while_waiting_for_a_copy_ends_it() -> None:
    """Interrupted while waiting for a copy's answers, this process stops that copy too,
    rather than waiting for it to finish a share whose answers no one will read."""
    assert output_unless_hung(STUCK, "hung: waited for the copy to finish its share") == "interrupted\n"


PIPES = """
import os
from wfsync import shares

def pipes():
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found

before, parent = pipes(), os.getpid()
answers = shares.share_map(lambda _: (os.getpid(), pipes()), list(range(8)), weights=[1] * 8, workers=4)
print(sorted(len(held - before) for pid, held in set((p, frozenset(h)) for p, h in answers) if pid != parent))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc to list a copy's pipes")
def test_a_copy_holds_no_other_copys_pipe() -> None:
    """Each copy holds its own pipe's write end and no other copy's read end: were one
    held, a copy this process stopped reading could block on it for good, not break.
    (In a process of its own: another thread of this one opens pipes meanwhile.)"""
    done = subprocess.run([sys.executable, "-c", PIPES], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[1, 1, 1]\n", done.stderr


INTERRUPTED_AS_MADE = """
import os, select, signal
from wfsync import shares
parent, made, fork = os.getpid(), [], os.fork

def fork_then_interrupted():
    pid = fork()
    if pid and os.getpid() == parent:
        made.append(pid)
        os.kill(parent, signal.SIGINT)  # delivered here at once, unless held back
    return pid

def blocked(item):
    select.select([os.pipe()[0]], [], [], 60)  # every copy still working when it lands
    return item

os.fork = fork_then_interrupted
try:
    shares.share_map(blocked, [1, 2, 3, 4], weights=[1] * 4, workers=2)
except KeyboardInterrupt:
    try:
        os.waitpid(made[0], os.WNOHANG)
        print("left behind")
    except ChildProcessError:
        print("reaped")
"""


def test_an_interrupt_as_a_copy_is_made_still_has_it_reaped() -> None:
    """A SIGINT arriving just as fork returns here, before the copy is recorded: held back
    until it is, so the copy is still stopped and reaped, never left behind. (In a process
    of its own, with no other thread: a signal sent to a process goes to a thread that
    does not hold it back, and share_map forks only where there is none.)"""
    assert output_unless_hung(INTERRUPTED_AS_MADE, "hung: a copy left behind") == "reaped\n"
