"""``wfsync emulator``: serve the local emulator of the Workflows API."""

from __future__ import annotations

import click

from wfsync.cli.app import main, reports_errors
from wfsync.errors import WfsyncError


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
    metavar="SPEC|FILE",
    help="Answer in another form a client must survive, such as "
    "envelope=items|bare,id=_id,page-cap=7,total=no,errors=string|text, "
    "writes=bare|status|update-result|empty,titles=unique,defaults=yes,jobs=bullmq,offset=+05:30; "
    "or a JSON file of those settings, or a `wfsync doctor --record` folder (its dialect.json).",
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
@reports_errors
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
    warning = emulator_config.exposure_warning(host, settings.keys)
    if warning:
        click.echo(warning, err=True)
    if settings.faults.any:
        click.echo(f"  faults: {settings.faults}", err=True)
    try:
        serve(create_app(settings, store), sock, on_stop=store.close)
    except KeyboardInterrupt:
        click.echo("wfsync emulator stopped", err=True)


def _ensure_parent(path: str) -> None:
    import os

    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise WfsyncError(f"cannot create {parent}: {exc.strerror or exc}") from exc
