"""Serving the emulator: in the foreground for ``wfsync emulator``, or on a background
thread for tests and ``--sandbox``, always over real loopback HTTP.

    >>> with EmulatorServer() as server:
    ...     server.url
    'http://127.0.0.1:...'
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self

from wfsync.emulator.app import create_app
from wfsync.emulator.config import EmulatorConfig
from wfsync.emulator.store import Store
from wfsync.errors import ConfigError

__all__ = ["AppServer", "EmulatorServer", "bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a ConfigError that says why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(app: Any, log_level: str, on_stop: Callable[[], None] | None = None) -> Any:
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises a captured SIGTERM/SIGINT as it leaves this block, and a
            # SIGTERM then ends the process at once: clean up (close the database, so no
            # -wal/-shm files stay) before that.
            with super().capture_signals():
                try:
                    yield
                finally:
                    if on_stop is not None:
                        on_stop()

    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        timeout_keep_alive=30,
        backlog=2048,
    )
    return Server(config)


def serve(
    app: Any, sock: socket.socket, log_level: str = "warning", on_stop: Callable[[], None] | None = None
) -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C or SIGTERM); then ``on_stop()``."""
    _uvicorn_server(app, log_level, on_stop).run(sockets=[sock])


class AppServer:
    """Any ASGI app served on a free loopback port for as long as the ``with`` block lasts."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._sock = bind(host, port)
        name = self._sock.getsockname()
        self.url = f"http://{name[0] if ':' not in name[0] else f'[{name[0]}]'}:{name[1]}"
        self._server = _uvicorn_server(self.app, "warning")
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="wfsync-server", daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("the embedded server did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmulatorServer(AppServer):
    """A running emulator on a free loopback port, for as long as the ``with`` block lasts."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        db: str | os.PathLike[str] = ":memory:",
        store: Store | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or EmulatorConfig()
        self._owns_store = store is None  # a store it made is closed when it stops
        self.store = store or Store(
            db, seed=self.config.seed, timing=self.config.timing, fail_share=self.config.fail_share
        )
        super().__init__(create_app(self.config, self.store), host=host, port=port)

    def stop(self) -> None:
        super().stop()
        if self._owns_store and not self._thread.is_alive():
            self.store.close()  # the last connection: SQLite removes its -wal and -shm files

    @property
    def served(self) -> dict[str, int]:
        """Requests answered so far, by endpoint (``"GET list_workflows"``: 12)."""
        served: dict[str, int] = self.app.state.served
        return served
