"""The commands that operate workflows: run, jobs, job, cancel, summary."""

from __future__ import annotations

import json
from typing import Any

import click

from wfsync.cli.app import api_options, call_api, main, reports_errors, write_file

TITLE = click.argument("title", metavar="TITLE")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _job_data(job: Any) -> dict[str, Any]:
    return {
        "jobId": job.id,
        "status": job.status,
        "workflowId": job.workflow_id,
        "scheduledDate": job.scheduled_date,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
        "error": job.error,
    }


@main.command()
@TITLE
@click.option("--wait", is_flag=True, help="Follow the job to its end; exit 1 unless it succeeds.")
@click.option(
    "--timeout", default=600.0, show_default=True, type=click.FloatRange(0), help="Seconds to wait."
)
@JSON
@api_options
@reports_errors
def run(title: str, wait: bool, timeout: float, as_json: bool, **options: Any) -> None:
    """Start a run of a workflow now (TITLE may also be its id).

    Prints the job id; with --wait, follows the job, showing each change of status, and
    exits 0 when it completes, 1 when it fails, is cancelled or runs past --timeout.

    \b
    Example:
      wfsync run "Lead follow-up" --wait --timeout 120
    """
    from datetime import datetime

    from wfsync.operate import JobTimeout, find_workflow, follow_job

    def show(job: Any) -> None:
        if not as_json:
            stamp = datetime.now().strftime("%H:%M:%S")
            click.echo(f"  {stamp}  {job.status}" + (f": {job.error}" if job.error else ""))

    async def action(api: Any, target: Any) -> Any:
        workflow = await find_workflow(api, title)
        job_id = await api.run(workflow.id)
        if not as_json:
            click.echo(f"Started a run of {workflow.title!r} ({workflow.id}): job {job_id}")
        if not wait:
            return {"jobId": job_id, "status": "started"}
        try:
            return await follow_job(api, job_id, timeout=timeout, on_change=show)
        except JobTimeout as exc:
            return exc

    result = call_api(action, **options)
    if isinstance(result, dict):
        if as_json:
            click.echo(json.dumps(result))
        return
    timed_out = isinstance(result, JobTimeout)
    job = result.job if isinstance(result, JobTimeout) else result
    if as_json:
        click.echo(json.dumps(_job_data(job) | {"timedOut": timed_out}, indent=2))
    if timed_out:
        raise click.ClickException(str(result))
    if job.status != "completed":
        raise click.ClickException(f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))
    if not as_json:
        click.echo(f"Job {job.id} completed.")


@main.command()
@TITLE
@JSON
@api_options
@reports_errors
def jobs(title: str, as_json: bool, **options: Any) -> None:
    """List a workflow's jobs: id, status, and when each was scheduled, started, finished.

    \b
    Example:
      wfsync jobs "Appointment reminder (day before)"
    """
    from wfsync.operate import find_workflow
    from wfsync.render_ops import render_jobs

    async def action(api: Any, target: Any) -> Any:
        return await api.list_jobs((await find_workflow(api, title)).id)

    found = call_api(action, **options)
    click.echo(
        json.dumps([_job_data(j) for j in found], indent=2) if as_json else render_jobs(found), nl=as_json
    )


@main.command()
@click.argument("job_id", metavar="JOB_ID")
@JSON
@api_options
@reports_errors
def job(job_id: str, as_json: bool, **options: Any) -> None:
    """Show one job's status.

    \b
    Example:
      wfsync job job_01hxyz
    """
    from wfsync.render_ops import render_job

    async def action(api: Any, target: Any) -> Any:
        return await api.get_job(job_id)

    found = call_api(action, **options)
    click.echo(json.dumps(_job_data(found), indent=2) if as_json else render_job(found), nl=as_json)


@main.command()
@TITLE
@JSON
@api_options
@reports_errors
def cancel(title: str, as_json: bool, **options: Any) -> None:
    """Cancel the pending runs of a workflow (scheduled and queued; running ones go on).

    \b
    Example:
      wfsync cancel "Payment reminder"
    """
    from wfsync.operate import find_workflow

    async def action(api: Any, target: Any) -> Any:
        workflow = await find_workflow(api, title)
        return workflow, await api.cancel(workflow.id)

    workflow, cancelled = call_api(action, **options)
    if as_json:
        click.echo(json.dumps({"workflowId": workflow.id, "cancelled": cancelled}))
    elif cancelled:
        count = len(cancelled)
        click.echo(
            f"Cancelled {count} pending run{'s' * (count != 1)} of {workflow.title!r}: {', '.join(cancelled)}"
        )
    else:
        click.echo(f"Nothing was pending for {workflow.title!r}.")


@main.command()
@TITLE
@click.option("--timeline", is_flag=True, help="Jobs per period, as a chart.")
@click.option(
    "--interval", type=click.Choice(["minute", "hour", "day", "month"]), help="The timeline's period."
)
@click.option("--report", is_flag=True, help="The full report: the summary and every job with its calls.")
@click.option("--out", type=click.Path(dir_okay=False), help="Save the report to this file.")
@JSON
@api_options
@reports_errors
def summary(
    title: str,
    timeline: bool,
    interval: str | None,
    report: bool,
    out: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Monitoring figures of a workflow: jobs by status, calls by outcome, rates.

    \b
    Example:
      wfsync summary "Lead follow-up"
      wfsync summary "Lead follow-up" --timeline --interval hour
      wfsync summary "Lead follow-up" --report --out report.json
    """
    from wfsync.operate import find_workflow
    from wfsync.render_ops import render_summary, render_timeline

    part = "report" if report else "timeline" if timeline else ""
    params = {"interval": interval} if timeline and interval else {}

    async def action(api: Any, target: Any) -> Any:
        workflow = await find_workflow(api, title)
        return workflow, await api.summary(workflow.id, part, **params)

    workflow, figures = call_api(action, **options)
    if report:
        text = json.dumps(figures, indent=2, ensure_ascii=False) + "\n"
        if out:
            write_file(out, text)
            click.echo(f"Saved the report of {workflow.title!r} to {out}.")
        else:
            click.echo(text, nl=False)
    elif as_json:
        click.echo(json.dumps(figures, indent=2, ensure_ascii=False))
    elif timeline:
        click.echo(render_timeline(workflow.title, figures), nl=False)
    else:
        click.echo(render_summary(workflow.title, figures), nl=False)


@main.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@api_options
@reports_errors
def pull(folder: str, force: bool, **options: Any) -> None:
    """Write the live workflows as definition files, to adopt an existing account.

    One file per workflow in DIR, named after its title, with its pending schedules and
    without server-only fields. `wfsync plan DIR` then shows no changes. Existing files
    are never overwritten without --force.

    \b
    Example:
      wfsync pull workflows/ && wfsync plan workflows/
    """
    import os

    from wfsync.errors import WfsyncError
    from wfsync.live import read_jobs
    from wfsync.pull import definition_files

    async def action(api: Any, target: Any) -> Any:
        workflows = await api.list_workflows()
        return workflows, await read_jobs(api, [w.id for w in workflows])

    from wfsync.cli.app import register_project_secrets
    from wfsync.redact import SECRETS

    register_project_secrets(options["config_file"])
    workflows, jobs = call_api(action, **options)
    # A value the project takes from the environment is written back as its ${NAME}, and
    # never becomes part of a file name.
    files = {
        SECRETS.mask(name).replace("${", "").replace("}", ""): text
        for name, text in definition_files(workflows, jobs).items()
    }
    clashes = [name for name in files if os.path.exists(os.path.join(folder, name))]
    if clashes and not force:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise WfsyncError(
            f"{len(clashes)} file(s) exist in {folder}: {shown}; nothing was written "
            "(--force overwrites them)"
        )
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        write_file(os.path.join(folder, name), text)
    count = len(files)
    click.echo(
        f"Wrote {count} workflow{'s' * (count != 1)} to {folder}. Check them with: wfsync plan {folder}"
    )
