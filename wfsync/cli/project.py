"""Commands that set a project up: init (a starter repository) and completion."""

from __future__ import annotations

from pathlib import Path

import click

from wfsync.cli.app import main, reports_errors


@main.command()
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(file_okay=False))
@reports_errors
def init(folder: str) -> None:
    """Create a starter workflows repository in DIR (default: here).

    Writes one commented example definition, wfsync.yaml, the JSON Schemas editors use,
    a GitHub Actions workflow (plan on pull requests as one comment updated in place,
    apply on main one at a time, a nightly drift check) and a pre-commit configuration.
    Never overwrites a file.

    \b
    Example:
      wfsync init my-workflows && cd my-workflows && wfsync validate
    """
    from wfsync.scaffold import write_starter

    written = write_starter(Path(folder))
    for name in written:
        click.echo(f"  created {Path(folder) / name}")
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
