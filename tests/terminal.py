"""A real terminal for tests: a child process on a pseudo-terminal, read until a text shows.

The child has the pty as its controlling terminal, so writing ``\\x03`` is a real Ctrl-C
(the line discipline sends SIGINT to its foreground process group), exactly as at a
keyboard. Reads wait for text, never for time.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import sys
import time
from collections.abc import Mapping, Sequence

__all__ = ["Terminal", "python"]

PATIENCE = 30.0  # seconds a test waits for an expected text before failing


class Terminal:
    """``argv`` running on a fresh pty of ``columns`` x 24.

    >>> with Terminal([sys.executable, "-c", "input('? ')"]) as term:  # doctest: +SKIP
    ...     term.expect("? "); term.send("\\x03"); term.wait()
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        columns: int = 100,
    ) -> None:
        import fcntl
        import struct
        import termios

        pid, fd = pty.fork()
        if pid == 0:  # the child: exec at once, nothing else
            try:
                if cwd:
                    os.chdir(cwd)
                os.execve(argv[0], list(argv), dict(os.environ if env is None else env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self.output = b""
        self.status: int | None = None

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting until ``deadline``); False at the end of output."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def expect(self, text: str, *, after: int = 0) -> int:
        """Wait until ``text`` shows (past offset ``after``); its end offset in the output."""
        deadline = time.monotonic() + PATIENCE
        needle = text.encode()
        while (found := self.output.find(needle, after)) < 0:
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"{text!r} never showed; the terminal shows:\n{self.text}")
        return found + len(needle)

    def wait(self) -> int:
        """Read to the end of output and return the exit status."""
        deadline = time.monotonic() + PATIENCE
        while self._read(deadline):
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not end; the terminal shows:\n{self.text}")
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        return self.status


def python(code: str) -> list[str]:
    """The argv that runs ``code`` with this interpreter."""
    return [sys.executable, "-c", code]
