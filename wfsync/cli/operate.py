"""The commands that operate workflows: run, jobs, job, cancel, summary."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import click

from wfsync.cli.app import api_options, call_api, count, main, reports_errors, write_file
from wfsync.errors import WfsyncError

# Completion reads at most this much of each definition file: it must answer at once.
COMPLETION_FILE_LIMIT = 2_000_000


def _defined_titles(config_file: str | None) -> list[str]:
    """The titles the definitions give, read leniently (no secrets, no schema): for completion."""
    import yaml

    from wfsync.config import load_settings
    from wfsync.definitions import find_files

    paths: Sequence[str]
    try:
        paths = load_settings(config_file).paths
    except Exception:  # a broken settings file: complete from the default folder
        paths = ("workflows",)
    titles: list[str] = []
    for path in find_files(paths)[0]:
        try:
            if path.stat().st_size > COMPLETION_FILE_LIMIT:
                continue
            document = yaml.safe_load(path.read_bytes())
        except (OSError, yaml.YAMLError, ValueError):
            continue  # completion never fails: a file validate would reject adds no titles
        entries = document.get("workflows") if isinstance(document, dict) else None
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("title"), str):
                titles.append(entry["title"])
    return list(dict.fromkeys(titles))


def complete_title(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Workflow titles from the definitions that start with what is typed (any case)."""
    import os
    import shlex

    from click.shell_completion import CompletionItem

    wanted = incomplete.casefold()
    found = [t for t in _defined_titles(ctx.params.get("config_file")) if t.casefold().startswith(wanted)]
    # bash inserts a completion as typed: a title with spaces must come quoted (zsh and fish
    # quote what they insert themselves).
    bash = os.environ.get("_WFSYNC_COMPLETE", "").startswith("bash")
    return [CompletionItem(shlex.quote(t) if bash else t) for t in found]


TITLE = click.argument("title", metavar="TITLE", shell_complete=complete_title)
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


SCHEMA_FILE = ("schemas", "definitions.schema.json")


def _schema_line(folder: str) -> tuple[str, bool]:
    """The editor's ``$schema`` line for files in ``folder``, and whether the schema is there.

    It points at the nearest ``schemas/definitions.schema.json`` in ``folder`` or above (not
    above a git repository's root); without one, at where ``wfsync init`` puts it (here).
    """
    import os

    start = os.path.abspath(folder)
    here = start
    while True:
        candidate = os.path.join(here, *SCHEMA_FILE)
        if os.path.isfile(candidate):
            break
        parent = os.path.dirname(here)
        if os.path.exists(os.path.join(here, ".git")) or parent == here:
            candidate = os.path.join(os.getcwd(), *SCHEMA_FILE)
            break
        here = parent
    relative = os.path.relpath(candidate, start).replace(os.sep, "/")
    return f"# yaml-language-server: $schema={relative}", os.path.isfile(candidate)


def _write_no_follow(folder: str, name: str, text: str, *, replace: bool) -> None:
    """Write ``folder/name`` (0644 less the umask) without ever following a symlink.

    A new file is created exclusively (O_EXCL fails on any entry, a dangling link too); a
    replaced one is written beside it and renamed over the entry, so a link is replaced
    itself, never its target.
    """
    import os
    import secrets

    if os.path.basename(name) != name or name in ("", ".", ".."):
        raise WfsyncError(f"refusing to write {name!r}: not a file name inside {folder}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    path = os.path.join(folder, name)
    scratch = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp") if replace else path
    try:
        fd = os.open(scratch, flags, 0o644)
    except FileExistsError:
        raise WfsyncError(f"{path} exists (a file or a link); nothing was written there") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if replace:
            os.replace(scratch, path)
    except BaseException:
        if replace:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
        raise


def _target_flags(options: dict[str, Any]) -> str:
    """The flags that chose the API, to repeat in a follow-up command."""
    import shlex

    flags = ["--sandbox"] if options.get("sandbox") else []
    for name, flag in (("api_url", "--api-url"), ("config_file", "--config")):
        if options.get(name):
            flags += [flag, shlex.quote(str(options[name]))]
    for env in options.get("env") or ():
        flags += ["--env", shlex.quote(env)]
    return "".join(f" {flag}" for flag in flags)


@main.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace files that exist (a link is replaced, never followed).")
@api_options
@reports_errors
def pull(folder: str, force: bool, **options: Any) -> None:
    """Write the live workflows as definition files, to adopt an existing account.

    One file per workflow in DIR, named after its title, with its pending schedules and
    without server-only fields. `wfsync plan DIR` then shows no changes. Existing files
    are never overwritten without --force; a symbolic link is never written through.

    \b
    Example:
      wfsync pull workflows/ && wfsync plan workflows/
    """
    import os
    import shlex

    from wfsync.live import read_jobs
    from wfsync.pull import definition_files

    async def action(api: Any, target: Any) -> Any:
        workflows = await api.list_workflows()
        return workflows, await read_jobs(api, [w.id for w in workflows])

    from wfsync.cli.app import register_project_secrets
    from wfsync.redact import SECRETS

    register_project_secrets(options["config_file"])
    workflows, jobs = call_api(action, **options)
    schema_line, schema_found = _schema_line(folder)
    # A value the project takes from the environment is written back as its ${NAME}, and
    # never becomes part of a file name.
    files = {
        SECRETS.mask(name).replace("${", "").replace("}", ""): text
        for name, text in definition_files(workflows, jobs, schema_line=schema_line).items()
    }
    # lexists: a dangling link is an entry too, and writing through it is what must not happen
    clashes = [name for name in files if os.path.lexists(os.path.join(folder, name))]
    if clashes and not force:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        verb = "exists" if len(clashes) == 1 else "exist"
        raise WfsyncError(
            f"{count(len(clashes), 'file')} {verb} in {folder}: {shown}; nothing was written "
            "(--force replaces them)"
        )
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        _write_no_follow(folder, name, SECRETS.mask(text), replace=name in clashes)
    click.echo(
        f"Wrote {count(len(files), 'workflow')} to {folder}. "
        f"Check them with: wfsync plan {shlex.quote(folder)}{_target_flags(options)}"
    )
    if not schema_found:
        click.echo(
            f"Note: their $schema line (for editors) names {os.path.join(*SCHEMA_FILE)}, not there yet: "
            "`wfsync init` writes it in a new repository."
        )
