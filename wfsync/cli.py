"""The command line: the only place that reads argv and the environment, prints, and exits.

Each command parses its options, makes one call into the library, prints the result and
maps :class:`~wfsync.errors.WfsyncError` to a one-line error and exit status 1. Heavy
libraries are imported inside the commands so that ``wfsync --help`` starts fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from wfsync import __version__
from wfsync.errors import WfsyncError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Turn our errors into ``Error: message`` and exit 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WfsyncError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="wfsync")
def main() -> None:
    """Keep voice-AI call workflows, written as YAML in git, in sync with the Workflows API.

    \b
    Example:
      wfsync emulator --port 8787
    """


def _config_option(command: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Project settings file (default: ./wfsync.yaml when present).",
    )(command)


def _api_options(command: F) -> F:
    """The options of every command that talks to the API."""
    for option in reversed(
        [
            click.option(
                "--api-url",
                metavar="URL",
                help="The API (default: $WFSYNC_API_URL, the "
                "settings' api_url, else https://api.indigenius.ai). The key is read from "
                "$WFSYNC_API_KEY or $INDIGENIUS_API_KEY, never from a flag.",
            ),
            click.option(
                "--sandbox",
                is_flag=True,
                help="Use the embedded emulator instead, its state in .wfsync/sandbox.db: no account needed.",
            ),
            click.option(
                "--debug", is_flag=True, help="Log every request to stderr (the key never appears)."
            ),
            _config_option,
        ]
    ):
        command = option(command)
    return command


class _Redact:
    """A logging filter that removes a secret from every record."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def filter(self, record: Any) -> bool:
        if self.secret and self.secret in record.getMessage():
            record.msg, record.args = record.getMessage().replace(self.secret, "***"), ()
        return True


def _logging(debug: bool, secret: str) -> None:
    import logging

    if not debug:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(_Redact(secret))
    for name, level in (("wfsync", logging.DEBUG), ("httpx", logging.INFO)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)


def _color() -> bool:
    import os
    import sys

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


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
@_config_option
@_reports_errors
def validate(paths: tuple[str, ...], output: str, config_file: str | None) -> None:
    """Check definition files without touching the network.

    Reads every *.yaml and *.yml under PATHS (default: the settings' paths, else
    workflows/) and reports every problem at once, sorted, each with its file, line and
    column. Exit status 0 when valid, 1 when not.

    \b
    Example:
      wfsync validate workflows/ --format github
    """
    import json

    from wfsync.config import load_settings
    from wfsync.definitions import DefinitionError, load_definitions

    settings = load_settings(config_file)
    try:
        definitions = load_definitions(paths or settings.paths)
        problems = []
    except DefinitionError as exc:
        definitions, problems = [], exc.problems
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
            where = ",".join(
                f"{name}={_github_escape(str(value), property_value=True)}"
                for name, value in (
                    ("file", p.location.file),
                    ("line", p.location.line),
                    ("col", p.location.column),
                )
            )
            click.echo(f"::error {where}::{_github_escape(p.message)}")
    else:
        for p in problems:
            click.echo(str(p))
    if problems:
        click.echo(f"{_count(len(problems), 'problem')} found", err=True)
        raise SystemExit(1)
    if output == "text":
        click.echo(f"{_count(len(definitions), 'workflow')} in {_count(files, 'file')}: valid", err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--prune", is_flag=True, help="Delete live workflows that no definition claims (never protected ones)."
)
@click.option("--force", is_flag=True, help="Go past the safety limits on updates and deletes.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--markdown", is_flag=True, help="Print the plan as markdown for a pull-request comment.")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `wfsync apply --plan`."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
@_api_options
@_reports_errors
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
    import asyncio
    import os
    from datetime import UTC, datetime

    from wfsync import render
    from wfsync.api import ApiClient
    from wfsync.config import load_settings
    from wfsync.definitions import load_definitions
    from wfsync.live import plan_live
    from wfsync.plan import check_safety
    from wfsync.target import open_target

    settings = load_settings(config_file)
    definitions = load_definitions(paths or settings.paths)
    with open_target(api_url, sandbox=sandbox, configured_url=settings.api_url) as target:
        _logging(debug, target.key)

        async def compute() -> Any:
            async with ApiClient.connect(target.url, target.key) as api:
                return await plan_live(
                    api,
                    definitions,
                    now=datetime.now(UTC),
                    prune=prune,
                    protect=settings.protect,
                    api_url=target.name,
                )

        result = asyncio.run(compute())
    if as_json:
        click.echo(render.render_json(result), nl=False)
    elif markdown:
        click.echo(render.render_markdown(result), nl=False)
    else:
        click.echo(render.render_text(result, color=_color()), nl=False, color=_color())
    if out:
        _write(out, render.render_json(result))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _write(summary_file, render.render_markdown(result), append=True)
    if not force:
        check_safety(result, settings.safety)
    if detailed_exitcode and not result.empty:
        raise SystemExit(2)


def _write(path: str, text: str, *, append: bool = False) -> None:
    try:
        with open(path, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise WfsyncError(f"cannot write {path}: {exc.strerror}") from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option(
    "--db",
    default=":memory:",
    show_default=True,
    help="SQLite file holding the state (it survives restarts); :memory: keeps none.",
)
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="KEY=SCOPES",
    help="An accepted API key and its comma-separated scopes (repeatable). "
    "Without any, the development key wfsync-dev-key has workflows:read,workflows:write.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Injected trouble, such as latency=20ms,500=10%,429=5%,retry-after=1,drop-create=0.2 (repeatable).",
)
@click.option(
    "--dialect",
    "dialects",
    multiple=True,
    metavar="SPEC",
    help="Answer in another form a client must survive, such as "
    "envelope=items|bare,id=_id,page-cap=7,total=no,errors=string|text.",
)
@click.option("--seed", default=0, show_default=True, help="Seed for simulated calls and faults.")
@click.option(
    "--job-seconds",
    default=1.2,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a run takes from queued to finished.",
)
@click.option(
    "--fail-share",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of runs that fail by chance (runs also fail when a webhook host is *.invalid).",
)
@_reports_errors
def emulator(
    host: str,
    port: int,
    db: str,
    keys: tuple[str, ...],
    faults: tuple[str, ...],
    dialects: tuple[str, ...],
    seed: int,
    job_seconds: float,
    fail_share: float,
) -> None:
    """Serve a local emulator of the whole Workflows API.

    Every endpoint of the platform, with API keys and scopes, validation, pagination,
    jobs that run on a schedule, summaries from simulated calls, and injected faults.
    Point any client at it with WFSYNC_API_URL.

    \b
    Example:
      wfsync emulator --port 8787 --db emulator.db --fault latency=20ms,429=5%
      curl -H 'X-API-Key: wfsync-dev-key' http://127.0.0.1:8787/v1/workflows
    """
    from wfsync.emulator import config as emulator_config
    from wfsync.emulator.app import create_app
    from wfsync.emulator.server import bind, serve
    from wfsync.emulator.store import JobTiming, Store

    settings = emulator_config.EmulatorConfig(
        keys=emulator_config.parse_keys(keys) if keys else {emulator_config.DEV_KEY: emulator_config.SCOPES},
        faults=emulator_config.parse_faults(faults),
        dialect=emulator_config.parse_dialect(dialects),
        timing=JobTiming(queue_seconds=job_seconds / 6, run_seconds=job_seconds * 5 / 6),
        seed=seed,
        fail_share=fail_share,
    )
    if db != ":memory:":
        _ensure_parent(db)
    store = Store(db, seed=seed, timing=settings.timing, fail_share=fail_share)
    sock = bind(host, port)
    address = sock.getsockname()
    shown_host = f"[{address[0]}]" if ":" in address[0] else address[0]
    click.echo(f"wfsync emulator listening on http://{shown_host}:{address[1]}", err=True)
    click.echo(f"  state: {'in memory' if db == ':memory:' else db}", err=True)
    if keys:
        click.echo(f"  keys: {len(settings.keys)} configured with --key", err=True)
    else:
        click.echo(f"  key: {emulator_config.DEV_KEY} (development key, both scopes)", err=True)
    if settings.faults.any:
        click.echo(f"  faults: {settings.faults}", err=True)
    try:
        serve(create_app(settings, store), sock)
    except KeyboardInterrupt:
        click.echo("wfsync emulator stopped", err=True)


def _ensure_parent(path: str) -> None:
    import os

    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise WfsyncError(f"cannot create {parent}: {exc.strerror or exc}") from exc
