"""``schemas/openapi.yaml`` stays true: schemathesis generates requests from it, sends them
to the emulator over loopback, and checks every answer against it (status codes, content
types, response schemas, no 5xx, invalid input rejected, auth enforced)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from wfsync.emulator import DEV_KEY, EmulatorConfig, JobTiming
from wfsync.emulator.openapi import openapi_document
from wfsync.emulator.server import EmulatorServer

schema = schemathesis.openapi.from_dict(openapi_document())

KNOWN_WORKFLOW = "665e4a34c65bb95f2f2d72e1"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(timing=JobTiming(0.01, 0.02))) as running:
        yield running


def known_job(server: EmulatorServer) -> str:
    """A workflow and a finished job that generated cases are pointed at half the time."""
    store = server.store
    if store.get_workflow(KNOWN_WORKFLOW) is None:
        store.create_workflow({"title": "Known", "endCall": {"phrases": ["bye"]}}, workflow_id=KNOWN_WORKFLOW)
    jobs = store.all_jobs(KNOWN_WORKFLOW)
    return jobs[0]["jobId"] if jobs else store.start_run(KNOWN_WORKFLOW)["jobId"]


@schema.parametrize()
@hypothesis.settings(
    max_examples=int(os.environ.get("WFSYNC_OPENAPI_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_the_emulator_matches_its_openapi_description(
    case: schemathesis.Case, server: EmulatorServer
) -> None:
    job_id = known_job(server)
    # Random ids would only ever find 404s: point every other valid case at things that exist.
    positive = case.meta is None or case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE
    if positive and zlib.crc32(repr(case.path_parameters).encode()) % 2 == 0:
        if "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = KNOWN_WORKFLOW
        if "jobId" in (case.path_parameters or {}):
            case.path_parameters["jobId"] = job_id
        if isinstance(case.body, dict) and isinstance(case.body.get("workFlowId"), str):
            case.body["workFlowId"] = KNOWN_WORKFLOW
    # A case made to lack its key keeps lacking it; every other case is authenticated.
    drops_key = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    case.call_and_validate(base_url=server.url, headers=None if drops_key else {"X-API-Key": DEV_KEY})


def test_the_document_is_served_bundled(server: EmulatorServer) -> None:
    import httpx

    served = httpx.get(server.url + "/openapi.json").json()
    assert served == openapi_document()
    refs = [value for key, value in walk(served) if key == "$ref"]
    assert refs and all(ref.startswith("#/components/") for ref in refs), "file references are inlined"
    assert not [key for key, _ in walk(served) if key in ("$defs", "unevaluatedProperties")]
    assert served["paths"]["/v1/workflows"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"
    ] == ["title"]


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)
