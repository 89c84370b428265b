"""The URL check's fast path accepts only what the full check accepts."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync.schema import _PLAIN_URL, is_http_url

PIECES = [
    "http",
    "https",
    "HTTP",
    "://",
    ":",
    "/",
    "?",
    "#",
    "@",
    "[",
    "]",
    "a",
    "x.example.com",
    "8080",
    "99999",
    " ",
    "\t",
    "\n",
    "%20",
    "..",
    "-",
    "é",
    "\x00",
    "user:pw@",
    "${X}",
]


def full_check(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=12).map("".join))
def test_the_fast_path_accepts_a_subset_of_the_full_check(value: str) -> None:
    if _PLAIN_URL.fullmatch(value):
        assert full_check(value), value
    assert is_http_url(value) == full_check(value)


def test_plain_urls_take_the_fast_path() -> None:
    for url in ["https://client.example.com/hooks/t0k3n/7", "http://127.0.0.1:8787/v1?a=b#c", "https://x"]:
        assert _PLAIN_URL.fullmatch(url) and is_http_url(url)
    for url in ["https://user:pw@x.example.com/", "https://[::1]/", "HTTPS://X"]:
        assert not _PLAIN_URL.fullmatch(url) and is_http_url(url)
    for url in ["https://", "ftp://x", "https://x/a b", "https:///path", "x.example.com"]:
        assert not is_http_url(url)
