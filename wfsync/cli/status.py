"""``wfsync status``: where the account stands, as a line per environment or a page."""

from __future__ import annotations

from typing import Any

import click

from wfsync.cli.app import api_options, call_api, main, reports_errors, write_file


def _secret_values(settings: Any, key: str) -> list[str]:
    """Every value the page must never show: the key and the ${NAME} values definitions use."""
    import os
    from pathlib import Path

    from wfsync.pipeline import secret_names

    names = secret_names([Path(p) for p in settings.paths])
    values = [key, *(os.environ.get(name, "") for name in names)]
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


@main.command()
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Write the status page here.")
@api_options
@reports_errors
def status(html_file: str | None, **options: Any) -> None:
    """Show whether the account matches its definitions, and how its workflows ran.

    Plans against the live account (in sync, drifted with the counts, or failing with the
    reason) and reads, per workflow, the last 7 days of runs, the pending schedules and
    the last error. With --html, writes one self-contained page (inline SVG charts, no
    external asset) to keep as a CI artifact.

    \b
    Example:
      wfsync status --sandbox --html status.html
    """
    from datetime import UTC, datetime

    from wfsync.config import load_settings
    from wfsync.definitions import DefinitionError, load_definitions
    from wfsync.status import gather
    from wfsync.status_page import render_page

    settings = load_settings(options["config_file"])
    definitions: Any = None
    problem = None
    try:
        definitions = load_definitions(settings.paths)
    except DefinitionError as exc:
        problem = f"the definitions do not load: {exc.problems[0]}" + (
            f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        )
    now = datetime.now(UTC)
    secrets: list[str] = []

    async def action(api: Any, target: Any) -> Any:
        secrets.extend(_secret_values(settings, target.key))
        name = "default"
        return await gather(
            api,
            name=name,
            api_url=target.name,
            definitions=definitions,
            protect=settings.protect,
            problem=problem,
            now=now,
        )

    result = call_api(action, settings=settings, **options)
    environments = [result]

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    for env in environments:
        detail = (
            ", ".join(f"{n} to {v}" for v, n in env.counts.items())
            if env.state == "drifted"
            else env.error or ""
        )
        click.echo(redact(f"{env.name}: {env.state}" + (f" ({detail})" if detail else "")))
    if html_file:
        write_file(html_file, redact(render_page(environments, now.strftime("%Y-%m-%d %H:%M UTC"))))
        click.echo(f"Wrote the status page to {html_file}.")
