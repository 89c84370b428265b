"""The API client's own HTTP/1.1 pool against a raw server that says exactly what each test
scripts: every way an answer may be framed, cut short, oversized, slow or not HTTP at all,
over real loopback sockets (TLS too)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from wfsync import http11
from wfsync.api import ApiClient, RetryPolicy, Timeouts
from wfsync.errors import TransportError, WfsyncError
from wfsync.http11 import AnswerTooLarge, BadAnswer, ConnectFailed, ConnectionLost, Pool, Timeout

KEY = "sk-http11-c0ffee5eed4242"
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)

Handler = Callable[["Exchange"], Awaitable[None]]


class Exchange:
    """One accepted connection, as the script of a test sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        self.reader, self.writer, self.number = reader, writer, number

    async def request(self) -> tuple[bytes, bytes] | None:
        """The next request's head and body; None when the client closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head, await self.reader.readexactly(length)

    async def answer(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class Server:
    """A raw loopback server: ``handler`` runs for every connection; the heads it was sent
    and the number of connections are kept."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        exchange = Exchange(reader, writer, self.connections)
        original = exchange.request

        async def recorded() -> tuple[bytes, bytes] | None:
            got = await original()
            if got is not None:
                self.heads.append(got[0])
                self.bodies.append(got[1])
            return got

        exchange.request = recorded  # type: ignore[method-assign]
        try:
            await self.handler(exchange)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def serve_each(answer: bytes) -> Handler:
    """A handler giving the same answer to every request on a kept-alive connection."""

    async def handle(exchange: Exchange) -> None:
        while await exchange.request() is not None:
            await exchange.answer(answer)

    return handle


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def through_pool(
    handler: Handler, *requests: tuple[str, str], max_body: int = 1 << 20, **options: Any
) -> tuple[Server, list[Any]]:
    """Send ``requests`` one after another through one pool; each one's answer or error."""
    async with Server(handler) as server:
        pool = Pool(server.url, headers={"X-API-Key": KEY}, max_body=max_body, **options)
        outcomes: list[Any] = []
        try:
            for method, path in requests:
                try:
                    outcomes.append(await pool.request(method, path, None, None))
                except http11.HttpError as exc:
                    outcomes.append(exc)
        finally:
            await pool.aclose()
        return server, outcomes


# -- how an answer is framed ----------------------------------------------------------------


def test_content_length_answers_share_one_kept_alive_connection() -> None:
    server, outcomes = run(through_pool(serve_each(ok()), ("GET", "/a"), ("GET", "/b"), ("GET", "/c")))
    assert [status for status, _, _ in outcomes] == [200, 200, 200]
    assert outcomes[0][2] == b'{"ok": true}'
    assert server.connections == 1


def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked = head + b"4\r\n[1, \r\n3\r\n2, \r\n2\r\n3]\r\n0\r\n\r\n"
    server, outcomes = run(through_pool(serve_each(chunked), ("GET", "/a"), ("GET", "/b")))
    assert [body for _, _, body in outcomes] == [b"[1, 2, 3]"] * 2
    assert server.connections == 1


def test_an_answer_ended_by_closing_is_read_to_the_end_and_not_reused() -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.answer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[1, 2")
        await exchange.answer(b", 3]")
        await exchange.close()

    server, outcomes = run(through_pool(handle, ("GET", "/a"), ("GET", "/b")))
    assert [body for _, _, body in outcomes] == [b"[1, 2, 3]"] * 2
    assert server.connections == 2


def test_connection_close_opens_a_new_connection_for_the_next_request() -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.answer(ok(extra=b"Connection: close\r\n"))

    server, outcomes = run(through_pool(handle, ("GET", "/a"), ("GET", "/b")))
    assert [status for status, _, _ in outcomes] == [200, 200]
    assert server.connections == 2


def test_interim_answers_are_passed_over() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok()
    server, outcomes = run(through_pool(serve_each(answer), ("POST", "/a"), ("GET", "/b")))
    assert [(status, body) for status, _, body in outcomes] == [(200, b'{"ok": true}')] * 2
    assert "link" not in outcomes[0][1]
    assert server.connections == 1


@pytest.mark.parametrize("status", [204, 304])
def test_answers_without_a_body_end_at_their_headers(status: int) -> None:
    answer = b"HTTP/1.1 %d Nothing\r\nETag: x\r\n\r\n" % status
    server, outcomes = run(through_pool(serve_each(answer), ("DELETE", "/a"), ("DELETE", "/b")))
    assert [(code, body) for code, _, body in outcomes] == [(status, b"")] * 2
    assert server.connections == 1


def test_a_head_answer_has_no_body_whatever_its_length_says() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    _, outcomes = run(through_pool(serve_each(answer), ("HEAD", "/a"), ("HEAD", "/b")))
    assert [(code, body) for code, _, body in outcomes] == [(200, b"")] * 2


def test_a_gzip_answer_is_unpacked() -> None:
    packed = gzip.compress(b'{"data": []}')
    answer = ok(packed, extra=b"Content-Encoding: gzip\r\n")
    server, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert outcomes[0][2] == b'{"data": []}'
    assert b"accept-encoding: gzip" in server.heads[0].lower()


def test_headers_repeated_are_joined_and_named_in_lower_case() -> None:
    answer = ok(extra=b"Retry-After: 3\r\nVary: a\r\nVARY: b\r\n")
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert outcomes[0][1]["retry-after"] == "3"
    assert outcomes[0][1]["vary"] == "a, b"


# -- answers cut short, too large, or not HTTP -------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"short',
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly part",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["content-length", "chunked", "headers"],
)
def test_a_truncated_answer_is_an_error_and_its_connection_dropped(answer: bytes) -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.answer(answer)
        await exchange.close()

    _, outcomes = run(through_pool(handle, ("GET", "/a")))
    assert isinstance(outcomes[0], ConnectionLost)
    assert str(outcomes[0]) == "the server closed the connection without a complete answer"


def test_a_connection_closed_with_no_answer_says_so() -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.close()

    _, outcomes = run(through_pool(handle, ("POST", "/a")))
    assert str(outcomes[0]) == "the server closed the connection without an answer"


@pytest.mark.parametrize(
    "answer",
    [b"hello\r\n\r\n", b"HTTP/1.1 2OO OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
    ids=["not-http", "bad-status", "bad-length"],
)
def test_an_answer_that_is_not_http_is_refused(answer: bytes) -> None:
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert isinstance(outcomes[0], BadAnswer)
    assert str(outcomes[0]) == "the answer is not valid HTTP/1.1"


def test_bytes_after_an_answer_keep_its_connection_from_being_reused() -> None:
    # A second answer nobody asked for would otherwise be read as the next request's.
    server, outcomes = run(through_pool(serve_each(ok() + ok(b'{"stale": 1}')), ("GET", "/a"), ("GET", "/b")))
    assert [body for _, _, body in outcomes] == [b'{"ok": true}'] * 2
    assert server.connections == 2


def test_a_connection_closed_before_its_request_is_sent_fails_at_once() -> None:
    # Between connecting and sending, the loop may read the server's close: the request
    # would be written to nothing and its answer awaited until the read timeout.
    async def handle(exchange: Exchange) -> None:
        await exchange.close()

    async def scenario() -> str:
        async with Server(handle) as server:
            pool = Pool(server.url, headers={}, read_timeout=30)
            connection = await pool._connect()
            while not connection.closed:
                await asyncio.sleep(0)
            with pytest.raises(ConnectionLost) as caught:
                await connection.send(pool.encode("GET", "/", None, None), head=False, read_timeout=30)
            connection.finish()
            await pool.aclose()
            return str(caught.value)

    assert run(scenario()) == "the connection was closed before the request was sent"


def test_a_switch_of_protocol_is_refused() -> None:
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert str(outcomes[0]) == "the server switched to another protocol"


@pytest.mark.parametrize(
    "answer",
    [
        ok(b"x" * 2000),  # announced: refused before the body is read
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"100\r\n" + b"x" * 256 + b"\r\n") * 8,
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 2000,
    ],
    ids=["content-length", "chunked", "until-close"],
)
def test_an_answer_over_the_cap_is_refused(answer: bytes) -> None:
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), max_body=1000))
    assert isinstance(outcomes[0], AnswerTooLarge)
    assert str(outcomes[0]) == "answer larger than 1,000 bytes"


def test_an_announced_length_over_the_cap_is_refused_without_waiting_for_it() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n"
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), read_timeout=30))
    assert str(outcomes[0]) == "answer larger than 1,048,576 bytes"


def test_a_gzip_bomb_is_refused_by_its_unpacked_size() -> None:
    answer = ok(gzip.compress(b"0" * 100_000), extra=b"Content-Encoding: gzip\r\n")
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a"), max_body=10_000))
    assert str(outcomes[0]) == "answer larger than 10,000 bytes once unpacked"


def test_an_encoding_not_asked_for_is_refused() -> None:
    _, outcomes = run(through_pool(serve_each(ok(extra=b"Content-Encoding: br\r\n")), ("GET", "/a")))
    assert str(outcomes[0]) == "the answer is in an encoding that was not asked for (br)"


def test_oversized_headers_are_refused() -> None:
    answer = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"y" * (http11.MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert isinstance(outcomes[0], AnswerTooLarge)
    assert "headers are larger than" in str(outcomes[0])


def test_endless_interim_answers_hit_the_cap_on_headers() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" * (http11.MAX_HEAD_BYTES // 20)
    _, outcomes = run(through_pool(serve_each(answer), ("GET", "/a")))
    assert isinstance(outcomes[0], AnswerTooLarge)


# -- time ------------------------------------------------------------------------------------


def test_a_silent_server_times_out_after_the_read_timeout() -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.reader.read()  # says nothing until the client gives up

    _, outcomes = run(through_pool(handle, ("GET", "/a"), read_timeout=0.2))
    assert isinstance(outcomes[0], Timeout)
    assert str(outcomes[0]) == "no answer for 0.2 s"


def test_an_answer_slower_than_the_read_timeout_in_all_but_each_byte_arrives() -> None:
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):
            await asyncio.sleep(0.05)
            await exchange.answer(b"x")

    _, outcomes = run(through_pool(handle, ("GET", "/a"), read_timeout=0.2))
    assert outcomes[0][2] == b"x" * 8


def test_a_trickling_answer_keeps_the_read_timeout_away_but_not_the_total() -> None:
    # A byte every 50 ms never leaves the connection quiet for the read timeout (0.2 s);
    # the bound on the whole request (Transport's total) ends it.
    async def handle(exchange: Exchange) -> None:
        await exchange.request()
        await exchange.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while True:
            await exchange.answer(b"x")
            await asyncio.sleep(0.05)

    async def scenario() -> str:
        async with Server(handle) as server:
            timeouts = Timeouts(connect=1, read=0.2, total=0.6)
            async with ApiClient.connect(server.url, KEY, retry=FAST, timeouts=timeouts) as api:
                assert api.transport.pool is not None
                with pytest.raises(TransportError) as caught:
                    await api.transport.request("POST", "/v1/workflows", body={})
                return str(caught.value)

    assert "timed out" in run(scenario())


# -- connections -----------------------------------------------------------------------------


def test_a_refused_connection_names_the_server_without_its_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed on leaving: nothing listens there

    async def direct() -> Exception:
        pool = Pool(f"http://127.0.0.1:{port}", headers={})
        with pytest.raises(ConnectFailed) as caught:
            await pool.request("GET", "/", None, None)
        return caught.value

    assert "refused" in str(run(direct())).lower()

    async def scenario() -> str:
        async with ApiClient.connect(f"http://127.0.0.1:{port}", KEY, retry=FAST) as api:
            with pytest.raises(TransportError) as caught:
                await api.list_workflows()
            return str(caught.value)

    message = run(scenario())
    assert f"could not connect to http://127.0.0.1:{port}" in message
    assert KEY not in message


def test_a_kept_alive_connection_the_server_closed_while_idle_is_not_used() -> None:
    closed = asyncio.Event()

    async def handle(exchange: Exchange) -> None:
        if exchange.number == 1:
            await exchange.request()
            await exchange.answer(ok())
            await exchange.close()
            closed.set()
            return
        await serve_each(ok())(exchange)

    async def scenario() -> tuple[list[int], int]:
        async with Server(handle) as server:
            pool = Pool(server.url, headers={})
            first = await pool.request("POST", "/a", None, {"n": 1})
            await closed.wait()
            # The event loop reads the server's close before the next request is sent.
            while not all(connection.closed for connection in pool._idle):
                await asyncio.sleep(0)
            second = await pool.request("POST", "/b", None, {"n": 2})
            await pool.aclose()
            return [first[0], second[0]], server.connections

    statuses, connections = run(scenario())
    assert statuses == [200, 200]
    assert connections == 2


def drop_first_request(exchange: Exchange) -> Awaitable[None]:
    """The first connection reads one request and closes without a word (a server ending
    a kept-alive connection just as the request arrives); later ones answer."""

    async def handle() -> None:
        if exchange.number == 1:
            await exchange.request()
            await exchange.close()
            return
        await serve_each(ok(b'{"id": "abc", "title": "T"}'))(exchange)

    return handle()


def test_a_read_lost_with_its_connection_is_sent_again() -> None:
    async def scenario() -> tuple[Any, int]:
        async with (
            Server(drop_first_request) as server,
            ApiClient.connect(server.url, KEY, retry=FAST, sleep=no_wait) as api,
        ):
            answer = await api.transport.request("GET", "/v1/workflows/abc")
            return answer, len(server.heads)

    answer, sent = run(scenario())
    assert answer == {"id": "abc", "title": "T"}
    assert sent == 2


def test_a_create_lost_with_its_connection_is_never_sent_twice() -> None:
    async def scenario() -> tuple[str, int]:
        async with (
            Server(drop_first_request) as server,
            ApiClient.connect(server.url, KEY, retry=FAST, sleep=no_wait) as api,
        ):
            with pytest.raises(TransportError) as caught:
                await api.create_workflow({"title": "Once"})
            return str(caught.value), len(server.heads)

    message, sent = run(scenario())
    assert sent == 1
    assert "not retried here: the server may have acted on it" in message
    assert "without an answer" in message


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def test_never_more_connections_than_asked_for() -> None:
    async def handle(exchange: Exchange) -> None:
        while await exchange.request() is not None:
            await asyncio.sleep(0.005)  # an answer takes a moment, so requests overlap
            await exchange.answer(ok())

    async def scenario() -> tuple[int, int]:
        async with Server(handle) as server:
            pool = Pool(server.url, headers={}, connections=4)
            answers = await asyncio.gather(*(pool.request("GET", f"/{n}", None, None) for n in range(40)))
            await pool.aclose()
            return len(answers), server.connections

    assert run(scenario()) == (40, 4)


# -- what is sent ------------------------------------------------------------------------------


def test_the_request_carries_its_headers_path_query_and_json_body() -> None:
    async def scenario() -> Server:
        async with Server(serve_each(ok())) as server:
            pool = Pool(server.url + "/api/", headers={"X-API-Key": KEY, "User-Agent": "wfsync/t"})
            await pool.request(
                "POST", "/v1/workflows/a b\r\nX: y", {"page": 2, "q": "a&b c", "on": True}, {"t": "é"}
            )
            await pool.request("POST", "/v1/run", None, None)
            await pool.request("GET", "/v1/workflows", None, None)
            await pool.aclose()
            return server

    server = run(scenario())
    first, bare, read = (head.decode("latin-1") for head in server.heads)
    assert first.startswith(
        "POST /api/v1/workflows/a%20b%0D%0AX:%20y?page=2&q=a%26b%20c&on=true HTTP/1.1\r\n"
    )
    port = server.url.rsplit(":", 1)[1]
    assert f"Host: 127.0.0.1:{port}\r\n" in first
    assert f"X-API-Key: {KEY}\r\n" in first
    assert "Content-Type: application/json\r\n" in first
    assert json.loads(server.bodies[0]) == {"t": "é"}
    assert "Content-Length: 0\r\n" in bare  # a POST without a body says so
    assert "Content-Length" not in read


def test_a_default_port_is_left_out_of_the_host_header() -> None:
    assert http11.Origin.parse("https://api.example.com/x/").authority == "api.example.com"
    assert http11.Origin.parse("https://[::1]:8443").authority == "[::1]:8443"
    assert http11.Origin.parse("https://api.example.com/x/").prefix == "/x"


def test_a_header_that_could_split_the_request_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        Pool("http://127.0.0.1:9", headers={"X-API-Key": "a\r\nInjected: 1"})


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by openssl."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_server(certificate: tuple[Path, Path]) -> Server:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return Server(serve_each(ok(b'{"secure": true}')), ssl_context=context)


def test_https_with_a_trusted_certificate(certificate: tuple[Path, Path]) -> None:
    async def scenario() -> tuple[list[Any], int]:
        async with tls_server(certificate) as server:
            trusted = ssl.create_default_context(cafile=str(certificate[0]))
            pool = Pool(server.url, headers={}, ssl_context=trusted)
            answers = [await pool.request("GET", "/", None, None) for _ in range(2)]
            await pool.aclose()
            return [body for _, _, body in answers], server.connections

    assert run(scenario()) == ([b'{"secure": true}'] * 2, 1)


def test_https_with_an_untrusted_certificate_does_not_connect(certificate: tuple[Path, Path]) -> None:
    async def scenario() -> tuple[str, int]:
        async with tls_server(certificate) as server:
            async with ApiClient.connect(server.url, KEY, retry=FAST, sleep=no_wait) as api:
                assert api.transport.pool is not None
                with pytest.raises(TransportError) as caught:
                    await api.list_workflows()
            return str(caught.value), len(server.heads)

    message, sent = run(scenario())
    assert "could not connect to https://127.0.0.1:" in message
    assert "certificate verify failed" in message or "self-signed" in message or "self signed" in message
    assert sent == 0
    assert KEY not in message


def test_https_trusts_what_httpx_would_trust_ssl_cert_file_among_it(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))

    async def scenario() -> tuple[Any, bool]:
        async with tls_server(certificate) as server, ApiClient.connect(server.url, KEY, retry=FAST) as api:
            answer = await api.transport.request("GET", "/v1/workflows/x")
            return answer, api.transport.pool is not None

    assert run(scenario()) == ({"secure": True}, True)


# -- when httpx is used instead ----------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_sends_through_httpx(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert http11.suits("https://api.example.com")
    monkeypatch.setenv(variable, "http://proxy.example.test:3128")
    assert not http11.suits("https://api.example.com")

    async def scenario() -> bool:
        async with ApiClient.connect("https://api.example.com", KEY) as api:
            return api.transport.pool is None

    assert run(scenario())


@pytest.mark.parametrize(
    ("variables", "direct"),
    [
        ({}, True),
        ({"Https_Proxy": "http://proxy.example.test:3128"}, False),  # any case, as urllib reads them
        ({"aLL_pROXY": "socks5://proxy.example.test:1080"}, False),
        ({"no_proxy": "api.example.com"}, True),
        ({"HTTPS_PROXY": ""}, True),  # empty: no proxy
        ({"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://proxy.example.test:3128"}, True),  # CGI: ignored
    ],
)
def test_the_proxies_found_are_those_httpx_finds(
    variables: dict[str, str], direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.request import getproxies

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert http11._proxies() == getproxies()  # httpx reads urllib's getproxies()
    assert http11.suits("https://api.example.com") is direct


def test_credentials_in_the_url_send_through_httpx() -> None:
    assert not http11.suits("https://user:pass@api.example.com")
    assert http11.suits("https://api.example.com") or os.environ.get("HTTPS_PROXY")


def test_a_response_hook_sends_through_httpx() -> None:
    # wfsync doctor records every exchange with an httpx response hook.
    async def scenario() -> tuple[list[int], int]:
        seen: list[int] = []

        async def hook(response: Any) -> None:
            seen.append(response.status_code)

        async with (
            Server(serve_each(ok(b"[]", extra=b"Content-Type: application/json\r\n"))) as server,
            ApiClient.connect(server.url, KEY) as api,
        ):
            assert api.transport.pool is not None
            await api.transport.request("GET", "/v1/workflows")
            api.transport.http.event_hooks = {"response": [hook]}
            await api.transport.request("GET", "/v1/workflows")
            return seen, len(server.heads)

    assert run(scenario()) == ([200], 2)


# -- the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        lambda head: ok(b"<html>" + head + b"</html>", extra=b"Content-Type: text/html\r\n"),
        lambda head: b"HTTP/1.1 200 OK\r\nX-Echo: " + head.replace(b"\r\n", b" ") + b"\r\nBroken\r\n\r\n",
        lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + head,
    ],
    ids=["not-json", "not-http", "cut-short"],
)
def test_an_answer_echoing_the_key_never_shows_it(framing: Callable[[bytes], bytes]) -> None:
    async def handle(exchange: Exchange) -> None:
        got = await exchange.request()
        assert got is not None
        await exchange.answer(framing(got[0]))
        await exchange.close()

    async def scenario() -> str:
        async with (
            Server(handle) as server,
            ApiClient.connect(server.url, KEY, retry=FAST, sleep=no_wait) as api,
        ):
            with pytest.raises(WfsyncError) as caught:
                await api.transport.request("POST", "/v1/workflows", body={"title": "x"})
            return f"{caught.value!r} {caught.value}"

    shown = run(scenario())
    assert KEY not in shown
    assert "\n" not in shown
