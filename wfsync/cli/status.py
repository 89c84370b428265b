"""``wfsync status``: where the account stands, as a line per environment or a page."""

from __future__ import annotations

from typing import Any

import click

from wfsync.cli.app import api_options, main, reports_errors, write_file


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
      wfsync status --env '*' --html status.html
    """
    from datetime import UTC, datetime

    from wfsync.cli.fleet import Fleet
    from wfsync.definitions import DefinitionError
    from wfsync.errors import WfsyncError
    from wfsync.status import EnvStatus, gather
    from wfsync.status_page import render_page

    fleet = Fleet((), {**options, "prune": False, "force": False, "only": (), "exclude": ()})
    now = datetime.now(UTC)

    async def one(api: Any, member: Any) -> Any:
        definitions, problem = None, None
        try:
            definitions = fleet.definitions(member)
        except DefinitionError as exc:
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            problem = f"the definitions do not load: {exc.problems[0]}{more}"
        return await gather(
            api,
            name=member.name or "default",
            api_url=member.target.name,
            definitions=definitions,
            protect=member.options.protect,
            problem=problem,
            now=now,
        )

    environments = [
        EnvStatus(member.name or "default", member.api_name, "failing", {}, str(result))
        if isinstance(result, WfsyncError)
        else result
        for member, result in fleet.run(one, parallel=4)
    ]
    for env in environments:
        detail = (
            ", ".join(f"{n} to {v}" for v, n in env.counts.items())
            if env.state == "drifted"
            else env.error or ""
        )
        click.echo(f"{env.name}: {env.state}" + (f" ({detail})" if detail else ""))
    if html_file:
        write_file(html_file, render_page(environments, now.strftime("%Y-%m-%d %H:%M UTC")))
        click.echo(f"Wrote the status page to {html_file}.")
