"""The policy layer under the API client: how a request is sent, not what it asks.

Like httpx's transports, this layer knows nothing of workflows. It sends each request
through one of its ``httpx.AsyncClient`` instances and owns everything that is the same
for every endpoint:

- retries with backoff: a 429 for any request (the server did not act on it) after its
  ``Retry-After`` (capped), and every other request waits out that pause too (one throttle
  slows all workers); 500/502/503/504, timeouts and dropped connections only for requests
  safe to repeat, so a create, run or schedule is never sent twice here;
- a cap on the size of an answer and on the time a whole request takes;
- answers decoded with a bound on JSON nesting (:mod:`wfsync.safejson`);
- error mapping: failures to send (ours or httpx's) and error statuses leave as
  :class:`~wfsync.errors.ApiError` subclasses, with the key redacted from anything the
  server said;
- sending through :class:`wfsync.http11.Pool` when it is given (the API client gives it
  whenever it can serve the URL), else through httpx: the pool costs a fraction of the
  client CPU per request and none more as connections are added. httpx stays for a test's
  injected transport, a proxy, credentials in the URL, and while a response hook is set
  on ``http`` (``wfsync doctor`` records every exchange that way);
- on the httpx path, spreading requests over several small clients, each request to the
  one with the fewest in flight: httpcore's pool checks every connection it holds (a poll
  of each idle socket, and a count of all connections for each idle one) whenever a
  request starts or ends, so one pool of 34 connections cost 9.5 ms of client CPU per
  create at ``--parallelism 32``, small pools about 3.5 on the same (loaded) machine;

    >>> layer = Transport(http, key="sk-…")  # doctest: +SKIP
    >>> await layer.request("GET", "/v1/workflows")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfsync import http11, safejson, shapes
from wfsync.errors import (
    ApiError,
    AuthError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RequestError,
    ServerError,
    ThrottledError,
    TransportError,
)

if TYPE_CHECKING:  # imported when first used: a command through the pool never needs it
    import httpx

__all__ = [
    "MAX_BODY_BYTES",
    "RETRYABLE_STATUS",
    "SHARD_CONNECTIONS",
    "RetryPolicy",
    "Timeouts",
    "Transport",
    "shard_sizes",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
# The most connections one httpx client (one httpcore pool) holds: its bookkeeping per
# request grows with the square of its size, so more connections means more clients.
# 4 measured a little below 8 in client CPU per create; a client costs ~2 ms to build.
SHARD_CONNECTIONS = 4


def shard_sizes(connections: int, per_shard: int = SHARD_CONNECTIONS) -> list[int]:
    """The pool sizes of the clients that together hold ``connections`` (as even as may be).

    >>> shard_sizes(12), shard_sizes(13)
    ([4, 4, 4], [4, 3, 3, 3])
    """
    connections = max(1, connections)
    shards = -(-connections // max(1, per_shard))
    small, extra = divmod(connections, shards)
    return [small + 1] * extra + [small] * (shards - extra)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry (exponential backoff with full jitter)."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    def retry_after(self, value: str | None, now: float) -> float | None:
        """Seconds a ``Retry-After`` asks for (a number or an HTTP date), capped; None when unusable.

        ``now`` is the wall-clock time (an HTTP date is absolute)."""
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:  # an HTTP date: "Wed, 21 Oct 2026 07:28:00 GMT"
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
        if not math.isfinite(seconds):
            return None
        # A server asking for a day is throttling us, not scheduling us: wait the cap.
        return min(max(seconds, 0.0), self.max_retry_after)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 30.0
    # The whole request, body included: a server trickling an endless body still ends.
    total: float = 120.0


class Transport:
    """Sends requests with the retry, throttle, size and error policy above.

    ``http`` is one client or several alike (same base URL and headers), each request
    going to the one with the fewest requests in flight; ``pool``, when given, sends
    instead (to the same URL, with the same headers), and ``make_http`` builds the httpx
    client when one is first asked for (:attr:`http`). ``sleep`` and ``clock`` are
    injected so tests run the policy without waiting.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | Sequence[httpx.AsyncClient] = (),
        *,
        pool: http11.Pool | None = None,
        make_http: Callable[[], httpx.AsyncClient] | None = None,
        key: str = "",
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients: tuple[httpx.AsyncClient, ...] = tuple(http) if isinstance(http, Sequence) else (http,)
        if not self.clients and (pool is None or make_http is None):
            raise ValueError("a transport needs at least one client")
        self.pool = pool
        self._make_http = make_http
        self._built: httpx.AsyncClient | None = None
        # The server, for messages: a URL may carry a password, so without it.
        if self.clients:
            self.shown_url = str(self.clients[0].base_url.copy_with(userinfo=b""))
        else:
            assert pool is not None
            self.shown_url = pool.origin.url
        self._in_flight = [0] * len(self.clients)
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.key = key
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self._paused_until = 0.0  # shared by every request: the server asked us to wait
        self.requests_sent = 0

    @property
    def http(self) -> httpx.AsyncClient:
        """The (first) httpx client; with a pool, built when first asked for: ``wfsync
        doctor`` sets a response hook on it, and requests then go through it."""
        if not self.clients:
            assert self._make_http is not None
            self._built = self._make_http()
            self.clients, self._in_flight = (self._built,), [0]
        return self.clients[0]

    async def aclose(self) -> None:
        """Close the httpx client built here (clients handed in are their owner's to close)."""
        if self._built is not None:
            await self._built.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        repeatable: bool | None = None,
        decode: bool = True,
        lenient: bool = False,
    ) -> Any:
        """Send a request and return its decoded JSON (None for an empty body).

        ``repeatable`` says whether the request may be sent again after a 5xx or a lost
        answer; by default GET, PATCH and DELETE are and POST is not. With ``decode`` False
        the body of a success is not read at all (a write whose success is its status
        code); with ``lenient`` one that is not usable JSON gives None, not an error.
        """
        if repeatable is None:
            repeatable = method in ("GET", "HEAD", "PATCH", "DELETE", "PUT")
        shown = path + (("?" + "&".join(f"{k}={v}" for k, v in params.items())) if params else "")
        attempts = self.retry.attempts
        for attempt in range(attempts):
            await self._wait_for_pause()
            started = time.monotonic()
            cause: Exception
            try:
                status, headers, content = await self._send(method, path, params, body)
            except TimeoutError as exc:
                problem, cause = "timed out", exc
            except http11.ConnectFailed as exc:
                reason = f": {exc}" if str(exc) else ""
                problem, cause = f"could not connect to {self.shown_url}{reason}", exc
            except http11.HttpError as exc:
                problem, cause = str(exc), exc
            else:
                log.debug(
                    "%s %s -> %s in %.0f ms", method, shown, status, (time.monotonic() - started) * 1000
                )
                wait = self.retry.retry_after(headers.get("retry-after"), self.wall_clock())
                if status == 429:
                    wait = wait if wait is not None else self.retry.delay(attempt)
                    self._paused_until = max(self._paused_until, self.clock() + wait)
                    if attempt + 1 < attempts:
                        log.info("%s %s: throttled (429), waiting %.1f s", method, shown, wait)
                        continue
                elif status in RETRYABLE_STATUS and repeatable and attempt + 1 < attempts:
                    log.info("%s %s: %s, retrying", method, shown, status)
                    # A 503 may say when to come back (RFC 9110); otherwise back off.
                    await self.sleep(wait if wait is not None else self.retry.delay(attempt))
                    continue
                if status >= 400:
                    raise self.error(method, shown, status, content, attempt + 1)
                if status >= 300:  # redirects are not followed (the key would go along)
                    where = self.redact(headers.get("location", "elsewhere"))
                    hint = f"the API answers with a redirect to {where}: set the API URL it points to"
                    raise RequestError(method, shown, status, [], hint=hint)
                if not decode:
                    return None
                try:
                    return self._decode(method, shown, status, headers, content)
                except ProtocolError:
                    if lenient:
                        log.debug("%s %s: an answer that is not JSON; its status says enough", method, shown)
                        return None
                    # A garbled answer to a read may be a passing fault: read again.
                    if not repeatable or attempt + 1 >= attempts:
                        raise
                    log.info("%s %s: an answer that is not JSON, retrying", method, shown)
                    await self.sleep(self.retry.delay(attempt))
                    continue
            log.debug("%s %s: %s", method, shown, problem)
            if not repeatable or attempt + 1 >= attempts:
                hint = (
                    f"after {attempt + 1} attempt{'s' * (attempt > 0)}"
                    if repeatable
                    else "not retried here: the server may have acted on it"
                )
                raise TransportError(method, shown, None, [self.redact(problem)], hint=hint) from cause
            await self.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[int, Mapping[str, str], bytes]:
        self.requests_sent += 1
        pool = self.pool
        if pool is not None and not (self.clients and self.clients[0].event_hooks["response"]):
            async with asyncio.timeout(self.timeouts.total):
                return await pool.request(method, path, params, body)
        return await self._send_httpx(method, path, params, body)

    async def _send_httpx(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send through httpx; its failures leave as :mod:`wfsync.http11`'s, one vocabulary."""
        import httpx

        try:
            return await self._stream(method, path, params, body)
        except httpx.TimeoutException as exc:
            raise http11.Timeout("timed out") from exc
        except httpx.ConnectError as exc:
            raise http11.ConnectFailed() from exc
        except httpx.TransportError as exc:
            raise http11.HttpError(_describe_transport(exc)) from exc

    async def _stream(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[int, Mapping[str, str], bytes]:
        import httpx

        # The least busy client; on a tie the first, so a light load keeps to few
        # connections (kept alive) rather than opening one in every client.
        busy = self._in_flight
        shard = busy.index(min(busy))
        busy[shard] += 1
        try:
            async with asyncio.timeout(self.timeouts.total):
                async with self.clients[shard].stream(method, path, params=params, json=body) as response:
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_BODY_BYTES:
                            raise httpx.RemoteProtocolError(f"answer larger than {MAX_BODY_BYTES:,} bytes")
                        chunks.append(chunk)
                    return response.status_code, response.headers, b"".join(chunks)
        finally:
            busy[shard] -= 1

    async def _wait_for_pause(self) -> None:
        while (remaining := self._paused_until - self.clock()) > 0:
            await self.sleep(remaining)

    def redact(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text

    def error(self, method: str, path: str, status: int, content: bytes, attempts: int) -> ApiError:
        """The error for an answer with an error status (the conformance test maps each)."""
        # Redacted before the messages are cut short: a key across the cut would escape.
        content = content.replace(self.key.encode(), b"***") if self.key else content
        messages = [self.redact(message) for message in shapes.error_messages(content)]
        after = f"after {attempts} attempt{'s' * (attempts != 1)}"
        if status == 401:
            return AuthError(
                method, path, status, messages, hint="the API key was refused: check WFSYNC_API_KEY"
            )
        if status == 403:
            found = re.search(r"workflows:(read|write)", " ".join(messages))
            scope = found.group(0) if found else ("workflows:read" if method == "GET" else "workflows:write")
            return ForbiddenError(
                method, path, status, messages, scope=scope, hint=f"the API key needs the {scope} scope"
            )
        if status == 404:
            return NotFoundError(method, path, status, messages)
        if status == 429:
            return ThrottledError(method, path, status, messages, hint=f"still throttled {after}")
        if status >= 500:
            return ServerError(method, path, status, messages, hint=after if attempts > 1 else "")
        return RequestError(method, path, status, messages)

    def _decode(self, method: str, path: str, status: int, headers: Mapping[str, str], content: bytes) -> Any:
        if not content.strip():
            return None
        try:
            return safejson.loads(content)
        except safejson.JsonDepthError as exc:
            raise ProtocolError(method, path, status, [f"the answer is not usable: {exc}"]) from None
        except ValueError:
            kind = headers.get("content-type", "unknown type").split(";")[0]
            start = self.redact(content[: 60 + len(self.key)].decode("utf-8", "replace"))[:60]
            raise ProtocolError(
                method, path, status, [f"the answer is not JSON ({kind}): {start!r}"]
            ) from None


def _describe_transport(exc: httpx.TransportError) -> str:
    import httpx

    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection was dropped"
    return type(exc).__name__
