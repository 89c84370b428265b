"""Work shared between this process and forked copies of it, for the CPU-bound reading
of many files (``validate``: every file is read, checked and forgotten on its own).

    >>> sizes = share_map(len, ["a", "bb", "ccc"], weights=[1, 2, 3], workers=2)  # doctest: +SKIP
    [1, 2, 3]

A copy made by ``fork`` starts with everything this process has imported and compiled, at
once; its answers come back pickled over a pipe, so ``function`` should give small ones.
Where there is no ``fork`` (Windows), one core, or another thread (a fork copies only the
calling thread, and whatever lock another one held stays held in the copy), or a copy fails
in any way, the work is done here, in order: the answer never depends on how it was shared.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["available_workers", "share_map"]

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_WORKERS = 8


def available_workers() -> int:
    """The cores this process may run on: its affinity, where the system tells it, less
    what a container's CPU quota allows (a CI runner limited to 1 CPU on a 64-core host)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, int(quota)))
    return max(1, min(cores, MAX_WORKERS))


def _cpu_quota(root: str = "/sys/fs/cgroup", listing: str = "/proc/self/cgroup") -> float | None:
    """The CPUs this process's cgroups let it use: the smallest quota over its period of its
    cgroup and every parent's (a systemd slice's ``CPUQuota=``, a container's), or None for
    no limit or none known. cgroup v2's cpu.max, else v1's cfs files."""
    limits = [limit for folder in _cgroup_folders(root, listing) if (limit := _quota_in(folder)) is not None]
    return min(limits, default=None)


def _cgroup_folders(root: str, listing: str) -> list[str]:
    """The folders of this process's cgroup and of each parent up to ``root``, for v2 and
    for v1's cpu controller (from ``listing``, the kernel's /proc/self/cgroup)."""
    paths = {"v2": "", "v1": ""}
    try:
        with open(listing, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if number == "0" and not controllers:
            paths["v2"] = path
        elif "cpu" in controllers.split(","):
            paths["v1"] = path
    folders = []
    for base, path in ((root, paths["v2"]), (f"{root}/cpu", paths["v1"])):
        parts = [part for part in path.split("/") if part and part != ".."]
        folders += ["/".join([base, *parts[:depth]]) for depth in range(len(parts), -1, -1)]
    return folders


def _quota_in(folder: str) -> float | None:
    """The CPU quota set in one cgroup folder, or None."""
    try:
        with open(f"{folder}/cpu.max", encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
    except (OSError, ValueError):
        try:
            with open(f"{folder}/cpu.cfs_quota_us", encoding="ascii") as handle:
                quota = handle.read().strip()
            with open(f"{folder}/cpu.cfs_period_us", encoding="ascii") as handle:
                period = handle.read().strip()
        except OSError:
            return None
    try:
        limit, length = int(quota), int(period)
    except ValueError:  # "max": no limit
        return None
    return limit / length if limit > 0 and length > 0 else None


def share_map(
    function: Callable[[Item], Result], items: Sequence[Item], *, weights: Sequence[int], workers: int
) -> list[Result]:
    """``[function(item) for item in items]``, the items shared by ``weights`` between this
    process and up to ``workers - 1`` forked copies of it."""
    shares = _shares(weights, workers) if _can_fork(workers, len(items)) else []
    if len(shares) < 2:
        return [function(item) for item in items]
    with _children_kept():
        return _shared_out(function, items, shares)


def _shared_out(
    function: Callable[[Item], Result], items: Sequence[Item], shares: list[list[int]]
) -> list[Result]:
    results: dict[int, Result] = {}
    children: list[tuple[int, int, list[int]]] = []  # pid, read end, the share's indexes
    here = list(shares[0])
    try:
        for share in shares[1:]:
            try:
                with _interrupts_held() as mask:  # a copy made is a copy recorded, to be reaped
                    children.append(_start(function, items, share, [child[1] for child in children], mask))
            except OSError:  # no process or pipe to spare (RLIMIT_NPROC, pids.max): done here
                here += share
        for index in here:
            results[index] = function(items[index])
        while children:
            pid, reader, share = children.pop(0)
            answers = _collect(pid, reader, len(share))
            for position, index in enumerate(share):
                # A copy that failed: its share is done here (its error, if the file has one,
                # is met again, and raised or reported as it would have been without sharing).
                results[index] = answers[position] if answers is not None else function(items[index])
    finally:
        for pid, reader, _ in children:
            _end(pid, reader)
    return [results[index] for index in range(len(items))]


@contextlib.contextmanager
def _children_kept() -> Iterator[None]:
    """SIGCHLD back to its default while copies run, if it was ignored (inherited from a CI
    launcher, a daemon): the system would reap each copy itself, its exit status lost and
    its pid free for another process before this one stops it."""
    ignored = (
        hasattr(signal, "SIGCHLD")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    )
    if ignored:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _interrupts_held() -> Iterator[set[int | signal.Signals] | None]:
    """SIGINT and SIGTERM held back (delivered on leaving) while a copy is made and
    recorded: one arriving in between would leave a copy no one reaps. Gives the signal
    mask to go back to (None where there is none to set)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield None
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield before
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _can_fork(workers: int, count: int) -> bool:
    return workers > 1 and count > 1 and hasattr(os, "fork") and threading.active_count() == 1


def _shares(weights: Sequence[int], workers: int) -> list[list[int]]:
    """The indexes of ``weights`` in ``workers`` shares of about equal weight, heaviest
    first into the lightest share, each share in order; empty shares left out."""
    shares: list[list[int]] = [[] for _ in range(min(workers, len(weights)))]
    totals = [0] * len(shares)
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        lightest = totals.index(min(totals))
        shares[lightest].append(index)
        totals[lightest] += max(weights[index], 1)
    return [sorted(share) for share in shares if share]


def _start(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    share: list[int],
    readers: list[int],
    mask: set[int | signal.Signals] | None = None,
) -> tuple[int, int, list[int]]:
    """A copy working on ``share``: its pid, the read end of its answers, the share.
    ``readers``: the read ends of the copies made before, which it must not hold open;
    ``mask``: the signal mask the copy works with (this one's is holding interrupts back)."""
    parent = os.getpid()
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        if os.getpid() != parent:  # the copy, interrupted as it began: never the caller's code
            os._exit(1)
        os.close(reader)
        os.close(writer)
        raise
    if pid == 0:  # the copy: answers, or nothing, and never returns into the caller's code
        code = 1
        try:
            if mask is not None:  # the copy takes interrupts again, as this process had them
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            # Only this process may hold a copy's pipe open: one it stops reading (interrupted)
            # must break that copy's writing, not leave it blocked on a pipe no one reads.
            for held in (reader, *readers):
                os.close(held)
            answers = []
            for index in share:
                if os.getppid() != parent:  # killed: no one to answer, nor to wait for us
                    os._exit(1)
                answers.append(function(items[index]))
            data = pickle.dumps(answers, pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as stream:
                stream.write(data)
            code = 0
        finally:
            os._exit(code)  # no exit handlers, no buffers flushed twice, no traceback printed
    os.close(writer)
    return pid, reader, share


def _collect(pid: int, reader: int, count: int) -> list[Any] | None:
    """The answers of the copy ``pid``, reaped, or None when it gave none it should have."""
    chunks = []
    status: int | None
    try:
        with contextlib.suppress(OSError):
            while chunk := os.read(reader, 1 << 20):
                chunks.append(chunk)
    except BaseException:  # interrupted: its answers will not be read, its share not waited for
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(reader)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by the system all the same (SIGCHLD ignored in a
            status = None  # way _children_kept cannot undo): its status unknown
    # Without a status, the answers tell: a copy writes them whole, or a truncated pickle.
    if status is not None and os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        answers = pickle.loads(b"".join(chunks))  # our own copy's, over our own pipe
    except Exception:
        return None
    return answers if isinstance(answers, list) and len(answers) == count else None


def _end(pid: int, reader: int) -> None:
    """Stop and reap a copy whose answers are not wanted (this process was interrupted)."""
    with contextlib.suppress(OSError):
        os.close(reader)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
