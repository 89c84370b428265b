"""API keys and scopes: 401 without a known key, 403 naming the missing scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import FAST_JOBS
from wfsync.emulator import EmulatorConfig
from wfsync.emulator.server import EmulatorServer

READ_ONLY, WRITE_ONLY, BOTH = "reader-key", "writer-key", "admin-key"
KEYS = {
    READ_ONLY: frozenset({"workflows:read"}),
    WRITE_ONLY: frozenset({"workflows:write"}),
    BOTH: frozenset({"workflows:read", "workflows:write"}),
}
WID = "665e4a34c65bb95f2f2d72e1"
# (method, path, body, scope it needs)
ENDPOINTS = [
    ("GET", "/v1/workflows", None, "workflows:read"),
    ("POST", "/v1/workflows", {"title": "t"}, "workflows:write"),
    ("GET", f"/v1/workflows/{WID}", None, "workflows:read"),
    ("PATCH", f"/v1/workflows/{WID}", {"title": "t"}, "workflows:write"),
    ("DELETE", f"/v1/workflows/{WID}", None, "workflows:write"),
    ("POST", f"/v1/workflows/{WID}/run", None, "workflows:write"),
    ("POST", f"/v1/workflows/{WID}/cancel", None, "workflows:write"),
    ("GET", f"/v1/workflows/{WID}/jobs", None, "workflows:read"),
    ("GET", "/v1/workflows/jobs/job_01hxyz", None, "workflows:read"),
    (
        "POST",
        "/v1/workflows/schedule",
        {"workFlowId": WID, "scheduledDate": "2099-01-01T00:00:00Z", "timezone": "GMT"},
        "workflows:write",
    ),
    ("GET", f"/v1/workflows/{WID}/summary", None, "workflows:read"),
    ("GET", f"/v1/workflows/{WID}/summary/timeline", None, "workflows:read"),
    ("GET", f"/v1/workflows/{WID}/summary/report", None, "workflows:read"),
]


@pytest.fixture(scope="module")
def keyed() -> Iterator[EmulatorServer]:
    server = EmulatorServer(EmulatorConfig(keys=KEYS, timing=FAST_JOBS)).start()
    yield server
    server.stop()


def call(server: EmulatorServer, method: str, path: str, body: object, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.request(method, server.url + path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_missing_or_unknown_key_is_401(
    keyed: EmulatorServer, method: str, path: str, body: object, scope: str, key: str | None
) -> None:
    response = call(keyed, method, path, body, key)
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["message"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_key_without_the_scope_is_403_naming_it(
    keyed: EmulatorServer, method: str, path: str, body: object, scope: str
) -> None:
    lacking = WRITE_ONLY if scope == "workflows:read" else READ_ONLY
    response = call(keyed, method, path, body, lacking)
    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": f"Forbidden: this API key lacks the {scope} scope",
    }


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_key_with_the_scope_gets_past_auth(
    keyed: EmulatorServer, method: str, path: str, body: object, scope: str
) -> None:
    status = call(keyed, method, path, body, BOTH).status_code
    assert status not in (401, 403)


def test_a_read_only_key_changes_nothing(keyed: EmulatorServer) -> None:
    before = call(keyed, "GET", "/v1/workflows", None, READ_ONLY).json()["pagination"]["total"]
    assert call(keyed, "POST", "/v1/workflows", {"title": "t"}, READ_ONLY).status_code == 403
    assert call(keyed, "GET", "/v1/workflows", None, READ_ONLY).json()["pagination"]["total"] == before


def test_the_development_key_has_both_scopes(emulator: EmulatorServer) -> None:
    for method, path, body, _ in ENDPOINTS:
        assert call(emulator, method, path, body, "wfsync-dev-key").status_code not in (401, 403)


def test_openapi_needs_no_key(start_emulator: Callable[..., EmulatorServer]) -> None:
    server = start_emulator(EmulatorConfig(keys=KEYS))
    assert httpx.get(server.url + "/openapi.json").json()["openapi"] == "3.1.0"


def test_every_key_is_compared_in_constant_time(
    keyed: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    import wfsync.emulator.app as app_module

    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", compare_digest)
    assert call(keyed, "GET", "/v1/workflows", None, READ_ONLY).status_code == 200
    # Each configured key once, even after the right one matched: no early exit to time.
    assert sorted(b for _, b in compared) == sorted(k.encode() for k in KEYS)
    compared.clear()
    assert call(keyed, "GET", "/v1/workflows", None, "reader-kez").status_code == 401
    assert len(compared) == len(KEYS)


def test_a_key_that_is_not_ascii_is_refused_not_a_crash(keyed: EmulatorServer) -> None:
    response = httpx.get(keyed.url + "/v1/workflows", headers={"X-API-Key": "clé-é".encode("latin-1")})
    assert response.status_code == 401
