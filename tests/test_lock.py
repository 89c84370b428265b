"""The apply lock's key: one API, one lock, however its URL is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfsync.lock import LockTimeout, apply_lock, lock_key, lock_path


@pytest.mark.parametrize(
    "same",
    [
        ["https://api.example.com", "https://api.example.com/", "HTTPS://API.Example.COM:443/"],
        ["http://localhost:8787", "http://127.0.0.1:8787/", "http://[::1]:8787", "http://LOCALHOST:8787"],
        ["http://127.0.0.1", "http://127.0.0.1:80", "http://localhost/"],
        ["https://api.example.com/v2", "https://api.example.com:443/v2/"],
        ["https://user:secret@api.example.com", "https://api.example.com?x=1"],
    ],
)
def test_one_api_written_differently_has_one_lock(same: list[str]) -> None:
    assert len({lock_key(name) for name in same}) == 1
    assert len({lock_path(name) for name in same}) == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://api.example.com", "http://api.example.com"),  # another scheme
        ("http://127.0.0.1:8787", "http://127.0.0.1:8788"),  # another port
        ("https://api.example.com", "https://api.example.org"),
        ("https://api.example.com/v1", "https://api.example.com/v2"),
        ("sandbox:.wfsync/sandbox.db", "sandbox:.wfsync/sandbox-prod.db"),
    ],
)
def test_different_apis_have_different_locks(one: str, other: str) -> None:
    assert lock_path(one) != lock_path(other)


def test_the_key_names_no_password() -> None:
    assert "pw-SECRET-lock" not in lock_key("https://me:pw-SECRET-lock@api.example.com")
    assert lock_key("https://me:pw-SECRET-lock@api.example.com") == "https://api.example.com:443"


def test_a_name_that_is_no_url_is_kept() -> None:
    assert lock_key("sandbox:.wfsync/sandbox.db") == "sandbox:.wfsync/sandbox.db"
    assert lock_key("http://[bad") == "http://[bad"


def test_a_lock_held_elsewhere_names_the_api_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path))
    name = "https://me:pw-SECRET-lock@api.example.com"
    path = lock_path("https://api.example.com")  # the same lock, written another way
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockTimeout) as caught, apply_lock(name, timeout=0):
            pass
    assert str(caught.value).startswith("another wfsync apply against https://***@api.example.com is running")
    assert "SECRET" not in str(caught.value)


def test_accounts_reached_through_one_url_have_their_own_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path))
    url = "https://api.indigenius.ai"
    assert lock_path(url, "acme") != lock_path(url, "globex") != lock_path(url)
    assert lock_path(url, "acme") == lock_path("HTTPS://API.indigenius.ai:443/", "acme")
    with apply_lock(url, account="acme", timeout=0), apply_lock(url, account="globex", timeout=0):
        pass  # two accounts at once: neither waits for the other
