"""The API client: every answer form of SPEC §1, retries, errors a user can act on, and
a key that never shows."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from wfsync.api import ApiClient, OperateApi, RetryPolicy, Timeouts, WorkflowsApi
from wfsync.emulator import DEV_KEY, Dialect, EmulatorConfig, Faults
from wfsync.emulator.server import EmulatorServer
from wfsync.errors import (
    AuthError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RequestError,
    ServerError,
    ThrottledError,
    TransportError,
    UnsafeIdError,
)

KEY = "sk-live-0123456789abcdef"
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def with_emulator(server: EmulatorServer, action: Callable[[ApiClient], Any]) -> Any:
    async with ApiClient.connect(server.url, DEV_KEY, retry=FAST) as api:
        return await action(api)


# -- against the emulator, in each dialect ------------------------------------------------------

DIALECTS = {
    "data-envelope": Dialect(),
    "items-envelope": Dialect(envelope="items"),
    "bare-arrays": Dialect(envelope="bare", total=False),
    "mongo-ids": Dialect(id_key="_id"),
    "capped-pages-with-total": Dialect(page_cap=7),
    "capped-pages-no-total": Dialect(page_cap=7, total=False),
    "bare-capped-mongo": Dialect(envelope="bare", id_key="_id", page_cap=13, total=False),
    "string-errors": Dialect(errors="string"),
    "text-errors": Dialect(errors="text"),
}
# The other answer forms of SPEC §1 (writes, titles, defaults, jobs, dates).
ANSWER_FORMS = {
    "writes-bare-object": Dialect(writes="bare"),
    "writes-status-only": Dialect(writes="status"),
    "writes-update-result": Dialect(writes="update-result"),
    "writes-empty-204": Dialect(writes="empty"),
    "unique-titles": Dialect(unique_titles=True),
    "server-defaults": Dialect(defaults=True),
    "bullmq-jobs": Dialect(jobs="bullmq"),
    "dates-at-plus-0530": Dialect(offset_minutes=330),
    "all-at-once": Dialect(
        envelope="bare",
        id_key="_id",
        total=False,
        page_cap=13,
        writes="empty",
        unique_titles=True,
        defaults=True,
        jobs="bullmq",
        offset_minutes=-480,
    ),
}


@pytest.fixture(scope="module")
def emulator_in() -> Any:
    """One emulator per dialect for the module, emptied before each use."""
    servers: dict[Dialect, EmulatorServer] = {}

    def get(dialect: Dialect) -> EmulatorServer:
        if dialect not in servers:
            servers[dialect] = EmulatorServer(EmulatorConfig(dialect=dialect)).start()
        servers[dialect].store.reset()
        return servers[dialect]

    yield get
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
@pytest.mark.parametrize("count", [0, 1, 7, 100, 101, 250])
def test_the_listing_in_every_form(emulator_in: Any, dialect: Dialect, count: int) -> None:
    server: EmulatorServer = emulator_in(dialect)
    created = [
        server.store.create_workflow({"title": f"w{n:03d}", "endCall": {"phrases": ["bye"]}})
        for n in range(count)
    ]
    workflows = run(with_emulator(server, lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == [c["id"] for c in created]
    assert all(w.body == {"title": w.title, "endCall": {"phrases": ["bye"]}} for w in workflows)


EVERY_FORM = DIALECTS | ANSWER_FORMS


@pytest.mark.parametrize("dialect", EVERY_FORM.values(), ids=EVERY_FORM.keys())
def test_single_objects_and_jobs_in_every_form(emulator_in: Any, dialect: Dialect) -> None:
    server: EmulatorServer = emulator_in(dialect)
    when = "2099-01-01T00:00:00.000Z"

    async def scenario(api: ApiClient) -> None:
        created = await api.create_workflow({"title": "a"})
        assert (await api.get_workflow(created.id)).title == "a"
        await api.update_workflow(created.id, {"callbackUrl": "https://x.example.com/"})
        assert (await api.get_workflow(created.id)).body["callbackUrl"] == "https://x.example.com/"
        job_id = await api.schedule(created.id, when, "GMT")
        run_id = await api.run(created.id)
        jobs = await api.list_jobs(created.id)
        scheduled = [job for job in jobs if job.status == "scheduled"]
        assert len(scheduled) == 1 and scheduled[0].instant == when, "the same instant in any offset"
        assert job_id in (None, scheduled[0].id), "a schedule answer may name no job"
        assert {j.id for j in jobs} == {scheduled[0].id, run_id}
        assert (await api.get_job(scheduled[0].id)).status == "scheduled"
        cancelled = await api.cancel(created.id)
        assert set(cancelled) <= {scheduled[0].id, run_id}  # an answer may name none
        assert (await api.get_job(scheduled[0].id)).status == "cancelled"
        await api.delete_workflow(created.id)
        with pytest.raises(NotFoundError):
            await api.get_workflow(created.id)
        with pytest.raises(RequestError) as caught:
            await api.create_workflow({"title": ""})
        assert "title must not be empty" in str(caught.value)

    run(with_emulator(server, scenario))


def test_a_server_keeping_titles_unique_refuses_a_create_with_409(emulator_in: Any) -> None:
    server: EmulatorServer = emulator_in(Dialect(unique_titles=True))

    async def scenario(api: ApiClient) -> None:
        await api.create_workflow({"title": "Lead follow-up"})
        with pytest.raises(RequestError) as caught:
            await api.create_workflow({"title": "LEAD FOLLOW-UP"})
        assert caught.value.status == 409
        assert str(caught.value) == (
            "POST /v1/workflows: 409 Conflict: A workflow titled 'LEAD FOLLOW-UP' already exists"
        )

    run(with_emulator(server, scenario))
    assert len(server.store.list_workflows(0, 10)[0]) == 1


def test_fields_a_server_fills_in_are_read_as_sent(emulator_in: Any) -> None:
    server: EmulatorServer = emulator_in(Dialect(defaults=True))

    async def scenario(api: ApiClient) -> Any:
        created = await api.create_workflow({"title": "bare"})
        return (await api.list_workflows())[0], created

    listed, created = run(with_emulator(server, scenario))
    assert listed.id == created.id and listed.title == "bare"
    # The server stored "" and {} for what the body left out: read as absent (SPEC §1).
    assert listed.body == {"title": "bare"}


def test_a_key_without_write_scope_names_the_scope(start_emulator: Any) -> None:
    server = start_emulator(EmulatorConfig(keys={"reader": frozenset({"workflows:read"})}))

    async def scenario() -> None:
        async with ApiClient.connect(server.url, "reader") as api:
            await api.create_workflow({"title": "a"})

    with pytest.raises(ForbiddenError) as caught:
        run(scenario())
    assert caught.value.scope == "workflows:write"
    assert str(caught.value) == (
        "POST /v1/workflows: 403 Forbidden: Forbidden: this API key lacks the workflows:write scope "
        "(the API key needs the workflows:write scope)"
    )


def test_a_refused_key_is_401_and_never_shown(start_emulator: Any) -> None:
    server = start_emulator()

    async def scenario() -> None:
        async with ApiClient.connect(server.url, KEY) as api:
            await api.list_workflows()

    with pytest.raises(AuthError) as caught:
        run(scenario())
    assert "check WFSYNC_API_KEY" in str(caught.value) and KEY not in str(caught.value)


def test_faults_are_retried_until_the_listing_is_whole(start_emulator: Any) -> None:
    server = start_emulator(
        EmulatorConfig(faults=Faults(error_500=0.25, error_429=0.15, retry_after=0), seed=3)
    )
    for n in range(450):
        server.store.create_workflow({"title": f"w{n}"})

    async def scenario() -> tuple[int, int]:
        async with ApiClient.connect(
            server.url, DEV_KEY, retry=RetryPolicy(attempts=10, base_delay=0.001)
        ) as api:
            return len(await api.list_workflows()), api.requests_sent

    count, sent = run(scenario())
    assert count == 450 and sent > 5, "five pages, and some retries"


# -- against a scripted server ------------------------------------------------------------------


def scripted(*answers: Any, record: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """A transport answering in turn with each of ``answers`` (a Response or an exception)."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if record is not None:
            record.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    return httpx.MockTransport(handler)


async def call(
    transport: httpx.MockTransport,
    action: Callable[[ApiClient], Any],
    *,
    sleeps: list[float] | None = None,
    timeouts: Timeouts | None = None,
) -> Any:
    now = [0.0]

    async def sleep(seconds: float) -> None:  # the test runs without waiting
        now[0] += seconds
        if sleeps is not None:
            sleeps.append(seconds)

    async with ApiClient.connect(
        "https://api.example.test",
        KEY,
        retry=FAST,
        transport=transport,
        timeouts=timeouts,
        sleep=sleep,
        clock=lambda: now[0],
    ) as api:
        return await action(api)


def page(items: list[Any], **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": items, "pagination": {"total": len(items)}, **extra})


def wf(n: int, **fields: Any) -> dict[str, Any]:
    return {"_id": f"id{n}", "title": f"w{n}", "createdAt": "x", "__v": 0, **fields}


def test_total_wins_and_remaining_pages_are_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        number = int(request.url.params["page"])
        items = [wf(n) for n in range((number - 1) * 10, min(number * 10, 25))]
        return httpx.Response(200, json={"items": items, "meta": {"totalCount": 25}})

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == [f"id{n}" for n in range(25)]
    assert sorted(int(r.url.params["page"]) for r in seen) == [1, 2, 3]
    assert {r.url.params["limit"] for r in seen} == {"100"}


def test_a_live_body_equal_to_a_known_one_is_held_as_that_object() -> None:
    """A plan holds every definition and every live workflow: equal bodies are held once."""
    phrases = {"endCall": {"phrases": ["bye", "ciao"]}}
    known = {
        "w1": {"title": "w1", **phrases},
        "w2": {"title": "w2", "endCall": {"phrases": ["ciao", "bye"]}},  # equal as compared, not as written
    }
    listing = [wf(1, **phrases), wf(2, **phrases), wf(3, **phrases)]
    one, two, three = run(call(scripted(page(listing)), lambda api: api.list_workflows(known)))
    assert one.body is known["w1"] and one.title is known["w1"]["title"]
    assert two.body == {"title": "w2", **phrases} and two.body is not known["w2"]
    assert two.title is known["w2"]["title"] and two.body["title"] is known["w2"]["title"]
    assert two.body["endCall"] is not known["w2"]["endCall"]  # equal as compared, not as written
    assert three.body == {"title": "w3", **phrases}
    changed = {"w1": {"title": "w1", "callbackUrl": "https://crm.example.com/new", **phrases}}
    (first, *_) = run(call(scripted(page(listing)), lambda api: api.list_workflows(changed)))
    assert first.body == {"title": "w1", **phrases}  # its own, but the equal fields shared
    assert first.body is not changed["w1"] and first.body["endCall"] is changed["w1"]["endCall"]
    plain = run(call(scripted(page(listing)), lambda api: api.list_workflows()))
    assert [w.body for w in plain] == [one.body, two.body, three.body]


def test_a_server_that_ignores_page_does_not_loop_forever() -> None:
    seen: list[httpx.Request] = []
    same = [wf(n) for n in range(100)]
    workflows = run(
        call(scripted(httpx.Response(200, json=same), record=seen), lambda api: api.list_workflows())
    )
    assert len(workflows) == 100 and len(seen) == 2


def test_429_waits_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    transport = scripted(
        httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"),
        page([wf(1)]),
    )
    workflows = run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))
    assert [w.title for w in workflows] == ["w1"]
    assert sleeps == [2.0]


def test_one_429_pauses_every_worker() -> None:
    """A request started while another waits out a 429 waits too, instead of hitting the
    throttled server again."""
    import time as clock

    sent: list[tuple[str, float]] = []
    first = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path[-1], clock.monotonic()))
        if request.url.path.endswith("/a") and first[0]:
            first[0] = False
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, json={"id": request.url.path[-1], "title": "t"})

    async def scenario() -> float:
        async with ApiClient.connect(
            "https://api.example.test", KEY, retry=FAST, transport=httpx.MockTransport(handler)
        ) as api:
            throttled = asyncio.create_task(api.get_workflow("a"))
            await asyncio.sleep(0.1)  # a has been told to wait
            begun = clock.monotonic()
            await asyncio.gather(api.get_workflow("b"), throttled)
            return begun

    begun = run(scenario())
    times = dict(sent[1:])
    assert [name for name, _ in sent] == ["a", "a", "b"] or [name for name, _ in sent] == ["a", "b", "a"]
    assert times["b"] - sent[0][1] >= 0.95, "b was held until the pause ended"
    assert times["b"] - begun >= 0.85


def test_429_is_retried_even_for_a_create() -> None:
    transport = scripted(
        httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(201, json={"data": wf(1)})
    )
    created = run(call(transport, lambda api: api.create_workflow({"title": "w1"})))
    assert created.id == "id1"


def test_a_5xx_is_retried_for_a_get_but_never_for_a_create() -> None:
    seen: list[httpx.Request] = []
    transport = scripted(httpx.Response(503), httpx.Response(502), page([wf(1)]), record=seen)
    assert len(run(call(transport, lambda api: api.list_workflows()))) == 1 and len(seen) == 3
    seen.clear()
    transport = scripted(httpx.Response(500, json={"message": "boom"}), record=seen)
    with pytest.raises(ServerError) as caught:
        run(call(transport, lambda api: api.create_workflow({"title": "x"})))
    assert len(seen) == 1 and str(caught.value) == "POST /v1/workflows: 500 Internal Server Error: boom"


def test_dropped_connections_are_retried_for_reads_only() -> None:
    seen: list[httpx.Request] = []
    drop = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport = scripted(drop, httpx.ConnectError("refused"), page([wf(1)]), record=seen)
    assert len(run(call(transport, lambda api: api.list_workflows()))) == 1 and len(seen) == 3
    with pytest.raises(TransportError) as caught:
        run(call(scripted(drop), lambda api: api.create_workflow({"title": "x"})))
    assert "not retried here: the server may have acted on it" in str(caught.value)


def test_errors_after_every_retry() -> None:
    with pytest.raises(ThrottledError, match="still throttled after 4 attempts"):
        run(
            call(
                scripted(httpx.Response(429, headers={"Retry-After": "0"})), lambda api: api.list_workflows()
            )
        )
    with pytest.raises(ServerError, match=r"503 Service Unavailable: .*after 4 attempts"):
        run(call(scripted(httpx.Response(503, text="upstream down")), lambda api: api.list_workflows()))
    with pytest.raises(
        TransportError, match=r"could not connect to https://api.example.test \(after 4 attempts"
    ):
        run(call(scripted(httpx.ConnectError("refused")), lambda api: api.list_workflows()))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"statusCode": 400, "message": ["title must be a string", "x should not exist"]},
            "title must be a string; x should not exist",
        ),
        ({"status": False, "message": "title is required"}, "title is required"),
        ({"errors": [{"message": "bad title"}, {"message": "bad url"}]}, "bad title; bad url"),
        ("plain words from a proxy", "plain words from a proxy"),
        ("<html><head><title>400 Bad Request</title></head></html>", "an HTML page: 400 Bad Request"),
    ],
)
def test_every_error_body_form_is_read(body: Any, expected: str) -> None:
    answer = httpx.Response(400, json=body) if isinstance(body, dict) else httpx.Response(400, text=body)
    with pytest.raises(RequestError) as caught:
        run(call(scripted(answer), lambda api: api.create_workflow({"title": "x"})))
    assert str(caught.value) == f"POST /v1/workflows: 400 Bad Request: {expected}"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            200, text="<!doctype html><html>maintenance</html>", headers={"content-type": "text/html"}
        ),
        httpx.Response(200, text='{"data": [{"id": "a", "title"'),
        httpx.Response(200, json={"data": "not a list"}),
        httpx.Response(200, json={"data": [{"title": "no id"}]}),
        httpx.Response(200, json=[{"id": "x", "title": 5}]),
    ],
)
def test_garbage_is_a_protocol_error(answer: httpx.Response) -> None:
    with pytest.raises(ProtocolError):
        run(call(scripted(answer), lambda api: api.list_workflows()))


def test_an_endless_slow_body_ends_within_the_total_timeout() -> None:
    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            while True:
                await asyncio.sleep(0.01)
                yield b" "

    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=Trickle()))
    with pytest.raises(TransportError, match="timed out"):
        run(call(transport, lambda api: api.list_workflows(), timeouts=Timeouts(total=0.2)))


def test_the_key_never_appears_even_when_the_server_echoes_it() -> None:
    answer = httpx.Response(401, json={"message": f"key {KEY} is revoked"})
    with pytest.raises(AuthError) as caught:
        run(call(scripted(answer), lambda api: api.list_workflows()))
    assert KEY not in str(caught.value) and "key *** is revoked" in str(caught.value)


def test_job_states_are_normalised() -> None:
    answer = httpx.Response(
        200, json={"id": "j1", "status": "SUCCEEDED", "scheduledDate": "2027-01-01T00:00:00Z"}
    )
    job = run(call(scripted(answer), lambda api: api.get_job("j1")))
    assert job.status == "completed" and job.at is not None and job.at.year == 2027


def test_server_fields_and_unknown_subfields_are_not_managed() -> None:
    raw = wf(
        1,
        webhook={"url": "https://h.example.com", "secret": "s"},
        endCall={"phrases": ["a"], "mode": 1},
        callbackUrl=None,
        organizationId="o",
        status="active",
    )
    workflows = run(call(scripted(page([raw])), lambda api: api.list_workflows()))
    assert workflows[0].body == {
        "title": "w1",
        "webhook": {"url": "https://h.example.com"},
        "endCall": {"phrases": ["a"]},
    }


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it() -> None:
    async def scenario() -> None:
        async with ApiClient.connect("https://api.example.test", "bad\nkey"):
            pass

    with pytest.raises(ConfigError) as caught:
        run(scenario())
    assert "bad" not in str(caught.value)


def test_requests_carry_the_key_header() -> None:
    seen: list[httpx.Request] = []
    run(call(scripted(page([]), record=seen), lambda api: api.list_workflows()))
    assert seen[0].headers["X-API-Key"] == KEY
    assert json.loads(seen[0].content or b"null") is None


def test_retry_after_as_an_http_date() -> None:
    import email.utils
    import time as clock

    sleeps: list[float] = []
    when = email.utils.formatdate(clock.time() + 3, usegmt=True)
    transport = scripted(httpx.Response(429, headers={"Retry-After": when}), page([wf(1)]))
    run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))
    assert sleeps and 1.5 < sleeps[0] <= 3.5


def test_a_nonsense_retry_after_falls_back_to_backoff() -> None:
    sleeps: list[float] = []
    transport = scripted(httpx.Response(429, headers={"Retry-After": "soon"}), page([wf(1)]))
    run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))
    assert len(sleeps) == 1 and sleeps[0] <= FAST.max_delay


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"data": {"items": [wf(1)], "total": 1}}, ["id1"]),
        ({"results": [wf(2)], "meta": {"total": 1}}, ["id2"]),
        ([{"_id": {"$oid": "abc"}, "title": "t"}], ["abc"]),
    ],
)
def test_more_envelopes(payload: Any, expected: list[str]) -> None:
    workflows = run(call(scripted(httpx.Response(200, json=payload)), lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == expected


def test_an_answer_without_a_job_id_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="the answer carries no jobId"):
        run(call(scripted(httpx.Response(201, json={"status": True})), lambda api: api.run("w1")))


def test_an_empty_body_and_an_update_without_an_answer() -> None:
    assert (
        run(call(scripted(httpx.Response(200)), lambda api: api.update_workflow("w1", {"title": "x"})))
        is None
    )
    assert run(call(scripted(httpx.Response(204)), lambda api: api.delete_workflow("w1"))) is None


@pytest.mark.parametrize("value", ["Mon, garbage", "inf", "-5", ""])
def test_odd_retry_after_values_never_break(value: str) -> None:
    sleeps: list[float] = []
    transport = scripted(httpx.Response(429, headers={"Retry-After": value}), page([wf(1)]))
    assert len(run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))) == 1
    assert all(0 <= s <= 60 for s in sleeps)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(400, json=["first problem", "second problem"]), "first problem; second problem"),
        (httpx.Response(400, json="just a string"), "just a string"),
        (httpx.Response(400, text="<p>no title</p>"), "an HTML page"),
        (httpx.Response(400, json={"error": "Bad Request", "message": ""}), "Bad Request"),
        (httpx.Response(400, json=42), ""),
    ],
)
def test_more_error_bodies(answer: httpx.Response, expected: str) -> None:
    with pytest.raises(RequestError) as caught:
        run(call(scripted(answer), lambda api: api.create_workflow({"title": "x"})))
    assert str(caught.value).endswith(f"400 Bad Request{': ' + expected if expected else ''}")


def test_odd_workflow_shapes_are_kept_so_they_show_as_differences() -> None:
    from wfsync.body import project as project_body

    assert project_body({"title": None, "webhook": "https://plain.example.com", "endCall": ["bye"]}) == {
        "webhook": "https://plain.example.com",
        "endCall": ["bye"],
    }
    assert project_body({"title": "t", "webhook": {"secret": "s"}, "endCall": {"mode": 1}}) == {"title": "t"}


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        (lambda api: api.get_workflow("w1"), [wf(1)], "expected a workflow object, got list"),
        (lambda api: api.get_job("j1"), {"data": ["x"]}, "expected a job object, got list"),
        (lambda api: api.get_job("j1"), {"data": {"id": "j1"}}, "a job without an id or a status"),
        (
            lambda api: api.list_jobs("w1"),
            {"data": [5], "pagination": {"total": 1}},
            "expected a job object, got int",
        ),
    ],
)
def test_wrong_shapes_of_single_answers(action: Any, payload: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        run(call(scripted(httpx.Response(200, json=payload)), action))


def test_an_oversized_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import wfsync.transport

    monkeypatch.setattr(wfsync.transport, "MAX_BODY_BYTES", 1000)
    with pytest.raises(TransportError, match="the server closed the connection without a complete answer"):
        run(
            call(
                scripted(httpx.Response(200, content=b"[" + b" " * 5000 + b"]")),
                lambda api: api.list_workflows(),
            )
        )


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ReadError("reset"), "the connection was dropped"),
        (httpx.UnsupportedProtocol("x"), "UnsupportedProtocol"),
    ],
)
def test_transport_errors_are_named(error: Exception, words: str) -> None:
    with pytest.raises(TransportError, match=words):
        run(call(scripted(error), lambda api: api.list_workflows()))


def test_mongoose_style_pages_and_bullmq_states() -> None:
    answer = httpx.Response(200, json={"docs": [wf(1)], "totalDocs": 1, "hasNextPage": False})
    assert [w.id for w in run(call(scripted(answer), lambda api: api.list_workflows()))] == ["id1"]
    job = {"id": "j", "status": "delayed", "scheduledDate": 1_900_000_000_000}
    found = run(call(scripted(httpx.Response(200, json=job)), lambda api: api.get_job("j")))
    assert found.status == "scheduled" and found.at is not None and found.at.year == 2030


def test_every_error_status_of_the_emulator_maps_to_our_error(emulator_in: Any) -> None:
    """Each status the emulator can answer with becomes the error a user can act on."""
    from wfsync.errors import AuthError

    server: EmulatorServer = emulator_in(Dialect())
    cases = [
        (400, lambda api: api.create_workflow({"title": ""}), RequestError),
        (404, lambda api: api.get_workflow("nope"), NotFoundError),
        (405, lambda api: api.request("PUT", "/v1/workflows"), RequestError),
        (413, lambda api: api.create_workflow({"title": "x" * (1 << 20)}), RequestError),
    ]
    for status, action, error in cases:
        with pytest.raises(error) as caught:
            run(with_emulator(server, action))
        assert caught.value.status == status

    async def with_key(key: str, config: EmulatorConfig) -> None:
        faulty = EmulatorServer(config).start()
        try:
            async with ApiClient.connect(
                faulty.url, key, retry=RetryPolicy(attempts=2, base_delay=0.001)
            ) as api:
                await api.list_workflows()
        finally:
            faulty.stop()

    for status, key, config, error in [
        (401, "wrong", EmulatorConfig(), AuthError),
        (403, "w", EmulatorConfig(keys={"w": frozenset({"workflows:write"})}), ForbiddenError),
        (429, DEV_KEY, EmulatorConfig(faults=Faults(error_429=1.0, retry_after=0)), ThrottledError),
        (500, DEV_KEY, EmulatorConfig(faults=Faults(error_500=1.0)), ServerError),
    ]:
        with pytest.raises(error) as caught:
            run(with_key(key, config))
        assert caught.value.status == status


def test_a_503_with_retry_after_is_waited_out() -> None:
    sleeps: list[float] = []
    transport = scripted(httpx.Response(503, headers={"Retry-After": "4"}), page([wf(1)]))
    run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))
    assert sleeps == [4.0]


def test_scheduled_time_aliases() -> None:
    answer = httpx.Response(200, json={"id": "j", "status": "scheduled", "runAt": "2030-01-01T00:00:00Z"})
    job = run(call(scripted(answer), lambda api: api.get_job("j")))
    assert job.at is not None and job.at.year == 2030


def test_a_server_refusing_paging_parameters_still_gives_its_list() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        limit = request.url.params.get("limit")
        if limit == "100":
            return httpx.Response(400, json={"message": ["limit must not be greater than 50"]})
        if limit is not None:
            return httpx.Response(400, json={"message": ["property page should not exist"]})
        return httpx.Response(200, json=[wf(n) for n in range(3)])

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == ["id0", "id1", "id2"]
    assert [r.url.params.get("limit") for r in seen] == ["100", "20", None]


def test_a_server_capping_the_limit_at_twenty_after_refusing_a_hundred() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", "0"))
        if limit > 50:
            return httpx.Response(400, json={"message": "limit too large"})
        page = int(request.url.params["page"])
        items = [wf(n) for n in range((page - 1) * limit, min(page * limit, 45))]
        return httpx.Response(200, json={"data": items})

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert len(workflows) == 45


def test_a_garbled_answer_to_a_read_is_read_again() -> None:
    seen: list[httpx.Request] = []
    transport = scripted(httpx.Response(200, text='{"data": [{"id": "a"'), page([wf(1)]), record=seen)
    assert [w.id for w in run(call(transport, lambda api: api.list_workflows()))] == ["id1"]
    assert len(seen) == 2
    seen.clear()
    with pytest.raises(ProtocolError):
        run(
            call(
                scripted(httpx.Response(201, text="<html>"), record=seen),
                lambda api: api.create_workflow({"title": "x"}),
            )
        )
    assert len(seen) == 1, "a create is never sent twice"


def test_a_list_under_a_named_key_inside_data() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page_number = int(request.url.params["page"])
        items = [wf(n) for n in range((page_number - 1) * 2, min(page_number * 2, 5))]
        return httpx.Response(
            200, json={"status": True, "data": {"workflows": items, "pagination": {"total": 5, "limit": 2}}}
        )

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == [f"id{n}" for n in range(5)]
    assert len(seen) == 3, "the total inside data stopped it at page 3"


# -- the policy layer -----------------------------------------------------------------------------


def test_a_retry_after_of_a_day_waits_the_capped_maximum() -> None:
    sleeps: list[float] = []
    transport = scripted(httpx.Response(429, headers={"Retry-After": "86400"}), page([wf(1)]))
    run(call(transport, lambda api: api.list_workflows(), sleeps=sleeps))
    assert sleeps == [FAST.max_retry_after]


def test_a_dropped_create_answer_gives_exactly_one_post(start_emulator: Any) -> None:
    # Every create's answer is dropped (a share of 1, not left to chance): the server acted,
    # the client saw nothing, and this layer must not send it again.
    server = start_emulator(EmulatorConfig(faults=Faults(drop_create=1.0)))
    with pytest.raises(TransportError, match="not retried here"):
        run(with_emulator(server, lambda api: api.create_workflow({"title": "once"})))
    assert server.served.get("POST create_workflow") == 1
    assert [w["title"] for w in server.store.list_workflows(0, 10)[0]] == ["once"]


# -- transport trust --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://api.example.com", "http://10.0.0.5:8787", "http://user:pw-SECRET-url@api.example.com/"],
)
def test_plain_http_beyond_loopback_is_refused_before_any_connection(url: str) -> None:
    seen: list[httpx.Request] = []

    async def attempt() -> None:
        async with ApiClient.connect(url, KEY, transport=scripted(page([]), record=seen)) as api:
            await api.list_workflows()

    with pytest.raises(ConfigError, match="refusing to send the API key over plain http") as caught:
        run(attempt())
    assert seen == [] and KEY not in str(caught.value) and "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("https://api.example.com", False),
        ("http://127.0.0.1:8787", False),
        ("http://127.1.2.3", False),
        ("http://localhost:8787", False),
        ("http://[::1]:8787", False),
        ("http://api.example.com", True),  # --allow-insecure-http
    ],
)
def test_https_loopback_or_an_explicit_allowance_connects(url: str, allow: bool) -> None:
    seen: list[httpx.Request] = []

    async def attempt() -> Any:
        transport = scripted(page([wf(1)]), record=seen)
        async with ApiClient.connect(url, KEY, transport=transport, allow_insecure_http=allow) as api:
            return await api.list_workflows()

    assert len(run(attempt())) == 1 and len(seen) == 1


# -- server data is data ------------------------------------------------------------------------------


HOSTILE_ID = "../../__admin/reset?"


ONE = httpx.Response(200, json={"_id": HOSTILE_ID, "title": "t", "jobId": "j1"})
NONE = httpx.Response(200, json=[])


@pytest.mark.parametrize(
    ("action", "answer", "method", "suffix"),
    [
        (lambda api: api.delete_workflow(HOSTILE_ID), NONE, "DELETE", ""),
        (lambda api: api.update_workflow(HOSTILE_ID, {"title": "x"}), NONE, "PATCH", ""),
        (lambda api: api.get_workflow(HOSTILE_ID), ONE, "GET", ""),
        (lambda api: api.cancel(HOSTILE_ID), NONE, "POST", "/cancel"),
        (lambda api: api.run(HOSTILE_ID), ONE, "POST", "/run"),
        (lambda api: api.list_jobs(HOSTILE_ID), NONE, "GET", "/jobs"),
        (lambda api: api.summary(HOSTILE_ID, "report"), ONE, "GET", "/summary/report"),
    ],
)
def test_an_id_from_the_server_stays_one_path_segment(
    action: Any, answer: httpx.Response, method: str, suffix: str
) -> None:
    seen: list[httpx.Request] = []
    run(call(scripted(answer, record=seen), action))
    target = seen[0].url.raw_path.decode().split("?")[0]
    assert seen[0].method == method
    assert target == "/v1/workflows/..%2F..%2F__admin%2Freset%3F" + suffix
    assert "__admin/reset" not in target


def test_a_job_id_stays_one_path_segment_too() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"jobId": "a/b", "status": "queued"})
    run(call(scripted(answer, record=seen), lambda api: api.get_job("a/b#c")))
    assert seen[0].url.raw_path.decode() == "/v1/workflows/jobs/a%2Fb%23c"


@pytest.mark.parametrize("bad", ["..", ".", ""])
def test_an_id_that_would_move_the_path_is_refused_naming_it(bad: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(UnsafeIdError, match=f"the server gave the id {bad!r}, which cannot name"):
        run(call(scripted(page([]), record=seen), lambda api: api.delete_workflow(bad)))
    assert seen == []


def test_two_workflows_with_one_id_are_an_error_naming_it() -> None:
    answer = page([wf(1), {"_id": "id1", "title": "another"}])
    with pytest.raises(ProtocolError, match="two workflows share the id 'id1' \\('w1' and 'another'\\)"):
        run(call(scripted(answer), lambda api: api.list_workflows()))


def test_a_live_body_whose_title_is_not_known_is_added_for_a_definition_read_later() -> None:
    known: dict[str, Any] = {"w1": {"title": "w1"}}
    phrases = {"endCall": {"phrases": ["bye", "ciao"]}}
    listing = page([wf(1), wf(2, **phrases), wf(3, **phrases)])
    one, two, three = run(call(scripted(listing), lambda api: api.list_workflows(known)))
    assert one.body is known["w1"]
    assert known["w2"] is two.body == {"title": "w2", **phrases}
    assert known["w3"] is three.body == {"title": "w3", **phrases}
    # Before their definitions are read, neighbours hold their equal values once.
    assert three.body["endCall"] is two.body["endCall"]


def test_the_same_workflow_seen_twice_counts_once() -> None:
    # Pages shifting under a concurrent create show one record on two pages.
    answer = page([wf(1), wf(2), wf(1)])
    assert [w.id for w in run(call(scripted(answer), lambda api: api.list_workflows()))] == ["id1", "id2"]


def numbered_pages(
    size: int, *, last: int | None = None, total: int | None = None, seen: list[int] | None = None
) -> httpx.MockTransport:
    """Pages of ``size`` distinct workflows; page ``last`` (if any) one item short, then none."""

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if seen is not None:
            seen.append(number)
        count = 0 if last is not None and number > last else size - (number == last)
        items = [wf(number * 1000 + n) for n in range(count)]
        extra = {"pagination": {"total": total}} if total is not None else {}
        return httpx.Response(200, json={"data": items, **extra})

    return httpx.MockTransport(handler)


def test_a_listing_without_a_total_stops_after_a_page_one_item_short() -> None:
    seen: list[int] = []
    workflows = run(call(numbered_pages(100, last=3, seen=seen), lambda api: api.list_workflows()))
    assert len(workflows) == 299 and seen == [1, 2, 3]


def test_a_huge_stated_total_is_trusted_only_as_far_as_pages_deliver() -> None:
    seen: list[int] = []
    transport = numbered_pages(3, last=1, total=10**12, seen=seen)
    workflows = run(call(transport, lambda api: api.list_workflows()))
    assert len(workflows) == 2 and seen == [1, 2]  # page 1 short by one: page 2 shows the end

    seen.clear()
    transport = numbered_pages(100, last=5, total=10**12, seen=seen)
    assert len(run(call(transport, lambda api: api.list_workflows()))) == 499
    # 1, then 2, then 4 at once (as many as received): 3 pages past the end, not 10^10.
    assert sorted(seen) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_slow_page_does_not_hold_back_the_pages_after_it() -> None:
    """The window slides: with pages 1-3 in hand, pages 5 and 6 are asked for while 4 is
    still on its way (a batch would wait for its slowest page, idling both sides)."""
    asked: list[int] = []
    later_asked = asyncio.Event()
    answered_4: list[int] = []  # how many pages were asked for when page 4 was answered

    async def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        asked.append(number)
        if number >= 5:
            later_asked.set()
        if number == 4:
            await asyncio.wait_for(later_asked.wait(), 10)  # a batch never asks for 5: timeout
            answered_4.append(len(asked))
        items = [wf(number * 1000 + n) for n in range(100)]
        return httpx.Response(200, json={"data": items, "pagination": {"total": 800}})

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert [w.id for w in workflows] == [f"id{p * 1000 + n}" for p in range(1, 9) for n in range(100)]
    assert answered_4 and answered_4[0] >= 5
    assert sorted(asked) == list(range(1, 9))  # the total is reached: no page past it


def test_a_listing_of_exactly_the_most_pages_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import wfsync.api

    monkeypatch.setattr(wfsync.api, "MAX_PAGES", 20)
    seen: list[int] = []
    workflows = run(call(numbered_pages(100, total=2000, seen=seen), lambda api: api.list_workflows()))
    assert len(workflows) == 2000 and sorted(seen) == list(range(1, 21))


def test_a_listing_that_never_ends_is_an_error_not_a_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    import wfsync.api

    monkeypatch.setattr(wfsync.api, "MAX_PAGES", 20)
    seen: list[int] = []
    with pytest.raises(ProtocolError, match="the listing had not ended after 20 pages"):
        run(call(numbered_pages(100, seen=seen), lambda api: api.list_workflows()))
    assert max(seen) <= 20


def test_a_listing_past_its_deadline_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import wfsync.api

    monkeypatch.setattr(wfsync.api, "LISTING_DEADLINE", 5.0)
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        now[0] += 1.0  # every page takes a second
        number = int(request.url.params["page"])
        return httpx.Response(200, json=[wf(number * 1000 + n) for n in range(10)])

    async def scenario() -> Any:
        transport = httpx.MockTransport(handler)
        async with ApiClient.connect(
            "https://api.example.test", KEY, retry=FAST, transport=transport, clock=lambda: now[0]
        ) as api:
            return await api.list_workflows()

    with pytest.raises(ProtocolError, match=r"had not ended .*at most .* or 5 s"):
        run(scenario())
    assert now[0] <= 7


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        httpx.Response(200, content=b"[" * 40 + b"]" * 40),
    ],
)
def test_deeply_nested_json_from_a_server_is_a_one_line_error(answer: httpx.Response) -> None:
    with pytest.raises(ProtocolError, match="nested deeper than") as caught:
        run(call(scripted(answer), lambda api: api.list_workflows()))
    assert "\n" not in str(caught.value)


def test_a_deeply_nested_error_body_is_still_read_as_text() -> None:
    answer = httpx.Response(400, content=b'{"message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    with pytest.raises(RequestError, match="400 Bad Request"):
        run(call(scripted(answer), lambda api: api.create_workflow({"title": "x"})))


# -- writes rely on the status code alone ----------------------------------------------------------

WRITE_ANSWERS = {
    "status-only": httpx.Response(200, json={"status": True, "message": "updated"}),
    "update-result": httpx.Response(
        200, json={"status": True, "data": {"acknowledged": True, "matchedCount": 1, "modifiedCount": 1}}
    ),
    "empty-204": httpx.Response(204),
    "bare-object": httpx.Response(200, json={"_id": "w1", "title": "t", "createdAt": "x"}),
    "wrapped-object": httpx.Response(200, json={"data": {"_id": "w1", "title": "t"}}),
    "a-list": httpx.Response(200, json=[]),
    "text": httpx.Response(200, text="OK"),
    "a-deep-body": httpx.Response(200, content=b"[" * 100 + b"]" * 100),
}


@pytest.mark.parametrize("answer", WRITE_ANSWERS.values(), ids=WRITE_ANSWERS.keys())
def test_every_write_succeeds_on_any_2xx_whatever_its_body(answer: httpx.Response) -> None:
    seen: list[httpx.Request] = []

    async def writes(api: ApiClient) -> Any:
        await api.update_workflow("w1", {"title": "x"})
        await api.delete_workflow("w1")
        return await api.cancel("w1"), await api.schedule("w1", "2099-01-01T00:00:00.000Z", "GMT")

    cancelled, job_id = run(call(scripted(answer, record=seen), writes))
    assert isinstance(cancelled, list)
    assert job_id is None or isinstance(job_id, str)  # a bare job object's id is its job id
    assert [r.method for r in seen] == ["PATCH", "DELETE", "POST", "POST"], "each sent once"


def test_a_schedule_answer_with_a_job_id_gives_it() -> None:
    answer = httpx.Response(201, json={"status": True, "data": {"jobId": "job_7"}})
    assert (
        run(call(scripted(answer), lambda api: api.schedule("w1", "2099-01-01T00:00:00Z", "GMT"))) == "job_7"
    )


def test_a_write_refused_is_still_an_error() -> None:
    with pytest.raises(NotFoundError):
        run(
            call(
                scripted(httpx.Response(404, json={"message": "gone"})),
                lambda api: api.update_workflow("w", {}),
            )
        )


# -- the protocol the planning and applying code depends on ------------------------------------------


def test_the_client_and_the_tests_fake_implement_the_protocol() -> None:
    # mypy checks these assignments (tests/test_apply.py's FakeApi, with no type: ignore).
    from tests.test_apply import FakeApi

    def as_api(api: WorkflowsApi) -> WorkflowsApi:
        return api

    def as_operate(api: OperateApi) -> OperateApi:
        return api

    async def both() -> None:
        async with ApiClient.connect("https://api.example.test", KEY, transport=scripted(page([]))) as api:
            assert as_operate(api) is api and as_api(api) is api

    assert as_api(FakeApi()) is not None
    run(both())


def test_the_command_line_refuses_plain_http_beyond_loopback_unless_allowed(
    emulator: EmulatorServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from wfsync.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    emulator.store.create_workflow({"title": "Lead follow-up"})
    # 0.0.0.0 is no loopback name, yet on this machine it reaches the emulator: no internet.
    url = emulator.url.replace("127.0.0.1", "0.0.0.0")
    refused = CliRunner().invoke(main, ["jobs", "Lead follow-up", "--api-url", url], catch_exceptions=False)
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "Error: refusing to send the API key over plain http to 0.0.0.0: use https "
        "(or --allow-insecure-http on a network you trust)"
    )
    assert emulator.served == {}, "refused before any request"
    allowed = CliRunner().invoke(
        main, ["jobs", "Lead follow-up", "--api-url", url, "--allow-insecure-http"], catch_exceptions=False
    )
    assert allowed.exit_code == 0, allowed.output


def test_pages_fetched_past_a_short_page_are_not_part_of_the_listing() -> None:
    # Pages 3 and 4 are asked for at once; 3 is short, so 4 (whatever it holds) is past the end.
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        count = 99 if number == 3 else 100
        items = [wf(number * 1000 + n) for n in range(count)]
        return httpx.Response(200, json={"data": items, "pagination": {"total": 1000}})

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert len(workflows) == 299


def test_an_error_of_a_page_past_the_end_is_not_the_listings_even_when_it_comes_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A total that overstates (workflows deleted meanwhile) has page 4 asked for beside
    page 3; a server refusing a page past its last (404, as Django REST framework does)
    answers 4 first. Page 3 is short: the listing ends there, whichever answer came first."""
    page_4_answered = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if number == 4:
            page_4_answered.set()
            return httpx.Response(404, json={"detail": "Invalid page."})
        if number == 3:
            await asyncio.wait_for(page_4_answered.wait(), 10)
        items = [wf(number * 1000 + n) for n in range(50 if number == 3 else 100)]
        return httpx.Response(200, json={"data": items, "pagination": {"total": 400}})

    workflows = run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))
    assert len(workflows) == 250
    gc.collect()  # page 4's task, its error never taken, is not logged as "never retrieved"
    assert "never retrieved" not in caplog.text


def test_an_error_of_a_page_within_the_listing_is_its_error_after_pages_before_it() -> None:
    # Page 4 fails while page 3, full, is still on its way: the error is the listing's.
    page_4_answered = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if number == 4:
            page_4_answered.set()
            return httpx.Response(200, json={"data": {"not": "a list"}})
        if number == 3:
            await asyncio.wait_for(page_4_answered.wait(), 10)
        items = [wf(number * 1000 + n) for n in range(100)]
        return httpx.Response(200, json={"data": items, "pagination": {"total": 800}})

    with pytest.raises(ProtocolError, match=r"page=4&limit=100: 200 OK: expected a list, got dict$"):
        run(call(httpx.MockTransport(handler), lambda api: api.list_workflows()))


def test_a_redirect_is_no_success_and_is_not_followed() -> None:
    seen: list[httpx.Request] = []
    moved = httpx.Response(301, headers={"Location": "https://new.example.test/v1/workflows/w1"})
    with pytest.raises(RequestError) as caught:
        run(call(scripted(moved, record=seen), lambda api: api.update_workflow("w1", {"title": "x"})))
    assert len(seen) == 1 and str(caught.value) == (
        "PATCH /v1/workflows/w1: 301 Moved Permanently (the API answers with a redirect to "
        "https://new.example.test/v1/workflows/w1: set the API URL it points to)"
    )
