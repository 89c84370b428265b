"""Commands that set a project up: init (a starter repository) and completion."""

from __future__ import annotations

from pathlib import Path

import click

from wfsync.cli.app import main, reports_errors


@main.command()
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(file_okay=False))
@click.option(
    "--pipeline",
    is_flag=True,
    help="Write only the GitHub Actions pipeline, from the settings and definitions in DIR.",
)
@click.option("--force", is_flag=True, help="With --pipeline: replace the pipeline if it exists.")
@click.option(
    "--environments",
    metavar="NAMES",
    default="",
    help="Comma-separated accounts to set up (staging,production): one environment each in wfsync.yaml.",
)
@reports_errors
def init(folder: str, pipeline: bool, force: bool, environments: str) -> None:
    """Create a starter workflows repository in DIR (default: here).

    Writes one commented example definition, wfsync.yaml, the JSON Schemas editors use,
    a GitHub Actions pipeline (a plan per environment on pull requests, one comment each
    updated in place; on main, apply what was reviewed behind an approval gate; a nightly
    drift check that opens issues), a pre-commit configuration and a .gitignore. Never
    overwrites a file. With --pipeline, writes the pipeline of an existing repository
    again (after adding environments or secrets).

    \b
    Example:
      wfsync init my-workflows && cd my-workflows && wfsync validate
      wfsync init my-workflows --environments staging,production
      wfsync init --pipeline --force
    """
    from wfsync.errors import WfsyncError
    from wfsync.scaffold import write_pipeline, write_starter

    if force and not pipeline:
        raise WfsyncError("--force only replaces the pipeline (with --pipeline); init never overwrites")
    import re

    names = [name.strip() for name in environments.split(",") if name.strip()]
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name)]
    if bad or len(set(names)) != len(names):
        raise WfsyncError(
            f"--environments: {bad[0] if bad else 'a name twice'!r}: names are letters, digits, - and _ "
            "(starting with a letter), each once"
        )
    if pipeline and names:
        raise WfsyncError("--environments sets up a new repository; add them to wfsync.yaml, then --pipeline")
    written = write_pipeline(Path(folder), force=force) if pipeline else write_starter(Path(folder), names)
    for name in written:
        click.echo(f"  {'wrote' if pipeline else 'created'} {Path(folder) / name}")
    if pipeline:
        return
    click.echo(
        f"Next: set LEAD_HOOK_TOKEN, then run `wfsync plan --sandbox` in {folder} (no account needed)."
    )


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Example:
      eval "$(wfsync completion bash)"      # in ~/.bashrc
      wfsync completion fish > ~/.config/fish/completions/wfsync.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # click knows the three shells offered
    click.echo(completer(main, {}, "wfsync", "_WFSYNC_COMPLETE").source())
