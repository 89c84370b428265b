"""A server that keeps changing a field back: the apply says so once, and later plans stop
proposing the same update (remembered in .wfsync/normalised.json, digests only)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FAST_JOBS
from wfsync.cli import main
from wfsync.emulator import DEV_KEY, EmulatorConfig
from wfsync.emulator.app import create_app
from wfsync.emulator.server import AppServer
from wfsync.emulator.store import Store


class LowerCasesUrls:
    """ASGI middleware: the server stores every callbackUrl lower-cased."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("callbackUrl"), str):
                data["callbackUrl"] = data["callbackUrl"].lower()
                body = json.dumps(data).encode()
        except ValueError:
            pass
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_a_normalised_field_is_reported_once_then_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(":memory:", timing=FAST_JOBS)
    with AppServer(LowerCasesUrls(create_app(EmulatorConfig(timing=FAST_JOBS), store))) as server:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
        monkeypatch.setenv("WFSYNC_API_URL", server.url)
        monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path / "locks"))
        Path("workflows").mkdir()
        Path("workflows/w.yaml").write_text(
            "workflows:\n  - title: A\n    callbackUrl: https://CRM.example.com/Done\n", encoding="utf-8"
        )
        applied = cli("apply", "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert (
            "Warning: the server normalises callbackUrl of 'A' "
            '(sent "https://CRM.example.com/Done", keeps "https://crm.example.com/done")'
        ) in applied.output
        assert store.list_workflows(0, 10)[0][0]["callbackUrl"] == "https://crm.example.com/done"
        mode = os.stat(".wfsync/normalised.json").st_mode
        assert stat.S_IMODE(mode) == 0o600
        assert "crm.example.com" not in Path(".wfsync/normalised.json").read_text(encoding="utf-8")

        again = cli("plan", "--detailed-exitcode")
        assert again.exit_code == 0, again.output
        assert "the server normalises callbackUrl of 'A'" in again.output

        Path("workflows/w.yaml").write_text(
            "workflows:\n  - title: A\n    callbackUrl: https://crm.example.com/other\n", encoding="utf-8"
        )
        changed = cli("plan", "--detailed-exitcode")
        assert changed.exit_code == 2, "another value is planned as usual"
