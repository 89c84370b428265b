"""``wfsync doctor``: check an API before trusting wfsync with it."""

from __future__ import annotations

import os
from typing import Any

import click

from wfsync.cli.app import api_options, call_api, main, register_project_secrets, reports_errors, write_file
from wfsync.errors import ConfigError


@main.command()
@click.option(
    "--write",
    is_flag=True,
    help="Also create a temporary workflow, PATCH it, schedule and cancel a run, delete it "
    "(the account is left as it was, checked by a final listing).",
)
@click.option(
    "--record",
    "record_dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Save every exchange in DIR (a new or empty folder) as JSON, the key, secrets and ids "
    "masked; DIR/dialect.json lets `wfsync emulator --dialect DIR` answer in the same forms.",
)
@api_options
@reports_errors
def doctor(write: bool, record_dir: str | None, **options: Any) -> None:
    """Check the API, the key and the forms of its answers; say what wfsync does about each.

    Read-only by default: the URL and TLS, the key and its read scope, the listing's form
    (envelope, id key, total, page size cap, paging parameters), the error and job forms,
    the clock against the server's Date. Exits 1 when it finds a problem.

    \b
    Example:
      wfsync doctor
      wfsync doctor --write --record doctor-recording/
    """
    from wfsync import doctor as forms
    from wfsync.doctor_probe import examine

    if record_dir is not None and os.path.isdir(record_dir) and os.listdir(record_dir):
        raise ConfigError(f"{record_dir} is not empty: --record needs a new or empty folder")
    register_project_secrets(options.get("config_file"))

    async def action(api: Any, target: Any) -> Any:
        return await examine(api, url=target.name, write=write)

    report = call_api(action, **options)
    click.echo(forms.render(report), nl=False)
    if record_dir is not None:
        os.makedirs(record_dir, exist_ok=True)
        files = forms.recording(report)
        for name, text in files.items():
            write_file(os.path.join(record_dir, name), text)
        click.echo(f"Recorded {len(files) - 2} exchanges in {record_dir} (the key, secrets and ids masked).")
        if report.dialect:
            click.echo(f"Replay: wfsync emulator --dialect {os.path.join(record_dir, 'dialect.json')}")
    if report.problems:
        raise click.ClickException(f"wfsync doctor found {len(report.problems)} problem(s)")
