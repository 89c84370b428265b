"""``wfsync delete --id ID``: the escape hatch for one live workflow (a duplicate made by
hand, which plan will not choose between). It shows what it deletes, asks for ``yes``
typed out, then deletes.

Reading and deleting are two runs against the API with the question between them, asked
outside any event loop so that one Ctrl-C aborts at once (see wfsync/cli/prompt.py).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from wfsync.cli.app import api_options, call_api, count, main, reports_errors

__all__ = ["delete"]

# Ids are opaque to us, but one typed on the command line goes into a URL path: anything
# that could step out of /v1/workflows/{id} (a slash, dots, a query) is refused.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_UNFINISHED = ("scheduled", "queued", "running")


@main.command()
@click.option(
    "--id", "workflow_id", required=True, metavar="ID", help="The id of the live workflow to delete."
)
@click.option("--yes", is_flag=True, help="Delete without asking (required when not on a terminal).")
@api_options
@reports_errors
def delete(workflow_id: str, yes: bool, **options: Any) -> None:
    """Delete one live workflow by its id, after showing it and asking.

    For what plan will not decide, such as two live workflows with one title. It shows
    the workflow, its unfinished runs (cancelled with it) and any others with its title,
    then asks for `yes` typed out. Workflows that definitions manage are better removed
    from the files and pruned (`wfsync apply --prune`).

    \b
    Example:
      wfsync delete --id 65f1c0ffee0000000000beef
    """
    from wfsync.errors import ConfigError, NotFoundError, WfsyncError

    if not _ID.fullmatch(workflow_id) or ".." in workflow_id:
        raise ConfigError(f"{workflow_id!r} is not a workflow id (letters, digits, '-', '_', '.', ':')")
    if not yes and not sys.stdin.isatty():
        raise ConfigError("refusing to delete without confirmation: not a terminal; pass --yes")

    async def look(api: Any, target: Any) -> Any:
        try:
            workflow = await api.get_workflow(workflow_id)
        except NotFoundError:
            raise WfsyncError(f"no live workflow has the id {workflow_id!r} at {target.name}") from None
        jobs = await api.list_jobs(workflow_id)
        namesakes = [
            w for w in await api.list_workflows() if w.title == workflow.title and w.id != workflow_id
        ]
        return target.name, workflow, jobs, namesakes

    where, workflow, jobs, namesakes = call_api(look, **options)
    unfinished = [job for job in jobs if job.status in _UNFINISHED]
    click.echo(f"This deletes the live workflow {workflow.title!r} (id {workflow.id}) at {where}.")
    if unfinished:
        click.echo(f"Its {count(len(unfinished), 'unfinished run')} will be cancelled with it:")
        for job in unfinished:
            when = f" for {job.instant}" if job.status == "scheduled" and job.instant else ""
            click.echo(f"  - {job.id} {job.status}{when}")
    else:
        click.echo("It has no unfinished runs.")
    for other in namesakes:
        click.echo(f"Kept: the other live workflow titled {other.title!r} (id {other.id}).")
    if not yes:
        from wfsync.cli.prompt import confirm

        if not confirm(f"Delete {workflow.title!r} (id {workflow.id})?", typed=True, out=sys.stdout):
            raise WfsyncError("delete cancelled: nothing was changed")

    async def remove(api: Any, target: Any) -> None:
        await api.delete_workflow(workflow_id)  # the id checked above, not the server's

    call_api(remove, **options)
    click.echo(f"Deleted {workflow.title!r} (id {workflow.id}).")
