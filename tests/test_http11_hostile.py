"""The API client's HTTP/1.1 pool against servers that behave as real stacks do in the wild,
where it once did worse than httpx (its predecessor): each test here failed before its fix."""

from __future__ import annotations

from typing import Any

from tests.test_http11 import KEY, Exchange, Server, ok, run, serve_each, through_pool
from wfsync.http11 import Pool


async def answer_then_close(exchange: Exchange) -> None:
    """A server that closes a connection as soon as it has answered on it, without saying
    so (no ``Connection: close``): the answer and the close arrive together."""
    if await exchange.request() is not None:
        exchange.writer.write(ok())
        exchange.writer.close()


def test_a_connection_the_server_closed_with_its_answer_is_not_reused() -> None:
    # The close is in the socket but not yet read by the event loop when the next request
    # is checked out; httpx polls an idle connection before reusing it, so must the pool.
    async def scenario() -> tuple[list[Any], int]:
        async with Server(answer_then_close) as server:
            pool = Pool(server.url, headers={"X-API-Key": KEY})
            try:
                statuses = [(await pool.request("POST", f"/{n}", None, {"n": n}))[0] for n in range(6)]
            finally:
                await pool.aclose()
            return statuses, server.connections

    assert run(scenario()) == ([200] * 6, 6)


def test_a_healthy_idle_connection_is_still_reused() -> None:
    server, outcomes = run(through_pool(serve_each(ok()), *[("POST", f"/{n}") for n in range(4)]))
    assert [status for status, _, _ in outcomes] == [200] * 4
    assert server.connections == 1
