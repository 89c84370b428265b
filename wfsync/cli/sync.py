"""The commands that keep the live account in sync with the files: validate, plan, apply."""

from __future__ import annotations

from typing import Any

import click

from wfsync.cli.app import (
    api_options,
    call_api,
    config_option,
    count,
    github_escape,
    main,
    reports_errors,
    use_color,
    write_file,
)
from wfsync.errors import WfsyncError

PRUNE = click.option(
    "--prune", is_flag=True, help="Delete live workflows that no definition claims (never protected ones)."
)
FORCE = click.option("--force", is_flag=True, help="Go past the safety limits on updates and deletes.")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="text: FILE:LINE:COL: message; github: annotations on the pull request; json: for tools.",
)
@click.option(
    "--env",
    "env_patterns",
    multiple=True,
    metavar="NAME",
    help="Check the variables of these environments (repeatable; a glob). Default: every one.",
)
@click.option(
    "--require-env",
    is_flag=True,
    help="Also demand a non-empty value for every ${NAME} secret (else the references are checked only).",
)
@config_option
@reports_errors
def validate(
    paths: tuple[str, ...],
    output: str,
    env_patterns: tuple[str, ...],
    require_env: bool,
    config_file: str | None,
) -> None:
    """Check definition files without touching the network.

    Reads every *.yaml and *.yml under PATHS (default: the settings' paths, else
    workflows/) and reports every problem at once, sorted, each with its file, line and
    column. Every ${var.NAME} must be defined for each environment that manages the
    workflow; ${NAME} secrets need no value unless --require-env. Exit status 0 when
    valid, 1 when not.

    \b
    Example:
      wfsync validate workflows/ --format github
      wfsync validate --env 'prod-*' --require-env
    """
    import json

    from wfsync.config import load_settings, select_environments
    from wfsync.definitions import DefinitionError, load_definitions

    settings = load_settings(config_file)
    # Checking is offline and cheap: with environments defined and no --env, check them all.
    environments = select_environments(settings, env_patterns or (["*"] if settings.environments else []))
    found: dict[tuple[str, str], Any] = {}
    problems_found: set[Any] = set()
    for environment in environments:
        try:
            loaded = load_definitions(
                paths or settings.paths,
                vars=environment.vars,
                require_env=require_env,
                environment=environment.name,
                include=environment.manages if environment.only else None,
            )
        except DefinitionError as exc:
            problems_found.update(exc.problems)
            continue
        found.update(((d.location.file, d.title), d) for d in loaded)
    problems = sorted(problems_found)
    definitions = [] if problems else list(found.values())
    files = len({definition.location.file for definition in definitions})
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not problems,
                    "workflows": len(definitions),
                    "problems": [
                        {
                            "file": p.location.file,
                            "line": p.location.line,
                            "column": p.location.column,
                            "message": p.message,
                        }
                        for p in problems
                    ],
                },
                indent=2,
            )
        )
    elif output == "github":
        for p in problems:
            place: list[tuple[str, object]] = [("file", p.location.file)]
            if p.location.line:
                place += [("line", p.location.line), ("col", p.location.column)]
            where = ",".join(
                f"{name}={github_escape(str(value), property_value=True)}" for name, value in place
            )
            click.echo(f"::error {where}::{github_escape(p.message)}")
    else:
        for p in problems:
            click.echo(str(p))
    if problems:
        click.echo(f"{count(len(problems), 'problem')} found", err=True)
        raise SystemExit(1)
    if output == "text":
        names = [environment.name for environment in environments if environment.name is not None]
        scope = (
            f" for {'environment' if len(names) == 1 else 'environments'} {', '.join(names)}" if names else ""
        )
        click.echo(f"{count(len(definitions), 'workflow')} in {count(files, 'file')}: valid{scope}", err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@PRUNE
@FORCE
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--markdown", is_flag=True, help="Print the plan as markdown for a pull-request comment.")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `wfsync apply --plan`."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
@api_options
@reports_errors
def plan(
    paths: tuple[str, ...],
    prune: bool,
    force: bool,
    as_json: bool,
    markdown: bool,
    out: str | None,
    detailed_exitcode: bool,
    api_url: str | None,
    sandbox: bool,
    debug: bool,
    config_file: str | None,
) -> None:
    """Show what apply would change: definitions against the live workflows.

    Reads the definitions under PATHS (default: the settings' paths, else workflows/),
    the live listing (one paginated read) and the jobs of workflows whose schedules are
    managed, and prints the changes. It never writes to the API. A plan over a safety
    limit is printed, then fails naming the limit (--force goes past it). When
    $GITHUB_STEP_SUMMARY is set, the markdown plan is appended there too.

    \b
    Example:
      wfsync plan workflows/ --detailed-exitcode --out plan.json
      wfsync plan examples/ --sandbox
    """
    import os

    from wfsync import render
    from wfsync.config import load_settings
    from wfsync.definitions import load_definitions
    from wfsync.plan import check_safety

    settings = load_settings(config_file)
    definitions = load_definitions(paths or settings.paths)

    async def compute(api: Any, target: Any) -> Any:
        return await _plan_live(api, target, definitions, settings, prune)

    result = call_api(
        compute, api_url=api_url, sandbox=sandbox, debug=debug, config_file=config_file, settings=settings
    )
    if as_json:
        click.echo(render.render_json(result), nl=False)
    elif markdown:
        click.echo(render.render_markdown(result), nl=False)
    else:
        click.echo(render.render_text(result, color=use_color()), nl=False, color=use_color())
    if out:
        write_file(out, render.render_json(result))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        write_file(summary_file, render.render_markdown(result), append=True)
    if not force:
        check_safety(result, settings.safety)
    if detailed_exitcode and not result.empty:
        raise SystemExit(2)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@PRUNE
@FORCE
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required when not on a terminal).")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply this saved plan (from plan --out), after checking that nothing it touches changed since.",
)
@click.option(
    "--parallelism",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Requests in flight at once.",
)
@click.option("--verify", is_flag=True, help="Afterwards, plan again and fail if anything still differs.")
@click.option(
    "--smoke",
    is_flag=True,
    help="Afterwards, run each created or changed workflow once and wait for its job; fail if a run fails.",
)
@click.option(
    "--smoke-timeout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to wait for each smoke run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result of every change as JSON.")
@click.option(
    "--lock-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to wait while another apply against the same API runs on this machine.",
)
@api_options
@reports_errors
def apply(
    paths: tuple[str, ...],
    prune: bool,
    force: bool,
    auto_approve: bool,
    plan_file: str | None,
    parallelism: int,
    verify: bool,
    smoke: bool,
    smoke_timeout: float,
    as_json: bool,
    lock_timeout: float,
    api_url: str | None,
    sandbox: bool,
    debug: bool,
    config_file: str | None,
) -> None:
    """Make the live workflows match the definitions.

    Computes a plan (or loads a saved one, refused whole if anything it touches changed
    since), shows it, asks for confirmation on a terminal, and carries it out: creates
    and updates, then cancels and schedules, deletes last. Every change that can run
    does; each failure is reported with the server's reason and the exit status is 1.
    Running apply again carries out what is left, and nothing twice.

    \b
    Example:
      wfsync apply workflows/ --auto-approve
      wfsync plan --out plan.json && wfsync apply --plan plan.json --auto-approve
    """
    import asyncio
    import json
    import signal
    import sys

    from wfsync.apply import ApplyReport, apply_plan
    from wfsync.config import load_settings
    from wfsync.definitions import load_definitions
    from wfsync.errors import ConfigError
    from wfsync.lock import apply_lock
    from wfsync.plan import check_safety
    from wfsync.render import render_text
    from wfsync.saved import check_fresh, load_plan

    settings = load_settings(config_file)
    out = sys.stderr if as_json else sys.stdout
    color = use_color() and not as_json

    def say(text: str = "", **style: Any) -> None:
        click.echo(click.style(text, **style) if color and style else text, file=out)

    saved = load_plan(plan_file) if plan_file else None
    definitions = None if saved else load_definitions(paths or settings.paths)
    interactive = sys.stdin.isatty()
    if not auto_approve and not interactive:
        raise ConfigError("refusing to apply without confirmation: not a terminal; pass --auto-approve")

    def lock(target: Any) -> Any:
        return apply_lock(
            target.name,
            timeout=lock_timeout,
            on_wait=lambda holder: say(f"Waiting for another apply against {target.name} ({holder})…"),
            on_unavailable=lambda reason: say(
                f"Warning: applying without the lock against parallel applies: {reason}"
            ),
        )

    async def run(api: Any, target: Any) -> Any:
        if saved is not None:
            await check_fresh(api, saved, target.name)
            plan = saved
        else:
            plan = await _plan_live(api, target, definitions, settings, prune)
        click.echo(render_text(plan, color=color), file=out, nl=False)
        if not force:
            check_safety(plan, settings.safety)
        if plan.empty:
            return None, None, None
        if not auto_approve:
            count = len(plan.changes)
            prompt = f"Apply these {count} change{'s' * (count != 1)} to {target.name}?"
            if not await asyncio.to_thread(click.confirm, prompt, err=as_json):
                raise ConfigError("apply cancelled: nothing was changed")
        progress = _Progress(len(plan.changes), out, tty=out.isatty(), color=color)
        report = await apply_plan(
            api, plan, parallelism=parallelism, report=progress.step, stop_on=(signal.SIGTERM, signal.SIGINT)
        )
        progress.close()
        smoked = await _smoke(api, report, smoke_timeout, parallelism, say) if smoke else None
        remaining = None
        if verify:
            again = definitions or load_definitions(paths or settings.paths)
            remaining = await _plan_live(api, target, again, settings, prune)
        return report, remaining, smoked

    report, remaining, smoked = call_api(
        run,
        api_url=api_url,
        sandbox=sandbox,
        debug=debug,
        config_file=config_file,
        connections=parallelism + 2,
        settings=settings,
        hold=lock,
    )
    if report is None:  # the plan, printed above, said there is nothing to do
        if as_json:
            click.echo(json.dumps(ApplyReport().data, indent=2))
        return
    say(report.summary_line(), bold=True, fg=None if report.ok else "red")
    if as_json:
        click.echo(json.dumps(report.data, indent=2, ensure_ascii=False))
    if remaining is not None and not remaining.empty:
        say(render_text(remaining, color=color).rstrip())
        raise WfsyncError(f"verify: {len(remaining.changes)} change(s) still differ after applying")
    if remaining is not None:
        say("Verified: the live workflows match the definitions.")
    if smoked is not None:
        failed = [result for result in smoked if not result.ok]
        say(
            f"Smoke runs: {len(smoked) - len(failed)} of {len(smoked)} completed.",
            bold=True,
            fg="red" if failed else None,
        )
        if failed:
            raise WfsyncError(
                f"{len(failed)} smoke run(s) failed: "
                + "; ".join(f"{r.title!r}: {r.problem}" for r in failed)
            )
    if not report.ok:
        raise SystemExit(1)


async def _smoke(api: Any, report: Any, timeout: float, parallelism: int, say: Any) -> Any:
    """Run each workflow the apply created or changed, once, and wait for it."""
    from wfsync.operate import smoke_runs

    targets = list(
        dict.fromkeys(
            (o.change.title, o.workflow_id)
            for o in report.outcomes
            if o.status == "done" and o.change.action in ("create", "update") and o.workflow_id
        )
    )

    def show(result: Any) -> None:
        job = f"job {result.job.id} " if result.job else ""
        say(
            f"smoke run of {result.title!r}: {job}{'completed' if result.ok else result.problem}",
            fg=None if result.ok else "red",
        )

    return await smoke_runs(api, targets, timeout=timeout, parallelism=parallelism, report=show)


async def _plan_live(api: Any, target: Any, definitions: Any, settings: Any, prune: bool) -> Any:
    """The plan of ``definitions`` against the live account, as plan and apply compute it."""
    from datetime import UTC, datetime

    from wfsync.live import plan_live

    return await plan_live(
        api, definitions, now=datetime.now(UTC), prune=prune, protect=settings.protect, api_url=target.name
    )


class _Progress:
    """A progress bar on a terminal; one line per change otherwise (CI logs)."""

    def __init__(self, total: int, out: Any, *, tty: bool, color: bool) -> None:
        self.total, self.out, self.tty, self.color = total, out, tty, color
        self.done = self.failed = 0

    def step(self, outcome: Any) -> None:
        import json

        from wfsync.apply import PAST

        self.done += 1
        self.failed += outcome.status != "done"
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            bar = "#" * filled + "." * (width - filled)
            failed = f", {self.failed} failed" if self.failed else ""
            self.out.write(f"\r[{bar}] {self.done}/{self.total}{failed}")
            self.out.flush()
            if outcome.status == "done":
                return
        change = outcome.change
        word = (
            PAST[change.action] if outcome.status == "done" else f"{outcome.status.upper()} {change.action}"
        )
        line = f"{word} {json.dumps(change.title, ensure_ascii=False)}"
        if change.action == "schedule":
            line += f" at {change.instant} ({change.timezone})"
        if outcome.detail:
            line += f": {outcome.detail}"
        if self.tty:
            self.out.write("\r" + " " * 60 + "\r")
        if self.color and outcome.status != "done":
            line = click.style(line, fg="red")
        click.echo(line, file=self.out)

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
