"""Bodies shared between the listing and the definitions (wfsync.shapes.share, the
``bodies`` of wfsync.definitions.loading_steps) cannot be seen in a plan: whichever came
first, the plan, its text, its JSON and its saved form are those of a plan that shares
nothing, and a value from the environment shows in none."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from wfsync import shapes
from wfsync.api import ApiClient
from wfsync.definitions import drain, loading_steps
from wfsync.errors import PlanError
from wfsync.render import render_json, render_markdown, render_text
from wfsync.saved import plan_data
from wfsync.sync import Account, Options, plan_against

TOKEN = "tok-9f8e7d6c5b4a-distinctive"
ENV = {"TOKEN": TOKEN}
HOOK = f"https://hooks.example.com/{TOKEN}"

DEFINITIONS = """\
workflows:
  - title: Same
    callbackUrl: "https://hooks.example.com/${TOKEN}"
    endCall: {phrases: [bye, ciao]}
  - title: Changed
    callbackUrl: "https://hooks.example.com/${TOKEN}"
    endCall: {phrases: [bye, ciao, adieu]}
  - title: Renamed
    lifecycle: {formerTitles: [Old name]}
    endCall: {phrases: [bye, ciao]}
"""
TWICE = "  - title: Twice\n    endCall: {phrases: [bye, ciao]}\n"


def live_listing() -> list[dict[str, Any]]:
    phrases = {"endCall": {"phrases": ["bye", "ciao"]}}
    return [
        {"_id": "1", "title": "Same", "callbackUrl": HOOK, **phrases},
        {"_id": "2", "title": "Changed", "callbackUrl": HOOK, **phrases},
        {"_id": "3", "title": "Old name", **phrases},
        {"_id": "4", "title": "Twice", **phrases},
        {"_id": "5", "title": "Twice", **phrases},
        {"_id": "6", "title": "Live only", "callbackUrl": HOOK, **phrases},
    ]


class Listed:
    """An API whose listing was read already (by the real client)."""

    def __init__(self, workflows: list[Any], known: dict[str, Any] | None) -> None:
        self.workflows, self.known = workflows, known

    async def list_workflows(self, known: Any = None) -> list[Any]:
        if self.known is None:
            return self.workflows
        return [shapes.share(workflow, self.known) for workflow in self.workflows]

    async def list_jobs(self, workflow_id: str) -> list[Any]:
        return []


async def listing(known: dict[str, Any] | None) -> list[Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": live_listing(), "pagination": {"total": 6}})

    transport = httpx.MockTransport(handler)
    async with ApiClient.connect("https://api.example.test", "sk-k", transport=transport) as api:
        return await api.list_workflows(known)


def outputs(tmp_path: Path, order: str, definitions: str = DEFINITIONS) -> list[str]:
    (tmp_path / "w.yaml").write_text(definitions, encoding="utf-8")
    options, account = Options(prune=True), Account("https://api.example.test")

    async def scenario() -> Any:
        if order == "nothing shared":
            definitions = drain(loading_steps([str(tmp_path)], ENV))
            api: Any = Listed(await listing(None), None)
            return await plan_against(api, definitions, options, account)
        known: dict[str, Any] = {}
        if order == "definitions first":
            definitions = drain(loading_steps([str(tmp_path)], ENV))
            known.update((d.title, d.body) for d in definitions)
            workflows = await listing(known)
        else:  # the listing first: the definitions read after it hold its bodies
            workflows = await listing(known)
            definitions = drain(loading_steps([str(tmp_path)], ENV, bodies=known))
            known.update((d.title, d.body) for d in definitions)
        return await plan_against(Listed(workflows, known), definitions, options, account, known=known)

    try:
        plan = asyncio.run(scenario())
    except PlanError as exc:
        return [str(exc)]
    return [render_text(plan), render_json(plan), render_markdown(plan), json.dumps(plan_data([plan]))]


def test_a_plan_that_shares_bodies_is_the_plan_that_shares_none(tmp_path: Path) -> None:
    alone = outputs(tmp_path, "nothing shared")
    assert "Changed" in alone[0] and "adieu" in alone[0] and "Renamed" in alone[0]
    for order in ("definitions first", "listing first"):
        shown = outputs(tmp_path, order)
        assert shown == alone, order
        assert not any(TOKEN in text for text in shown), order


def test_live_duplicates_are_reported_whichever_came_first(tmp_path: Path) -> None:
    alone = outputs(tmp_path, "nothing shared", DEFINITIONS + TWICE)
    assert len(alone) == 1 and "2 live workflows are titled 'Twice' (ids 4, 5)" in alone[0]
    for order in ("definitions first", "listing first"):
        assert outputs(tmp_path, order, DEFINITIONS + TWICE) == alone, order
