"""--notify: one Slack-compatible message per change of state (in sync <-> drifted), posted to
a local HTTP server; the state file remembers; the URL never shows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wfsync.notify import EnvState, NotifyError, notify_on_change

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-notify-secret-8c1f"


class Hook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_posts_only_when_the_state_changes(hook: Hook, tmp_path: Path) -> None:
    state = tmp_path / "cache" / "notify.json"
    in_sync = [EnvState("staging", False), EnvState("production", False)]
    assert notify_on_change(hook.url, state, in_sync) == [] and hook.posts == []  # first run, quiet

    drifted = [EnvState("staging", False), EnvState("production", True, {"update": 2, "delete": 1})]
    changed = notify_on_change(hook.url, state, drifted, link="https://ci.example/run/7")
    assert [env.name for env in changed] == ["production"]
    (post,) = hook.posts
    assert set(post) == {"text"}
    assert "*production* has drifted" in post["text"] and "2 to update, 1 to delete" in post["text"]
    assert "https://ci.example/run/7" in post["text"] and "staging" not in post["text"]

    notify_on_change(hook.url, state, drifted)  # still drifted: nobody is told again
    assert len(hook.posts) == 1
    notify_on_change(hook.url, state, in_sync)
    assert len(hook.posts) == 2 and "*production* is back in sync" in hook.posts[1]["text"]
    assert json.loads(state.read_text()) == {"production": "in sync", "staging": "in sync"}


def test_a_first_run_with_drift_tells(hook: Hook, tmp_path: Path) -> None:
    notify_on_change(hook.url, tmp_path / "s.json", [EnvState("default", True, {"create": 3})])
    assert "3 to create" in hook.posts[0]["text"]


def test_a_refused_post_keeps_the_old_state_and_hides_the_url(hook: Hook, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    hook.status = 500
    with pytest.raises(NotifyError) as caught:
        notify_on_change(hook.url, state, [EnvState("default", True)])
    assert str(caught.value) == "the notification was refused: HTTP 500"
    assert not state.exists()  # tried again next night
    hook.status = 200
    notify_on_change(hook.url, state, [EnvState("default", True)])
    assert len(hook.posts) == 2


def test_an_unreachable_hook_is_one_line_without_the_url(tmp_path: Path) -> None:
    with pytest.raises(NotifyError) as caught:
        notify_on_change(f"http://127.0.0.1:9{SECRET_PATH}", tmp_path / "s.json", [EnvState("d", True)])
    assert "SECRET" not in str(caught.value) and "could not be posted" in str(caught.value)


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"a": 1}'])
def test_a_broken_state_file_is_one_line(tmp_path: Path, content: str) -> None:
    state = tmp_path / "s.json"
    state.write_text(content)
    with pytest.raises(NotifyError, match="notification state"):
        notify_on_change("http://127.0.0.1:9/", state, [EnvState("d", True)])
