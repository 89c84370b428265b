"""HTTP/1.1 over asyncio: the API client's own connection pool, cheap per request.

Why not httpx here: its pool (httpcore) polls every connection it holds each time a
request starts or ends, and its layers (anyio streams, h11, Request/Response objects)
cost ~2.8 ms of client CPU per create at ``--parallelism 32``; with more connections an
apply got slower. Here each connection is an :class:`asyncio.Protocol`: the event loop
tells it when data arrives or the server closes it, so a checkout is a pop from a list and
nothing is polled. Answers are parsed by httptools (llhttp, the C parser of Node.js, used
by uvicorn), not by hand.

It does what the API client needs and no more: one request at a time on a connection
(no pipelining), a request body in memory, an answer read whole under a size cap,
``gzip`` understood. A URL with a proxy to go through or credentials in it goes through
httpx instead (:func:`suits`).

    >>> pool = Pool("https://api.example.com", headers={"X-API-Key": "…"})  # doctest: +SKIP
    >>> status, headers, body = await pool.request("GET", "/v1/workflows", None, None)  # doctest: +SKIP
    >>> await pool.aclose()  # doctest: +SKIP

Failures are :class:`HttpError` subclasses whose message names what happened, never a
header or a byte of the answer (the key travels in a header).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import ssl
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

try:
    import httptools
except ImportError:  # pragma: no cover  (a CPython dependency; elsewhere httpx is used)
    httptools = None  # type: ignore[assignment]

__all__ = [
    "MAX_HEAD_BYTES",
    "AnswerTooLarge",
    "BadAnswer",
    "ConnectFailed",
    "ConnectionLost",
    "HttpError",
    "Origin",
    "Pool",
    "Timeout",
    "default_ssl_context",
    "suits",
]

# Status line and headers together (h11, under httpx, allows 16 KiB; an API's are ~300 bytes).
MAX_HEAD_BYTES = 64 * 1024
# Characters a path keeps as they are: RFC 3986 pchar and "/", and "%" so that an id
# percent-encoded by the API client is not encoded twice. Anything else (a space, a
# line break) is encoded, so a path can never end the request line.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Content codings a server may name (the IANA registry); any other is not repeated.
KNOWN_CODINGS = frozenset({"br", "compress", "deflate", "x-compress", "x-gzip", "zstd", "aes128gcm", "exi"})


class HttpError(Exception):
    """No usable answer; ``str()`` says what happened, in words a user can act on."""


class ConnectFailed(HttpError):
    """The connection (or its TLS handshake) could not be made: nothing was sent."""


class ConnectionLost(HttpError):
    """The connection ended before a whole answer; the server may have acted on it."""


class BadAnswer(HttpError):
    """What came back is not an HTTP/1.1 answer this client can read."""


class AnswerTooLarge(BadAnswer):
    """An answer over the size cap, refused before it is read whole."""


class Timeout(HttpError, TimeoutError):
    """No connection, or no byte of the answer, within the time allowed."""


def suits(url: str) -> bool:
    """Whether :class:`Pool` can serve ``url`` as httpx would.

    Not when httptools is missing, when the URL carries credentials (httpx sends them as
    basic auth) or when the environment names a proxy (``HTTPS_PROXY``, ``ALL_PROXY``...,
    which httpx honours, with ``NO_PROXY``)."""
    parts = urlsplit(url)
    if httptools is None or parts.username is not None or parts.password is not None:
        return False
    proxies = _proxies()
    return not (proxies.get(parts.scheme) or proxies.get("all"))


def _proxies() -> dict[str, str]:
    """The proxies urllib (and so httpx) finds. On Linux only ``*_proxy`` variables can
    name one: without any, urllib.request (and with it http.client and email, a tenth of
    a plan's start-up) is not imported."""
    if sys.platform == "linux" and not any(name.lower().endswith("_proxy") for name in os.environ):
        return {}
    from urllib.request import getproxies

    found: dict[str, str] = getproxies()
    return found


@dataclass(frozen=True)
class Origin:
    """Where requests go: scheme, host and port to connect to, the Host header, a path prefix."""

    scheme: str
    host: str
    port: int
    authority: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL with a host")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        authority = shown if port == default else f"{shown}:{port}"
        return cls(parts.scheme, host, port, authority, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        """The URL requests go to (never with credentials: :func:`suits` keeps those out)."""
        return f"{self.scheme}://{self.authority}{self.prefix}"


def default_ssl_context() -> ssl.SSLContext:
    """The certificates httpx would trust (httpx.create_ssl_context): ``SSL_CERT_FILE``,
    else ``SSL_CERT_DIR``, else certifi's bundle; so both paths trust the same servers.

    Built once per API client (loading a bundle costs tens of ms)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _text(value: Any) -> str:
    # As httpx writes query values: booleans in lower case, None as nothing.
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class _Connection(asyncio.Protocol):
    """One connection, one exchange at a time; the parser's callbacks fill in the answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self.loop = loop
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        # What h11 (under httpx) reads too: lines ended by a bare LF, spaces after a chunk's
        # size, and Content-Length beside Transfer-Encoding: chunked (chunked wins; the
        # connection is then not reused, the framing being in doubt).
        self.parser.set_dangerous_leniencies(
            lenient_chunked_length=True,
            lenient_optional_cr_before_lf=True,
            lenient_spaces_after_chunk_size=True,
        )
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.read_timeout = 0.0
        self.last_read = 0.0
        self.head_request = False
        self._start()

    def _start(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        # One buffer, not a list of pieces: llhttp gives each chunk of a chunked answer
        # apart, and a million 1-byte chunks as a million objects cost ~40 bytes each.
        self.body = bytearray()
        self.size = 0
        self.head_bytes = 0  # bytes read before the head was whole
        self.field_bytes = 0  # the head's fields, interim answers' included
        self.headers_done = False
        self.interim = False
        self.complete = False
        self.until_close = False  # a body without length: it ends when the connection does
        self.doubtful = False  # framed two ways (Content-Length and chunked)
        self.reusable = False
        self.surplus = False  # bytes after the answer, in the same read
        self.error: HttpError | None = None

    # -- the exchange ---------------------------------------------------------------------

    def send(self, data: bytes, *, head: bool, read_timeout: float) -> asyncio.Future[None]:
        """Write one request; the future is done when its answer is whole (or failed)."""
        assert self.transport is not None
        self._start()
        self.head_request = head
        self.waiter = self.loop.create_future()
        if self.closed or self.transport.is_closing():
            # Closed between connecting and sending (a server that spoke first): a write
            # now would vanish, and the answer would be waited for until the timeout.
            self.waiter.set_exception(ConnectionLost("the connection was closed before the request was sent"))
            return self.waiter
        self.transport.write(data)
        self.read_timeout = read_timeout
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_quiet)
        return self.waiter

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        headers: dict[str, str] = {}
        for raw_name, raw_value in self.headers:
            # Whitespace around a value is not part of it (RFC 9110 5.5); llhttp keeps what
            # trails, h11 did not.
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip(" \t")
            # Repeated headers join as httpx.Headers.get joins them.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = bytes(self.body)
        # As httpx reads it: a list, applied in order; empty or identity entries change nothing.
        codings = [c.strip() for c in headers.get("content-encoding", "").lower().split(",")]
        codings = [coding for coding in codings if coding not in ("", "identity")]
        if any(coding != "gzip" for coding in codings):
            # Named only when it is a known one: the value is the server's, and could echo
            # the key (cut short, beyond the reach of the caller's redaction).
            shown = ", ".join(coding if coding in KNOWN_CODINGS else "unknown" for coding in codings)
            raise BadAnswer(f"the answer is in an encoding that was not asked for ({shown[:60]})")
        for _ in codings:
            if body:
                body = _gunzip(body, self.max_body)
        return self.status, headers, body

    def finish(self) -> None:
        """The exchange is over (answered, failed or abandoned): stop its clock."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.waiter = None

    def stale(self) -> bool:
        """Whether an idle connection has anything to read: the server's close, or bytes no
        request asked for. The event loop may not have read them yet (a close sent with
        the last answer arrives with it), so the socket is asked, as httpcore does before
        it reuses a connection; a request sent on it would be lost, a create not retried."""
        if self.closed or self.transport is None:
            return True
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):  # closed under us
            return True
        return bool(readable)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _check_quiet(self) -> None:
        quiet_until = self.last_read + self.read_timeout
        if self.loop.time() < quiet_until:
            self.timer = self.loop.call_at(quiet_until, self._check_quiet)
            return
        self.timer = None
        self._fail(Timeout(f"no answer for {self.read_timeout:g} s"))

    def _fail(self, error: HttpError) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()

    def _done(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.complete:
            # Bytes nobody asked for (after an answer, or on an idle connection): what
            # follows on this connection cannot be trusted to belong to the next request.
            self.reusable = False
            self.close()
            return
        self.last_read = self.loop.time()
        # A read holds at most 256 KiB: fed whole, then the head is measured. The bytes read
        # while it lasts count only while it is unfinished (a read may hold the head and
        # much of the body after it); once it is, on_header has summed its fields.
        if not self.headers_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.error = self.error or BadAnswer("the server switched to another protocol")
        except httptools.HttpParserError:
            if not self.complete:  # whatever follows a whole answer is only surplus
                self.error = self.error or BadAnswer("the answer is not valid HTTP/1.1")
            self.surplus = True
        if self.error is None and not self.headers_done and self.head_bytes > MAX_HEAD_BYTES:
            # A header without end, or interim answers without end.
            self.error = AnswerTooLarge(f"the answer's headers are larger than {MAX_HEAD_BYTES:,} bytes")
        if self.error is not None:
            self._fail(self.error)
        elif self.complete:
            if self.surplus:
                # Bytes nobody asked for came with the answer: what follows on this
                # connection cannot be trusted to belong to the next request.
                self.reusable = False
            self._done()

    def eof_received(self) -> bool:
        self._ended()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended()

    def _ended(self) -> None:
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        if self.headers_done and self.until_close and self.error is None:
            self.complete, self.reusable = True, False
            self._done()
        elif self.head_bytes == 0:
            self._fail(ConnectionLost("the server closed the connection without an answer"))
        else:
            self._fail(ConnectionLost("the server closed the connection without a complete answer"))

    # -- httptools callbacks --------------------------------------------------------------

    # Once the answer is whole, the parser's callbacks for anything after it are ignored.

    def on_message_begin(self) -> None:
        if self.complete:
            self.surplus = True

    def on_header(self, name: bytes, value: bytes) -> None:
        # Not the trailers of a chunked answer: httpx ignores them, and taken for headers
        # they could name an encoding the body is not in.
        if not self.complete and not self.headers_done:
            self.headers.append((name, value))
            self.field_bytes += len(name) + len(value) + 4
            if self.field_bytes > MAX_HEAD_BYTES:
                self.error = self.error or AnswerTooLarge(
                    f"the answer's headers are larger than {MAX_HEAD_BYTES:,} bytes"
                )

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        status = self.parser.get_status_code()
        if status < 100:
            # llhttp reads "000" as a status; h11 refuses it, and a caller would take it
            # for a success (it is below 300).
            self.error = self.error or BadAnswer(f"the answer's status ({status:03d}) is not an HTTP status")
            return
        if 100 <= status < 200:
            # 100 Continue, 103 Early Hints: the answer is still to come (the size of
            # every interim answer counts towards the cap on headers).
            self.interim = True
            return
        self.status, self.headers_done = status, True
        length, chunked = None, False
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = value
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        self.doubtful = length is not None and chunked
        if length is not None and not chunked and length.strip().isdigit() and int(length) > self.max_body:
            self.error = AnswerTooLarge(f"answer larger than {self.max_body:,} bytes")
        bodiless = self.head_request or status in (204, 304)
        self.until_close = length is None and not chunked and not bodiless
        if self.head_request:
            # llhttp does not know the request was HEAD and would wait for the body the
            # Content-Length announces: the answer ends here, and so does the connection.
            self.complete, self.reusable = True, False

    def on_body(self, body: bytes) -> None:
        if self.head_request or self.complete:
            return
        self.size += len(body)
        if self.size > self.max_body:
            self.error = self.error or AnswerTooLarge(f"answer larger than {self.max_body:,} bytes")
            self.body.clear()
            return
        self.body += body

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.interim:
            self.interim = False
            self.headers = []
            return
        self.complete = True
        self.reusable = self.parser.should_keep_alive() and not self.until_close and not self.doubtful


def _gunzip(data: bytes, limit: int) -> bytes:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(data, limit + 1)
    except zlib.error:
        raise BadAnswer("the answer says gzip but is not") from None
    if len(out) > limit or inflate.unconsumed_tail:
        raise AnswerTooLarge(f"answer larger than {limit:,} bytes once unpacked")
    return out


class Pool:
    """Up to ``connections`` kept-alive connections to one origin; see the module docstring.

    ``headers`` go with every request (the key among them); ``ssl_context`` is used for
    https (None: the system's defaults). ``connect_timeout`` bounds a connection and its
    TLS handshake, ``read_timeout`` any wait for the next byte of an answer; a bound on a
    whole request is the caller's (:class:`wfsync.transport.Transport`).
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        connections: int = 10,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_body: int = 64 * 1024 * 1024,
    ) -> None:
        if httptools is None:  # pragma: no cover
            raise RuntimeError("httptools is not installed")
        self.origin = Origin.parse(url)
        self.ssl_context: ssl.SSLContext | None = None
        if self.origin.scheme == "https":
            self.ssl_context = ssl_context or default_ssl_context()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_body = max_body
        fixed = {"Host": self.origin.authority, "Accept-Encoding": "gzip", **headers}
        for name, value in fixed.items():
            if any(c in name + value for c in "\r\n\0") or not name:
                raise ValueError(f"a header that cannot be sent: {name!r}")
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode("latin-1")
        self._slots = asyncio.Semaphore(max(1, connections))
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self.connections_made = 0

    def encode(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> bytes:
        """The request's bytes: request line, headers and body (JSON, as httpx writes it)."""
        target = self.origin.prefix + quote(path, safe=PATH_SAFE)
        if params:
            pairs = (
                f"{quote(str(name), safe='')}={quote(_text(value), safe='')}"
                for name, value in params.items()
            )
            target += "?" + "&".join(pairs)
        if body is None:
            # A POST, PUT or PATCH says it has no body; some proxies refuse one that does not.
            extra = b"Content-Length: 0\r\n" if method in ("POST", "PUT", "PATCH") else b""
            return f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._head + extra + b"\r\n"
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        return (
            f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
            + self._head
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(content)
            + content
        )

    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; its status, headers (names in lower case) and body."""
        data = self.encode(method, path, params, body)
        await self._slots.acquire()
        connection: _Connection | None = None
        try:
            connection = self._take()
            if connection is None:
                connection = await self._connect()
            try:
                await connection.send(data, head=method == "HEAD", read_timeout=self.read_timeout)
            finally:
                connection.finish()
            answer = connection.answer()
        except BaseException:
            if connection is not None:
                self._drop(connection)
            raise
        finally:
            self._slots.release()
        if connection.reusable and not connection.closed:
            self._idle.append(connection)
        else:
            self._drop(connection)
        return answer

    def _take(self) -> _Connection | None:
        # The most recently used first: a light load keeps to few connections. One the
        # server closed while idle (or is closing) is passed over.
        while self._idle:
            connection = self._idle.pop()
            if not connection.stale():
                return connection
            self._drop(connection)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        connection = _Connection(loop, self.max_body)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: connection,
                    origin.host,
                    origin.port,
                    ssl=self.ssl_context,
                    server_hostname=origin.host if self.ssl_context else None,
                )
        except TimeoutError:
            connection.close()
            raise Timeout(f"no connection within {self.connect_timeout:g} s") from None
        except ssl.SSLError as exc:
            connection.close()
            reason = getattr(exc, "verify_message", None) or exc.reason or "TLS failed"
            raise ConnectFailed(f"TLS: {reason}") from None
        except OSError as exc:
            connection.close()
            # asyncio's message names the address; the reason is enough beside the URL.
            # A failed name lookup (socket.gaierror) has a negative errno, which os.strerror
            # reads as "Unknown error -2": its own strerror says "Name or service not known".
            if isinstance(exc, socket.gaierror) and exc.strerror:
                reason = exc.strerror
            else:
                reason = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
            raise ConnectFailed(reason) from None
        self.connections_made += 1
        self._open.add(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def aclose(self) -> None:
        for connection in list(self._open):
            self._drop(connection)
        self._idle.clear()
        # Let the transports run their close callbacks (and TLS its close_notify) while
        # the loop still runs.
        await asyncio.sleep(0)
