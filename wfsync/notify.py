"""Tell people when an account drifts from its definitions, and when it is back in sync.

A nightly check that only fails reaches nobody; one that posts every night is muted within
a week. :func:`notify_on_change` posts a Slack-compatible message (``{"text": …}``, which
Slack, Mattermost, Rocket.Chat and Teams' Slack-style hooks accept) only when the state of
some environment changed since the last call, remembered in a small JSON file that CI
keeps between runs (a cache). The URL is a secret (a Slack hook URL is its own
credential): it appears in no message or error.

    notify_on_change(url, ".wfsync/notify-state.json",
                     [EnvState("production", drifted=True, counts={"create": 1})])
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wfsync.errors import WfsyncError

__all__ = ["EnvState", "NotifyError", "message", "notify_on_change"]

_VERBS = ("create", "update", "cancel", "schedule", "delete")


class NotifyError(WfsyncError):
    """The message could not be posted, or the state file is unusable."""


@dataclass(frozen=True)
class EnvState:
    """One environment's result: in sync, or drifted with the plan's counts."""

    name: str
    drifted: bool
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def word(self) -> str:
        return "drifted" if self.drifted else "in sync"


def _read_state(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise NotifyError(f"{path}: cannot read the notification state: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise NotifyError(f"{path}: the notification state is not an object of names to states")
    return data


def _write_state(path: Path, states: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(dict(states), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)  # a run cancelled half-way leaves the old state, not half a file


def message(changed: Sequence[EnvState], link: str | None = None) -> dict[str, str]:
    """The Slack-compatible message for the environments whose state changed."""
    lines = []
    for env in changed:
        if env.drifted:
            counts = ", ".join(f"{env.counts.get(v, 0)} to {v}" for v in _VERBS if env.counts.get(v))
            lines.append(
                f":warning: wfsync: *{env.name}* has drifted from its definitions ({counts or 'changes'})."
            )
        else:
            lines.append(f":white_check_mark: wfsync: *{env.name}* is back in sync with its definitions.")
    if link:
        lines.append(f"Details: {link}")
    return {"text": "\n".join(lines)}


def notify_on_change(
    url: str,
    state_file: str | os.PathLike[str],
    environments: Sequence[EnvState],
    *,
    link: str | None = None,
    timeout: float = 10.0,
) -> list[EnvState]:
    """Post one message when any environment's state changed; return those that changed.

    An environment seen for the first time counts as previously in sync: a first run that
    finds drift tells people, a first run in sync stays quiet. The state file is written
    only after the message was accepted, so a failed post is tried again next time.
    """
    import httpx

    path = Path(state_file)
    before = _read_state(path)
    changed = [env for env in environments if before.get(env.name, "in sync") != env.word]
    after = {**before, **{env.name: env.word for env in environments}}
    if changed:
        try:
            answer = httpx.post(url, json=message(changed, link), timeout=timeout)
        except httpx.HTTPError as exc:
            # httpx names the URL in some messages: say only what kind of failure it was.
            raise NotifyError(f"the notification could not be posted: {type(exc).__name__}") from None
        if answer.status_code >= 300:
            raise NotifyError(f"the notification was refused: HTTP {answer.status_code}")
    if after != before:
        _write_state(path, after)
    return changed
