"""The commands that keep the live account in sync with the files: validate, plan, apply."""

from __future__ import annotations

import json
from typing import Any

import click

from wfsync.cli.app import (
    api_options,
    config_option,
    count,
    github_escape,
    main,
    register_references,
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
    from wfsync.definitions import DefinitionError, check_definitions, title_warnings
    from wfsync.parsecache import user_cache

    settings = load_settings(config_file)
    cache = user_cache()
    # The secrets to mask: every ${NAME} of every file read, found as the loader reads them
    # (registered before anything is printed, below).
    references: set[str] = set()
    # Checking is offline and cheap: with environments defined and no --env, check them all.
    environments = select_environments(settings, env_patterns or (["*"] if settings.environments else []))
    found: dict[tuple[str, str], Any] = {}
    problems_found: set[Any] = set()
    try:
        for environment in environments:
            try:
                loaded = check_definitions(
                    paths or settings.paths,
                    vars=environment.vars,
                    require_env=require_env,
                    environment=environment.name,
                    include=environment.manages if environment.only else None,
                    cache=cache,
                    references=references,
                )
            except DefinitionError as exc:
                problems_found.update(exc.problems)
                continue
            found.update(((d.location.file, d.title), d) for d in loaded)
    finally:  # before any message, an error's too, is printed
        register_references(references)
    problems = sorted(problems_found)
    definitions = [] if problems else list(found.values())
    files = len({definition.location.file for definition in definitions})
    # Legal, likely a mistake: shown, never failing (an unseen character, titles that differ
    # only in case).
    warnings = title_warnings(found.values())
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not problems,
                    "workflows": len(definitions),
                    "problems": [_located(p) for p in problems],
                    "warnings": [_located(w) for w in warnings],
                },
                indent=2,
            )
        )
    elif output == "github":
        for kind, found_ in (("error", problems), ("warning", warnings)):
            for p in found_:
                place: list[tuple[str, object]] = [("file", p.location.file)]
                if p.location.line:
                    place += [("line", p.location.line), ("col", p.location.column)]
                where = ",".join(
                    f"{name}={github_escape(str(value), property_value=True)}" for name, value in place
                )
                click.echo(f"::{kind} {where}::{github_escape(p.message)}")
    else:
        for p in problems:
            click.echo(str(p))
        for w in warnings:
            click.echo(f"{w.location}: warning: {w.message}", err=True)
    if problems:
        click.echo(f"{count(len(problems), 'problem')} found", err=True)
        raise SystemExit(1)
    if output == "text":
        names = [environment.name for environment in environments if environment.name is not None]
        scope = (
            f" for {'environment' if len(names) == 1 else 'environments'} {', '.join(names)}" if names else ""
        )
        click.echo(f"{count(len(definitions), 'workflow')} in {count(files, 'file')}: valid{scope}", err=True)


def _located(problem: Any) -> dict[str, Any]:
    """A problem or a warning as validate --format json writes it."""
    where = problem.location
    return {"file": where.file, "line": where.line, "column": where.column, "message": problem.message}


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
@click.option(
    "--notify",
    metavar="URL",
    help="Post a Slack-compatible message to URL when an environment goes in sync <-> drifted.",
)
@click.option(
    "--notify-state",
    type=click.Path(dir_okay=False),
    default=".wfsync/notify-state.json",
    show_default=True,
    help="Where --notify remembers each environment's last state (cache it between CI runs).",
)
@api_options
@reports_errors
def plan(
    paths: tuple[str, ...],
    as_json: bool,
    markdown: bool,
    out: str | None,
    detailed_exitcode: bool,
    notify: str | None,
    notify_state: str,
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
    from wfsync.cli.fleet import Fleet
    from wfsync.saved import plan_data
    from wfsync.sync import plan_against

    fleet = Fleet(paths, given)
    loading = fleet.load_all()  # a file at a time, while the listings are on their way

    async def one(api: Any, member: Any) -> Any:
        known: dict[str, Any] = {}  # bodies by title as files are read, for the listing to share
        definitions = loading.of(member, known)
        return await plan_against(api, definitions, fleet.options(member), fleet.account(member), known=known)

    results = fleet.run(one, loading=loading)
    plans = [plan for _, plan in results if not isinstance(plan, WfsyncError)]
    color = use_color() and not (as_json or markdown)
    saved = json.dumps(plan_data(plans), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if as_json:
        click.echo(saved, nl=False)
    else:
        sections = [(m.name, m.api_name, r) for m, r in results]
        click.echo(render.render_plans(sections, named=fleet.named, markdown=markdown, color=color), nl=False)
    if out:
        write_file(out, saved)
    if summary_file := os.environ.get("GITHUB_STEP_SUMMARY"):
        write_file(summary_file, "".join(render.render_markdown(plan) for plan in plans), append=True)
    if notify:
        _notify(notify, notify_state, [(member.name, result) for member, result in results])
    fleet.check(results)
    if detailed_exitcode and any(not plan.empty for plan in plans):
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
    "--parallel-envs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Environments applied at once (with --auto-approve); 1 goes through them in the order written.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Go on with the next environments after one fails (by default apply stops before them).",
)
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
    parallel_envs: int,
    keep_going: bool,
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

    from wfsync.cli.fleet import Fleet
    from wfsync.errors import ConfigError
    from wfsync.render import fleet_data, heading, render_apply, render_fleet_apply
    from wfsync.sync import apply_session

    fleet = Fleet(paths, given, plan_file)
    out = sys.stderr if as_json else sys.stdout
    color = use_color() and not as_json
    together = parallel_envs > 1 and len(fleet.members) > 1
    if together and not auto_approve:
        raise ConfigError(
            "--parallel-envs needs --auto-approve: one prompt cannot answer for several accounts"
        )

    async def one(api: Any, member: Any) -> Any:
        if fleet.named and not together:
            click.echo(heading(member.name, member.api_name, color=color), file=out)
        view = _View(out, color, f"[{member.name}] " if together else "", tty=out.isatty() and not together)
        try:
            result = await apply_session(
                api,
                lambda: fleet.definitions(member),
                fleet.options(member),
                fleet.account(member),
                saved=member.saved,
                confirm=_confirmation(auto_approve, member.target.name, out=out),
                on_event=view.on_event,
                parallelism=parallelism,
                verify=verify,
                smoke=smoke,
                smoke_timeout=smoke_timeout,
                lock_timeout=lock_timeout,
                stop_on=(signal.SIGTERM, signal.SIGINT),
            )
        finally:
            view.close()
        fleet.remember(member, result)
        view.say(render_apply(result, color=color))
        return result

    def halts(result: Any) -> bool:
        return not keep_going and (isinstance(result, WfsyncError) or not result.ok)

    results = fleet.run(one, parallel=parallel_envs, connections=parallelism + 2, halts=halts)
    if not fleet.named:
        ((_, result),) = results
        if isinstance(result, WfsyncError):
            raise result
        if as_json:
            from wfsync.apply import ApplyReport

            click.echo(json.dumps((result.report or ApplyReport()).data, indent=2, ensure_ascii=False))
        _fail_unless_ok(result)
        return
    outcomes = [(member.name, result) for member, result in results]
    click.echo(render_fleet_apply(outcomes, keep_going=keep_going), file=out, nl=False)
    if as_json:
        click.echo(json.dumps(fleet_data(outcomes), indent=2, ensure_ascii=False))
    if any(isinstance(r, WfsyncError) or r is None or not r.ok for _, r in results):
        raise SystemExit(1)


def _notify(url: str, state_file: str, results: list[tuple[str | None, Any]]) -> None:
    """Tell a chat when an environment's state changed since the last plan (never the URL)."""
    from wfsync.notify import EnvState, notify_on_change
    from wfsync.plan import Plan
    from wfsync.redact import SECRETS

    SECRETS.add(url, "(the --notify URL)")
    states = [
        EnvState(name or "default", not plan.empty, {a: n for a, n in plan.counts.items() if n})
        for name, plan in results
        if isinstance(plan, Plan)
    ]
    for state in notify_on_change(url, state_file, states):
        click.echo(f"Notified: {state.name} is {state.word}", err=True)


def _fail_unless_ok(result: Any) -> None:
    """The one account's exit: what still differs, failed smoke runs, failed changes."""
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


class _View:
    """What one environment's apply shows as it goes: its plan, a line per change (above a
    live bar on a terminal), lock waits, verification and smoke runs. ``prefix`` marks
    the lines of one environment among several applied at once."""

    def __init__(self, out: Any, color: bool, prefix: str, *, tty: bool) -> None:
        from wfsync.progress import Progress

        self.out, self.color, self.prefix = out, color, prefix
        stream: Any = _Prefixed(out, prefix) if prefix else out
        self.progress = Progress(0, stream, tty=tty, color=color)

    def say(self, text: str) -> None:
        self.progress.flush()  # its lines of this loop turn come first
        if text:  # one write for the whole text: a plan of 1,000 creates is 4,000 lines
            lines = text.rstrip("\n").split("\n")
            click.echo("".join(f"{self.prefix}{line}\n" for line in lines), file=self.out, nl=False)

    def on_event(self, event: Any) -> None:
        from wfsync.progress import Event, change_line
        from wfsync.render import render_text, smoke_line
        from wfsync.sync import LockUnavailable, LockWaiting, Planned, Progressed, Settled, Smoked

        if isinstance(event, Planned):
            self.say(render_text(event.plan, color=self.color))
            self.progress.total = len(event.plan.changes)
        elif isinstance(event, Progressed):
            self.progress.report(event.outcome)
        elif isinstance(event, Settled):
            failed = self.color and event.outcome.status != "done"
            self.say(_red(f"verify: {change_line(Event.of(event.outcome))}", failed))
        elif isinstance(event, Smoked):
            self.say(_red(smoke_line(event.result), self.color and not event.result.ok))
        elif isinstance(event, LockWaiting):
            self.say(f"Waiting for another apply against the same API ({event.holder})…")
        elif isinstance(event, LockUnavailable):
            self.say(f"Warning: applying without the lock against parallel applies: {event.reason}")

    def close(self) -> None:
        self.progress.close()


class _Prefixed:
    """A stream that starts each line with ``prefix`` (one environment among several)."""

    def __init__(self, out: Any, prefix: str) -> None:
        self.out, self.prefix, self.fresh = out, prefix, True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            self.out.write((self.prefix if self.fresh else "") + piece)
            self.fresh = piece.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


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
