"""Simulated calls: what a run of a workflow did, deterministic from the emulator's seed.

The same seed and the same job (its sequence number in the store) always give the same
calls, so summaries and reports are reproducible in tests yet vary like real traffic.
A run fails when the workflow's webhook or callback host is under ``.invalid`` (the
reserved top-level domain: a URL that can never answer), or by chance at ``fail_share``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["OUTCOMES", "RunOutcome", "simulate_run"]

# Call outcomes and their weights in a typical outbound campaign.
OUTCOMES = {"answered": 60, "no-answer": 20, "busy": 10, "failed": 10}


@dataclass(frozen=True)
class RunOutcome:
    status: str
    error: str | None
    result: dict[str, Any] = field(default_factory=dict)


def _unreachable(body: dict[str, Any]) -> str | None:
    for url in (body.get("webhook", {}).get("url"), body.get("callbackUrl")):
        host = urlsplit(url).hostname if isinstance(url, str) else None
        if host and (host == "invalid" or host.endswith(".invalid")):
            return str(url)
    return None


def simulate_run(seed: int, seq: int, body: dict[str, Any], fail_share: float, at: float) -> RunOutcome:
    """The outcome of job number ``seq`` of a workflow with ``body``, finishing at ``at``."""
    rng = random.Random(f"{seed}:{seq}")
    unreachable = _unreachable(body)
    if unreachable:
        return RunOutcome("failed", f"webhook {unreachable} did not answer", {"calls": []})
    if rng.random() < fail_share:
        return RunOutcome("failed", "telephony provider rejected the batch", {"calls": []})
    phrases = body.get("endCall", {}).get("phrases") or []
    calls = []
    for index in range(rng.randint(1, 6)):
        outcome = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
        answered = outcome == "answered"
        calls.append(
            {
                "callId": f"call_{seq}_{index}",
                "to": f"+1555{rng.randrange(10**7):07d}",
                "outcome": outcome,
                "durationSeconds": rng.randint(20, 300) if answered else 0,
                "endedBy": rng.choice(phrases) if answered and phrases else None,
            }
        )
    return RunOutcome("completed", None, {"calls": calls})
