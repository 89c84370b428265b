"""The API client's HTTP/1.1 pool against servers that behave as real stacks do in the wild,
where it once did worse than httpx (its predecessor): each test here failed before its fix."""

from __future__ import annotations

import asyncio
import gzip
import socket
import tracemalloc
from typing import Any

import pytest

from tests.test_http11 import FAST, KEY, Exchange, Server, no_wait, ok, run, serve_each, through_pool
from wfsync.api import ApiClient
from wfsync.errors import WfsyncError
from wfsync.http11 import ConnectFailed, Pool


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


def test_trailers_after_a_chunked_answer_are_not_taken_for_its_headers() -> None:
    # A trailer may name any field; httpx ignores them all. Taken for a header, this one
    # would have the body unpacked as gzip.
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 1\r\n\r\n"
        b"2\r\n{}\r\n0\r\nContent-Encoding: gzip\r\nRetry-After: 99\r\n\r\n"
    )
    server, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), ("GET", "/b")))
    assert [(status, body) for status, _, body in outcomes] == [(200, b"{}")] * 2
    assert outcomes[0][1]["retry-after"] == "1"
    assert "content-encoding" not in outcomes[0][1]
    assert server.connections == 1


def test_content_encodings_that_change_nothing_are_accepted() -> None:
    # An empty Content-Encoding, or identity named twice, is what httpx reads as no
    # encoding at all; gzip among identities is still unpacked.
    answers = [
        ok(extra=b"Content-Encoding: \r\n"),
        ok(extra=b"Content-Encoding: identity\r\nContent-Encoding: identity\r\n"),
        ok(gzip.compress(b'{"ok": true}'), extra=b"Content-Encoding: identity, gzip\r\n"),
    ]

    async def handle(exchange: Exchange) -> None:
        for answer in answers:
            if await exchange.request() is None:
                return
            await exchange.answer(answer)

    _, outcomes = run(through_pool(handle, ("GET", "/a"), ("GET", "/b"), ("GET", "/c")))
    assert [outcome[2] for outcome in outcomes] == [b'{"ok": true}'] * 3


def test_a_length_beside_chunked_is_read_as_chunked_and_the_connection_not_reused() -> None:
    # RFC 9112 6.3: Transfer-Encoding overrides Content-Length (h11 reads it so); the
    # framing is in doubt, so what follows on the connection is not trusted.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = head + b"2\r\n{}\r\n0\r\n\r\n"
    server, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), ("GET", "/b")))
    assert [(status, body) for status, _, body in outcomes] == [(200, b"{}")] * 2
    assert server.connections == 2


def test_lines_ended_by_a_bare_line_feed_are_read() -> None:
    answer = b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 2\n\n{}"
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), ("GET", "/b")))
    assert [(status, body) for status, _, body in outcomes] == [(200, b"{}")] * 2
    assert outcomes[0][1]["content-type"] == "application/json"


def test_a_large_answer_arriving_with_its_head_is_read_whole() -> None:
    # The first read holds the head and up to 256 KiB of the body: only the head counts
    # towards the cap on headers (every listing over 64 KiB was refused).
    body = b'{"data": "' + b"x" * 400_000 + b'"}'
    filler = b"X-Filler: " + b"y" * 30_000 + b"\r\n"
    _, outcomes = run(
        through_pool(serve_each(ok(body)), ("GET", "/a"), ("GET", "/b")),
    )
    assert [(status, len(got)) for status, _, got in outcomes] == [(200, len(body))] * 2
    _, outcomes = run(through_pool(serve_each(ok(body, extra=filler)), ("GET", "/a")))
    assert outcomes[0][2] == body


def test_oversized_headers_followed_by_their_end_in_the_same_read_are_refused() -> None:
    fields = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"y" * 1000) for n in range(70))
    _, outcomes = run(through_pool(serve_each(ok(extra=fields)), ("GET", "/a")))
    assert str(outcomes[0]) == "the answer's headers are larger than 65,536 bytes"


def test_an_answer_in_tiny_chunks_costs_its_size_in_memory_not_forty_times_it() -> None:
    # Up to the cap on the answer's size (64 MiB by default), one byte a chunk: as a list of
    # pieces it would take gigabytes; httpx could not read so many within the total timeout.
    count = 200_000
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * count + b"0\r\n\r\n"

    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        for start in range(0, len(chunked), 65536):
            await exchange.answer(chunked[start : start + 65536])

    tracemalloc.start()
    try:
        _, outcomes = run(through_pool(handle, ("GET", "/a")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcomes[0][2] == b"x" * count
    assert peak < 3 * len(chunked)  # the answer's bytes on the wire, the body, the buffers


def test_an_encoding_echoing_the_key_is_not_repeated() -> None:
    # The key, cut short inside a longer value, would have escaped the caller's redaction.
    echo = b"Content-Encoding: " + b"a" * 30 + KEY.encode() + b"\r\n"
    _, outcomes = run(through_pool(serve_each(ok(extra=echo)), ("GET", "/a")))
    assert str(outcomes[0]) == "the answer is in an encoding that was not asked for (unknown)"


@pytest.mark.parametrize(
    "answer",
    [
        ok(b"x" * 50 + KEY.encode(), extra=b"Content-Type: text/html\r\n"),
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 320\r\n\r\n"
        + (b"x" * 290 + KEY.encode()).ljust(320, b"y"),
    ],
    ids=["not-json", "error-text"],
)
def test_a_key_echoed_across_the_cut_of_a_quoted_answer_is_not_shown(answer: bytes) -> None:
    # Messages quote the start of an answer (60 or 300 characters): redacted after the
    # cut, a key straddling it would show its first characters.
    async def scenario() -> str:
        async with (
            Server(serve_each(answer)) as server,
            ApiClient.connect(server.url, KEY, retry=FAST, sleep=no_wait) as api,
        ):
            with pytest.raises(WfsyncError) as caught:
                await api.transport.request("POST", "/v1/workflows", body={"title": "x"})
            return f"{caught.value!r} {caught.value}"

    shown = run(scenario())
    assert "x" * 20 in shown  # the answer is quoted
    assert KEY[:6] not in shown


@pytest.mark.parametrize("status", [b"000", b"099", b"007"])
def test_a_status_below_100_is_refused_not_taken_for_a_success(status: bytes) -> None:
    answer = b"HTTP/1.1 " + status + b" Odd\r\nContent-Length: 2\r\n\r\n{}"
    _, outcomes = run(through_pool(serve_each(answer), ("POST", "/a")))
    assert str(outcomes[0]) == f"the answer's status ({status.decode()}) is not an HTTP status"


def test_spaces_after_a_chunk_size_are_read_as_h11_read_them() -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2  \r\n{}\r\n0 \r\n\r\n"
    server, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), ("GET", "/b")))
    assert [(status, body) for status, _, body in outcomes] == [(200, b"{}")] * 2
    assert server.connections == 1


def test_a_name_that_does_not_resolve_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lookup is failed here, not asked of a resolver (no test leaves the machine).
    async def no_such_name(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", no_such_name)

    async def scenario() -> str:
        pool = Pool("https://api.example.invalid", headers={})
        with pytest.raises(ConnectFailed) as caught:
            await pool.request("GET", "/v1/workflows", None, None)
        return str(caught.value)

    assert run(scenario()) == "Name or service not known"


def test_whitespace_after_a_header_value_is_not_part_of_it() -> None:
    answer = ok(extra=b"Content-Type: text/html   \r\nLocation: https://elsewhere.example.com/v1 \t\r\n")
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert outcomes[0][1]["content-type"] == "text/html"
    assert outcomes[0][1]["location"] == "https://elsewhere.example.com/v1"
