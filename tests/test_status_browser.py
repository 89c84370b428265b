"""The status page in a real headless browser (Chromium from the distribution's packages):
it loads without an error or a request, a screenshot is taken, and the figures in the DOM
equal those the API gave. Skipped without Chromium, except in CI (CI=true), where it fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.test_status import repo, three_environments  # noqa: F401  (fixtures)
from wfsync.status_page import render_page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_or_skip() -> Any:
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed"
    else:
        if not os.path.exists(CHROMIUM):
            missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


def test_the_status_page_in_a_browser(three_environments: Any, tmp_path: Path) -> None:  # noqa: F811
    sync_playwright = browser_or_skip()
    statuses, accounts = three_environments
    page_file = tmp_path / "status.html"
    page_file.write_text(render_page(statuses, "2026-11-28 05:17 UTC"), encoding="utf-8")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            shot = tmp_path / "status.png"
            page.screenshot(path=str(shot), full_page=True)
            keep = os.environ.get("WFSYNC_SCREENSHOT")
            if keep:
                shutil.copy(shot, keep)
            assert shot.stat().st_size > 10_000
            dom = page.evaluate(
                """() => [...document.querySelectorAll('section.env')].map(s => ({
                    env: s.dataset.env, state: s.dataset.state, update: +s.dataset.update,
                    workflows: [...s.querySelectorAll('tr.workflow')].map(r => ({
                        title: r.dataset.title, pending: +r.dataset.pending,
                        error: r.querySelector('.last-error')?.textContent ?? null,
                        days: [...r.querySelectorAll('g.day')].map(g => [g.dataset.date,
                            +g.dataset.completed, +g.dataset.failed, +g.dataset.total]),
                        bars: r.querySelectorAll('svg rect').length,
                    })),
                }))"""
            )
        finally:
            browser.close()
    assert errors == [] and requests == [page_file.as_uri()], (errors, requests)
    assert [(e["env"], e["state"], e["update"]) for e in dom] == [
        ("staging", "in sync", 0),
        ("production", "drifted", 1),
        ("acme", "failing", 0),
    ]
    runs = failed = 0
    for env, account in zip(dom, accounts, strict=True):
        for workflow in env["workflows"]:
            workflow_id = account.ids[workflow["title"]]
            answer = account.get(f"/v1/workflows/{workflow_id}/summary/timeline", interval="day")
            given = {row["period"]: row for row in answer["data"]["periods"]}
            for date, completed, fails, total in workflow["days"]:
                row = given.get(date, {})
                assert [completed, fails, total] == [
                    row.get("completed", 0),
                    row.get("failed", 0),
                    row.get("jobs", 0),
                ]
                runs, failed = runs + total, failed + fails
            # every run of the week is drawn: the API's total over those days equals the DOM's
            first, last = workflow["days"][0][0], workflow["days"][-1][0]
            assert sum(d[3] for d in workflow["days"]) == sum(
                row["jobs"] for period, row in given.items() if first <= period <= last
            )
            jobs = account.get(f"/v1/workflows/{workflow_id}/jobs", limit=100)["data"]
            assert workflow["pending"] == sum(job["status"] == "scheduled" for job in jobs)
            assert workflow["bars"] >= 7
        survey = next(w for w in env["workflows"] if w["title"] == "Survey")
        assert survey["error"] and "survey.invalid" in survey["error"]
    assert runs > 50 and failed > 0  # a week that is worth a chart
