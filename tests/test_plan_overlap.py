"""plan_against with definitions still loading: the listing is on its way meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from wfsync.definitions import Definition, DefinitionError
from wfsync.shapes import LiveWorkflow
from wfsync.sync import Account, Options, plan_against
from wfsync.yamlsource import Location, Problem


class Listing:
    """An API that only lists, and says when its listing starts and ends."""

    def __init__(self, events: list[str], release: asyncio.Event) -> None:
        self.events, self.release = events, release

    async def list_workflows(self, known: Mapping[str, Any] | None = None) -> list[Any]:
        self.events.append("listing")
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.events.append("listing cancelled")
            raise
        self.events.append("listed")
        return []


def test_the_listing_starts_before_the_definitions_are_in() -> None:
    async def scenario() -> list[str]:
        events: list[str] = []
        release = asyncio.Event()

        async def definitions() -> list[Any]:
            events.append("loading")
            await asyncio.sleep(0)  # a file read; the loop turns
            release.set()
            events.append("loaded")
            return []

        plan = await plan_against(Listing(events, release), definitions(), Options(), Account("https://x"))  # type: ignore[arg-type]
        assert plan.empty
        return events

    assert asyncio.run(scenario()) == ["loading", "listing", "loaded", "listed"]


def test_definitions_that_fail_drop_the_listing() -> None:
    problem = DefinitionError([Problem(Location("w.yaml", 2, 5), "title is required")])

    async def scenario() -> list[str]:
        events: list[str] = []

        async def definitions() -> list[Any]:
            await asyncio.sleep(0)
            raise problem

        with pytest.raises(DefinitionError) as raised:
            await plan_against(
                Listing(events, asyncio.Event()), definitions(), Options(), Account("https://x")
            )  # type: ignore[arg-type]
        assert raised.value is problem
        return events

    assert asyncio.run(scenario()) == ["listing", "listing cancelled"]


def test_definitions_load_a_file_at_a_time(tmp_path: Any) -> None:
    from wfsync.definitions import loading_steps

    for n in range(3):
        (tmp_path / f"{n}.yaml").write_text(f"workflows:\n  - title: t{n}\n", encoding="utf-8")
    steps = loading_steps([tmp_path], env={})
    turns = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            titles = [definition.title for definition in done.value]
            break
        turns += 1
    assert (turns, titles) == (3, ["t0", "t1", "t2"])


def test_live_bodies_read_while_loading_share_the_definitions_once_they_are_in() -> None:
    """A page that arrived before the definitions holds its own copy of each body; once
    they are in, an equal body is the definition's object (memory: the plan holds both)."""
    body = {"title": "Billing", "callbackUrl": "https://crm.example.com/hook"}
    definition = Definition(title="Billing", body=body, location=Location("w.yaml", 1, 3))
    seen: list[Any] = []

    class Early:
        async def list_workflows(self, known: Mapping[str, Any] | None = None) -> list[Any]:
            seen.append(known)
            return [LiveWorkflow("a" * 24, "Billing", dict(body))]

    async def definitions() -> list[Any]:
        await asyncio.sleep(0.01)  # the listing is done before the definitions
        return [definition]

    async def scenario() -> Any:
        return await plan_against(Early(), definitions(), Options(), Account("https://x"))  # type: ignore[arg-type]

    plan = asyncio.run(scenario())
    assert plan.empty
    assert seen and seen[0] == {"Billing": body}  # the same mapping, filled once they were in


def test_loading_yields_each_files_definitions_as_it_is_read(tmp_path: Any) -> None:
    """What lets the listing share bodies before the last file is read."""
    from wfsync.definitions import loading_steps

    (tmp_path / "a.yaml").write_text("workflows:\n  - title: A\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("workflows:\n  - title: B\n  - title: C\n", encoding="utf-8")
    steps = loading_steps([str(tmp_path)])
    assert [[d.title for d in loaded] for loaded in steps] == [["A"], ["B", "C"]]


def test_a_definition_read_after_its_live_body_holds_that_body(tmp_path: Any) -> None:
    """The listing may come first: a definition equal to a live body already held is that
    body (the plan holds both), its values those held once across definitions."""
    from wfsync.definitions import drain, loading_steps

    (tmp_path / "w.yaml").write_text(
        "workflows:\n"
        "  - title: A\n    endCall:\n      phrases: [bye, ciao]\n"
        "  - title: B\n    endCall:\n      phrases: [bye, ciao]\n"
        "  - title: C\n    callbackUrl: https://crm.example.com/c\n",
        encoding="utf-8",
    )
    live = {
        "A": {"title": "A", "endCall": {"phrases": ["bye", "ciao"]}},
        "B": {"title": "B", "endCall": {"phrases": ["bye", "ciao"]}},  # a list of its own, as decoded
        "C": {"title": "C", "callbackUrl": "https://crm.example.com/other"},  # differs
    }
    held = {title: body for title, body in live.items()}
    a, b, c = drain(loading_steps([str(tmp_path)], bodies=held))
    assert a.body is live["A"] and b.body is live["B"]
    assert a.body["endCall"] is b.body["endCall"]  # equal values held once, as without a listing
    assert c.body is not live["C"] and c.body == {"title": "C", "callbackUrl": "https://crm.example.com/c"}
    assert live["C"] == {"title": "C", "callbackUrl": "https://crm.example.com/other"}  # untouched
