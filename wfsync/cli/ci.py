"""``wfsync ci …``: the small steps of the pipeline `wfsync init` writes, kept in wfsync so
that the pipeline's shell stays short and the steps are tested like the rest."""

from __future__ import annotations

import json
from typing import Any

import click

from wfsync.cli.app import main, reports_errors
from wfsync.errors import WfsyncError


@main.group()
def ci() -> None:
    """Steps of the CI pipeline: fit a plan into a comment, tell a chat when drift changes.

    \b
    Example:
      wfsync ci fit plan.md --note "The full plan is the run's artifact." > comment.md
    """


@ci.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--limit", type=click.IntRange(200), default=65_536, show_default=True, help="Characters.")
@click.option(
    "--note", default="The full plan is attached to the run as an artifact.", help="Said after a cut."
)
@reports_errors
def fit(file: str, limit: int, note: str) -> None:
    """Print the markdown plan FILE cut to fit a GitHub comment or issue (counts first).

    \b
    Example:
      wfsync ci fit plan.md --note "Full plan: the artifact wfsync-plan." > comment.md
    """
    from wfsync.comment import fit as fit_markdown

    with open(file, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    click.echo(fit_markdown(text, limit=limit, note=note).text, nl=False)


def _states(data: Any, name: str) -> list[Any]:
    """In sync / drifted per environment, from a saved plan with or without environments."""
    from wfsync.notify import EnvState

    if not isinstance(data, dict):
        raise WfsyncError("the plan file is not a wfsync plan")
    entries = data.get("environments")
    if entries is None:
        entries = [{**data, "name": name}]
    states = []
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise WfsyncError("the plan file is not a wfsync plan: an environment without changes")
        counts: dict[str, int] = {}
        for change in changes:
            action = change.get("action") if isinstance(change, dict) else None
            if isinstance(action, str):
                counts[action] = counts.get(action, 0) + 1
        states.append(EnvState(str(entry.get("name", name)), bool(changes), counts))
    if not states:
        raise WfsyncError("the plan file is not a wfsync plan: no environments")
    return states


@ci.command()
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--name", default="default", show_default=True, help="The environment, for a plan without any.")
@click.option(
    "--state-file", required=True, type=click.Path(dir_okay=False), help="Where the last state is kept."
)
@click.option("--link", help="A link added to the message (the CI run).")
@reports_errors
def notify(plan_file: str, name: str, state_file: str, link: str | None) -> None:
    """Post to $WFSYNC_NOTIFY_URL when an environment of the saved PLAN went in sync <-> drifted.

    The URL comes only from the environment (it is a credential) and is never printed.
    The message is Slack-compatible JSON ({"text": …}); nothing is posted while the state
    stays the same.

    \b
    Example:
      WFSYNC_NOTIFY_URL=https://hooks.slack.com/… wfsync ci notify plan.json --state-file .wfsync/notify.json
    """
    import os

    from wfsync.notify import notify_on_change

    url = os.environ.get("WFSYNC_NOTIFY_URL", "")
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise WfsyncError("WFSYNC_NOTIFY_URL must be set to an https:// URL")
    try:
        with open(plan_file, encoding="utf-8") as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise WfsyncError(f"{plan_file}: not a JSON plan: {exc}") from None
    changed = notify_on_change(url, state_file, _states(data, name), link=link)
    if changed:
        click.echo("Told: " + ", ".join(f"{env.name} is {env.word}" for env in changed) + ".")
    else:
        click.echo("No change of state: nobody was told.")
