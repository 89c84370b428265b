"""The commands that keep the live account in sync with the files: validate, plan, apply."""

from __future__ import annotations

import json
from typing import Any

import click

from wfsync.cli.app import (
    api_options,
    call_api,
    config_option,
    count,
    github_escape,
    main,
    register_secrets,
    reports_errors,
    use_color,
    write_file,
)
from wfsync.errors import WfsyncError

PRUNE = click.option(
    "--prune", is_flag=True, help="Delete live workflows that no definition claims (never protected ones)."
)
FORCE = click.option("--force", is_flag=True, help="Go past the safety limits on updates and deletes.")


def SELECTION(command: Any) -> Any:
    """``--only``/``--exclude``: limit the plan to workflows by title glob."""
    command = click.option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Leave workflows whose title matches alone (repeatable).",
    )(command)
    return click.option(
        "--only",
        multiple=True,
        metavar="GLOB",
        help="Change only workflows whose title matches (repeatable); nothing else is touched.",
    )(command)


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
    from wfsync.config import load_settings, select_environments
    from wfsync.definitions import DefinitionError, load_definitions

    settings = load_settings(config_file)
    register_secrets(paths or settings.paths)
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
@SELECTION
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
    as_json: bool,
    markdown: bool,
    out: str | None,
    detailed_exitcode: bool,
    **given: Any,
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
    from wfsync.plan import check_safety
    from wfsync.saved import plan_data
    from wfsync.sync import plan_against

    run = _Run(paths, given)
    definitions = run.definitions()
    result = call_api(
        lambda api, target: plan_against(api, definitions, run.options_for(target), run.account(target)),
        **run.api,
    )
    if as_json:
        click.echo(render.render_json(result), nl=False)
    elif markdown:
        click.echo(render.render_markdown(result), nl=False)
    else:
        click.echo(render.render_text(result, color=use_color()), nl=False, color=use_color())
    if out:
        write_file(out, json.dumps(plan_data([result]), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        write_file(summary_file, render.render_markdown(result), append=True)
    if not run.options.force:
        check_safety(result, run.options.safety)
    if detailed_exitcode and not result.empty:
        raise SystemExit(2)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@PRUNE
@FORCE
@SELECTION
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required when not on a terminal).")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Apply only if a plan made now is this saved plan (from plan --out), change for change.",
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
    auto_approve: bool,
    plan_file: str | None,
    parallelism: int,
    verify: bool,
    smoke: bool,
    smoke_timeout: float,
    as_json: bool,
    lock_timeout: float,
    **given: Any,
) -> None:
    """Make the live workflows match the definitions.

    Computes a plan, shows it, asks for confirmation on a terminal, and carries it out:
    creates and updates, then cancels and schedules, deletes last. With --plan FILE the
    plan made now must be the saved one, change for change, or nothing is applied. Every
    change that can run does; each failure is reported with the server's reason and the
    exit status is 1. Running apply again carries out what is left, and nothing twice.

    \b
    Example:
      wfsync apply workflows/ --auto-approve
      wfsync plan --out plan.json && wfsync apply --plan plan.json --auto-approve
    """
    import signal
    import sys

    from wfsync.progress import Event, Progress, change_line
    from wfsync.render import render_apply, render_text, smoke_line
    from wfsync.sync import (
        LockUnavailable,
        LockWaiting,
        Planned,
        Progressed,
        Settled,
        Smoked,
        apply_session,
    )

    run = _Run(paths, given)
    saved = run.saved(plan_file)
    out = sys.stderr if as_json else sys.stdout
    color = use_color() and not as_json
    progress = Progress(0, out, tty=out.isatty(), color=color)

    def on_event(event: Any) -> None:
        if isinstance(event, Planned):
            click.echo(render_text(event.plan, color=color), file=out, nl=False)
            progress.total = len(event.plan.changes)
        elif isinstance(event, Progressed):
            progress.report(event.outcome)
        elif isinstance(event, Settled):
            click.echo(
                _red(
                    f"verify: {change_line(Event.of(event.outcome))}",
                    color and event.outcome.status != "done",
                ),
                file=out,
            )
        elif isinstance(event, Smoked):
            click.echo(_red(smoke_line(event.result), color and not event.result.ok), file=out)
        elif isinstance(event, LockWaiting):
            click.echo(f"Waiting for another apply against the same API ({event.holder})…", file=out)
        elif isinstance(event, LockUnavailable):
            click.echo(
                f"Warning: applying without the lock against parallel applies: {event.reason}", file=out
            )

    async def session(api: Any, target: Any) -> Any:
        return await apply_session(
            api,
            run.definitions,
            run.options_for(target),
            run.account(target),
            saved=saved,
            confirm=_confirmation(auto_approve, target.name, out=sys.stderr if as_json else sys.stdout),
            on_event=on_event,
            parallelism=parallelism,
            verify=verify,
            smoke=smoke,
            smoke_timeout=smoke_timeout,
            lock_timeout=lock_timeout,
            stop_on=(signal.SIGTERM, signal.SIGINT),
        )

    result = call_api(session, connections=parallelism + 2, **run.api)
    progress.close()
    run.remember(result)
    click.echo(render_apply(result, color=color), file=out, nl=False)
    if as_json:
        from wfsync.apply import ApplyReport

        click.echo(json.dumps((result.report or ApplyReport()).data, indent=2, ensure_ascii=False))
    if result.remaining is not None and not result.remaining.empty:
        raise WfsyncError(
            f"verify: {count(len(result.remaining.changes), 'change')} still differ after applying"
        )
    failed = [smoked for smoked in result.smoked or () if not smoked.ok]
    if failed:
        raise WfsyncError(
            f"{count(len(failed), 'smoke run')} failed: "
            + "; ".join(f"{r.title!r}: {r.problem}" for r in failed)
        )
    if not result.ok:
        raise SystemExit(1)


class _Run:
    """What plan and apply share: settings, definitions, plan options, where to connect."""

    def __init__(self, paths: tuple[str, ...], given: dict[str, Any]) -> None:
        from wfsync.config import load_settings
        from wfsync.plan import Selection
        from wfsync.sync import Options

        self.paths = paths
        self.settings = load_settings(given["config_file"])
        self.options = Options(
            prune=given["prune"],
            force=given["force"],
            selection=Selection(tuple(given["only"]), tuple(given["exclude"])),
            protect=self.settings.protect,
            safety=self.settings.safety,
        )
        self.api = {
            "api_url": given["api_url"],
            "sandbox": given["sandbox"],
            "debug": given["debug"],
            "config_file": given["config_file"],
            "settings": self.settings,
        }

    def definitions(self) -> Any:
        from wfsync.definitions import load_definitions

        register_secrets(self.paths or self.settings.paths)
        return load_definitions(self.paths or self.settings.paths)

    @property
    def normalised_file(self) -> str:
        import os

        from wfsync.normalised import FILE

        root = os.path.dirname(self.settings.source) if self.settings.source else "."
        return os.path.join(root, FILE)

    def options_for(self, target: Any) -> Any:
        """The options for one account, with what its server is known to normalise."""
        from dataclasses import replace

        from wfsync.normalised import load

        return replace(self.options, normalised=load(self.normalised_file, target.name))

    def remember(self, result: Any) -> None:
        """Keep what the verification round learnt, so later plans stop proposing it."""
        from wfsync.normalised import remember

        if result.convergence is not None and result.convergence.learned:
            remember(self.normalised_file, result.plan.api_url, result.convergence.learned)

    def account(self, target: Any) -> Any:
        from wfsync.sync import Account

        return Account(target.name)

    def saved(self, plan_file: str | None) -> Any:
        """The saved plan to check against, and the options it was made with."""
        if plan_file is None:
            return None
        from wfsync.errors import ConfigError
        from wfsync.saved import read_plans

        plans = read_plans(plan_file)
        if len(plans) != 1:
            raise ConfigError(f"{plan_file}: a plan of {len(plans)} environments; apply it with --env")
        saved = plans[0]
        if (
            self.options.prune != saved.prune and self.options.prune
        ) or not self.options.selection.everything:
            raise ConfigError(
                f"{plan_file}: a saved plan records its own --prune, --only and --exclude; give none of them"
            )
        if (saved.api_url or "").startswith("sandbox:") != bool(self.api["sandbox"]):
            made = "with --sandbox" if self.api["sandbox"] is False else "against a real account"
            raise ConfigError(
                f"{plan_file}: this plan was made {made}; apply it the same way"
                + (" (add --sandbox)" if not self.api["sandbox"] else " (drop --sandbox)")
            )
        from dataclasses import replace

        self.options = replace(self.options, prune=saved.prune, selection=saved.selection)
        return saved


def _confirmation(auto_approve: bool, where: str, *, out: Any) -> Any:
    """The question apply asks before changing anything (None: go ahead). A plan that
    deletes, or changes more than a handful, wants ``yes`` typed out; one Ctrl-C aborts."""
    import sys

    from wfsync.cli.prompt import apply_question, confirm_async, deletion_text, needs_typed_yes
    from wfsync.errors import ConfigError

    if auto_approve:
        return None

    async def confirm(plan: Any) -> bool:
        if not sys.stdin.isatty():
            raise ConfigError("refusing to apply without confirmation: not a terminal; pass --auto-approve")
        deleted = [(c.title, c.workflow_id) for c in plan.changes if c.action == "delete"]
        if deleted:
            click.echo(deletion_text(deleted), file=out)
        question = apply_question(len(plan.changes), where)
        return await confirm_async(question, typed=needs_typed_yes(plan.counts), out=out)

    return confirm


def _red(text: str, color: bool) -> str:
    return click.style(text, fg="red") if color else text
