"""Parsing the emulator's --key, --fault and --dialect options."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wfsync.emulator.config import (
    DEV_KEY,
    SCOPES,
    Dialect,
    Faults,
    exposure_warning,
    parse_dialect,
    parse_faults,
    parse_keys,
)
from wfsync.errors import EmulatorConfigError


def test_faults() -> None:
    faults = parse_faults(["latency=20ms,500=10%", "429=0.05,retry-after=1.5", "drop-create=20%"])
    assert faults == Faults(latency=0.02, error_500=0.1, error_429=0.05, retry_after=1.5, drop_create=0.2)
    assert parse_faults([]) == Faults() and not Faults().any and faults.any


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency", "expected NAME=VALUE"),
        ("latency=fast", "'fast' is not a duration such as 20ms or 1.5s"),
        ("500=150%", "'150%' is not between 0 and 1"),
        ("500=lots", "'lots' is not a share such as 0.1 or 10%"),
        (
            "timeout=1",
            "unknown fault 'timeout' (known: latency, 500, 429, retry-after, drop-create)",
        ),
    ],
)
def test_bad_faults(spec: str, message: str) -> None:
    with pytest.raises(EmulatorConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_faults([spec])


def test_keys() -> None:
    assert parse_keys(["a=workflows:read", "b=workflows:read,workflows:write", "c="]) == {
        "a": frozenset({"workflows:read"}),
        "b": frozenset({"workflows:read", "workflows:write"}),
        "c": frozenset(),
    }
    with pytest.raises(EmulatorConfigError, match="unknown scope 'workflows:admin'"):
        parse_keys(["a=workflows:admin"])
    with pytest.raises(EmulatorConfigError, match="expected KEY=SCOPES"):
        parse_keys(["just-a-key"])


def test_dialect() -> None:
    assert parse_dialect(["envelope=items,id=_id", "page-cap=7,total=no,errors=text"]) == Dialect(
        envelope="items", id_key="_id", page_cap=7, total=False, errors="text"
    )
    for bad in ("envelope=xml", "page-cap=0", "total=maybe", "colour=red"):
        with pytest.raises(EmulatorConfigError):
            parse_dialect([bad])


def test_the_answer_forms_of_spec_section_1() -> None:
    spec = "writes=update-result,titles=unique,defaults=yes,jobs=bullmq,offset=+05:30"
    assert parse_dialect([spec]) == Dialect(
        writes="update-result", unique_titles=True, defaults=True, jobs="bullmq", offset_minutes=330
    )
    assert parse_dialect(["offset=-0800"]).offset_minutes == -480
    assert parse_dialect(["offset=Z", "titles=free"]) == Dialect()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("writes=xml", "dialect writes: 'xml' is not one of object, bare, status, update-result, empty"),
        ("titles=maybe", "dialect titles: 'maybe' is not free or unique"),
        ("defaults=1", "dialect defaults: '1' is not yes or no"),
        ("jobs=celery", "dialect jobs: 'celery' is not one of platform, bullmq"),
        ("offset=5", "dialect offset: '5' is not a UTC offset such as +05:30 or Z"),
        ("offset=+24:00", "dialect offset: '+24:00' is not between -23:59 and +23:59"),
        ("offset=+05:75", "dialect offset: '+05:75' is not between"),
    ],
)
def test_bad_answer_forms(spec: str, message: str) -> None:
    with pytest.raises(EmulatorConfigError, match=re.escape(message)):
        parse_dialect([spec])


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "emulator.example.com"])
def test_listening_beyond_loopback_with_the_development_key_warns(host: str) -> None:
    warning = exposure_warning(host, {DEV_KEY: SCOPES})
    assert warning is not None and warning.startswith(f"Warning: listening on {host}, beyond this machine")
    assert "--key KEY=SCOPES" in warning


@pytest.mark.parametrize(
    ("host", "keys"),
    [
        ("127.0.0.1", {DEV_KEY: SCOPES}),
        ("::1", {DEV_KEY: SCOPES}),
        ("localhost", {DEV_KEY: SCOPES}),
        ("0.0.0.0", {"a-long-private-key": SCOPES}),  # a key of one's own: no warning
    ],
)
def test_no_warning_on_loopback_or_with_a_key_of_ones_own(host: str, keys: dict[str, frozenset[str]]) -> None:
    assert exposure_warning(host, keys) is None


@pytest.mark.parametrize(
    ("arguments", "warned"),
    [
        (["--host", "0.0.0.0"], True),
        (["--host", "0.0.0.0", "--key", "a-private-key-0123=workflows:read"], False),
        (["--host", "127.0.0.1"], False),
    ],
)
def test_the_emulator_command_warns_when_the_dev_key_listens_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch, arguments: list[str], warned: bool
) -> None:
    from click.testing import CliRunner

    import wfsync.emulator.server
    from wfsync.cli import main

    served: list[object] = []
    def serve(app: object, sock: Any, **options: object) -> None:
        served.append(sock.close())

    monkeypatch.setattr(wfsync.emulator.server, "serve", serve)
    result = CliRunner().invoke(main, ["emulator", "--port", "0", *arguments], catch_exceptions=False)
    assert result.exit_code == 0 and served, result.output
    assert ("beyond this machine, with the development key" in result.output) is warned
