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
