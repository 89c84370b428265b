"""Asking before changing anything: ``[y/N]``, or ``yes`` typed out for a risky plan.

One Ctrl-C at the prompt aborts at once with :class:`Interrupted` (exit status 130, what a
shell expects after SIGINT). The terminal must be read where SIGINT arrives:

- :func:`confirm` from plain code, *outside* any event loop (between two ``asyncio.run``
  calls). Inside a running loop it refuses: ``asyncio.run`` turns the first SIGINT into a
  cancellation of its task, so a blocked read would swallow the Ctrl-C (shown as ``^C``,
  the next typing going to the prompt);
- :func:`confirm_async` from inside the loop: it reads the terminal with ``add_reader``
  (no thread, so nothing is left blocked on stdin) and takes SIGINT itself while it asks.

    >>> counts = {"create": 1, "update": 0, "cancel": 0, "schedule": 0, "delete": 2}
    >>> needs_typed_yes(counts)
    True
    >>> confirm(apply_question(3, "https://api.indigenius.ai"), typed=True, out=sys.stderr)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

import click

from wfsync.cli.app import count

__all__ = [
    "HANDFUL",
    "SHOWN_DELETES",
    "Interrupted",
    "apply_question",
    "confirm",
    "confirm_async",
    "deletion_text",
    "needs_typed_yes",
]

# Terraform's rule, with a margin for small everyday plans: more changes than this (or any
# delete) must be approved with `yes` typed out, not a reflexive `y`.
HANDFUL = 5
# A deletion notice names this many titles, then says how many more.
SHOWN_DELETES = 10
TYPED_HINT = "Only 'yes' will be accepted to approve."


class Interrupted(click.ClickException):
    """Ctrl-C (or SIGINT) at a prompt: nothing was changed; exit status 130 (128 + SIGINT)."""

    exit_code = 130

    def __init__(self, message: str = "interrupted: nothing was changed") -> None:
        super().__init__(message)


def needs_typed_yes(counts: Mapping[str, int]) -> bool:
    """Whether a plan with these counts per action must be approved with ``yes`` typed out."""
    return counts.get("delete", 0) > 0 or sum(counts.values()) > HANDFUL


def apply_question(changes: int, target: str) -> str:
    """The question before an apply: ``Apply 1 change to https://…?``."""
    return f"Apply {count(changes, 'change')} to {target}?"


def deletion_text(deleted: Sequence[tuple[str, str | None]]) -> str:
    """What a plan deletes, said before asking: each ``(title, id)``, the first few by name."""
    if not deleted:
        return ""
    their = "its" if len(deleted) == 1 else "their"
    lines = [f"This deletes {count(len(deleted), 'live workflow')} with {their} pending runs:"]
    for title, workflow_id in deleted[:SHOWN_DELETES]:
        lines.append(f"  - {title!r}" + (f" (id {workflow_id})" if workflow_id else ""))
    if len(deleted) > SHOWN_DELETES:
        lines.append(f"  … and {len(deleted) - SHOWN_DELETES:,} more (listed in the plan above)")
    return "\n".join(lines)


def _ask(question: str, typed: bool) -> str:
    if typed:
        return f"{question}\n  {TYPED_HINT}\n  Enter a value: "
    return f"{question} [y/N]: "


def _approves(answer: str, typed: bool) -> bool:
    answer = answer.strip()
    # Anything else is a no: a typo must never count as approval.
    return answer == "yes" if typed else answer.casefold() in ("y", "yes")


def confirm(question: str, *, typed: bool, out: IO[str], stdin: IO[str] | None = None) -> bool:
    """Ask on ``out``, read one line; True only for ``y``/``yes`` (``yes`` when ``typed``).

    End of input is a no. Ctrl-C raises :class:`Interrupted`. Call it outside any running
    event loop, in the main thread (see the module docstring; else :func:`confirm_async`).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("confirm() blocks its event loop and loses Ctrl-C there: await confirm_async()")
    stdin = sys.stdin if stdin is None else stdin
    try:  # a Ctrl-C as soon as the question shows lands before readline: inside the try
        out.write(_ask(question, typed))
        out.flush()
        line = stdin.readline()
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()
        raise Interrupted() from None
    if not line:  # end of input (Ctrl-D): the line was never finished
        out.write("\n")
    return _approves(line, typed)


async def confirm_async(question: str, *, typed: bool, out: IO[str], stdin: IO[str] | None = None) -> bool:
    """:func:`confirm` for code inside the event loop (Unix): Ctrl-C aborts at once too."""
    loop = asyncio.get_running_loop()
    stdin = sys.stdin if stdin is None else stdin
    fd = stdin.fileno()
    answer: asyncio.Future[str | None] = loop.create_future()
    pending = bytearray()

    def readable() -> None:
        chunk = os.read(fd, 4096)
        pending.extend(chunk)
        if (not chunk or b"\n" in chunk) and not answer.done():
            first = bytes(pending).split(b"\n", 1)[0]  # a paste of several lines: the first answers
            answer.set_result(first.decode(errors="replace") if chunk or pending else None)

    def interrupted() -> None:
        if not answer.done():
            answer.set_exception(Interrupted())

    previous: Any = signal.getsignal(signal.SIGINT)
    loop.add_reader(fd, readable)
    loop.add_signal_handler(signal.SIGINT, interrupted)
    try:  # the question shows only once a Ctrl-C is ours to take
        out.write(_ask(question, typed))
        out.flush()
        line = await answer
    except Interrupted:
        out.write("\n")
        out.flush()
        raise
    finally:
        loop.remove_reader(fd)
        loop.remove_signal_handler(signal.SIGINT)
        # remove_signal_handler leaves Python's default handler; asyncio.run had its own.
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if line is None:
        out.write("\n")
        return False
    return _approves(line, typed)
