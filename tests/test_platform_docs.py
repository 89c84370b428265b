"""The platform documentation's own Python examples, run against the emulator.

Each ``requests`` snippet of ``fixtures/platform-api-reference.txt`` (a copy of the
platform's page) runs unchanged except for the host, the key and the placeholder ids,
and must get the documented answer.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer

DOCS = Path(__file__).parent / "fixtures" / "platform-api-reference.txt"
DOC_WORKFLOW_ID = "665e4a34c65bb95f2f2d72e1"  # the id the schedule example uses


def python_snippets() -> dict[str, str]:
    """{"POST /v1/workflows": code, …}: each endpoint's Python example."""
    text = DOCS.read_text(encoding="utf-8")
    snippets = {}
    for match in re.finditer(r"^(POST|GET) (/v1/\S+)\n", text, re.MULTILINE):
        section = text[match.end() :]
        start = section.index("\nPython\n\n") + len("\nPython\n\n")
        end = re.search(r"\n\n(?:201 Created|Common status codes)", section[start:])
        assert end, f"no end to the Python example of {match.group(0)}"
        snippets[f"{match.group(1)} {match.group(2)}"] = section[start : start + end.start()]
    return snippets


def run(code: str, server: EmulatorServer, **placeholders: str) -> tuple[Any, str]:
    code = code.replace("https://api.indigenius.ai", server.url).replace("YOUR_API_KEY", DEV_KEY)
    for placeholder, value in placeholders.items():
        assert placeholder in code
        code = code.replace(placeholder, value)
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace["response"], printed.getvalue()


def test_the_page_has_the_four_examples() -> None:
    assert sorted(python_snippets()) == [
        "GET /v1/workflows/jobs/{jobId}",
        "POST /v1/workflows",
        "POST /v1/workflows/schedule",
        "POST /v1/workflows/{id}/run",
    ]


@pytest.fixture
def doc_workflow(emulator: EmulatorServer) -> str:
    """The workflow the examples refer to, under the id the documentation uses."""
    emulator.store.create_workflow({"title": "Lead follow-up"}, workflow_id=DOC_WORKFLOW_ID)
    return DOC_WORKFLOW_ID


def test_create_example(emulator: EmulatorServer) -> None:
    response, printed = run(python_snippets()["POST /v1/workflows"], emulator)
    assert response.status_code == 201
    assert printed.splitlines()[0] == "201"
    created = response.json()["data"]
    assert created["title"] == "Lead follow-up"
    assert created["endCall"] == {"phrases": ["goodbye", "end call"]}


def test_run_example_and_job_example(emulator: EmulatorServer, doc_workflow: str) -> None:
    response, _ = run(python_snippets()["POST /v1/workflows/{id}/run"], emulator, WORKFLOW_ID=doc_workflow)
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {"status", "message", "jobId"}
    assert answer["status"] is True and answer["message"] == "Workflow execution started"
    job, _ = run(python_snippets()["GET /v1/workflows/jobs/{jobId}"], emulator, job_01hxyz=answer["jobId"])
    assert job.status_code == 200
    assert job.json()["data"]["status"] in ("queued", "running", "completed")


def test_schedule_example(emulator: EmulatorServer, doc_workflow: str) -> None:
    response, _ = run(python_snippets()["POST /v1/workflows/schedule"], emulator)
    assert response.status_code == 201
    assert response.json()["status"] is True and response.json()["jobId"].startswith("job_")
    assert emulator.store.all_jobs(doc_workflow)[0]["timezone"] == "GMT_plus_1"


def test_documented_error_codes(emulator: EmulatorServer) -> None:
    code = python_snippets()["POST /v1/workflows"].replace('"title": "Lead follow-up",', "")
    response, _ = run(code, emulator)
    assert response.status_code == 400
    response, _ = run(python_snippets()["POST /v1/workflows/{id}/run"], emulator, WORKFLOW_ID="nope")
    assert response.status_code == 404
    response, _ = run(python_snippets()["GET /v1/workflows/jobs/{jobId}"], emulator)
    assert response.status_code == 404
