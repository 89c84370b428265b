"""Parsing the emulator's --key, --fault and --dialect options."""

from __future__ import annotations

import pytest

from wfsync.emulator.config import Dialect, Faults, parse_dialect, parse_faults, parse_keys
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
