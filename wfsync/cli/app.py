"""The command line's shared part: the ``wfsync`` group, error mapping, common options.

Each command parses its options, makes one call into the library, prints the result and
maps :class:`~wfsync.errors.WfsyncError` to a one-line error and exit status 1. Heavy
libraries are imported inside the commands so that ``wfsync --help`` starts fast.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from wfsync import __version__
from wfsync.errors import ConfigError, WfsyncError

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn our errors into ``Error: message`` and exit 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sys

        try:
            return command(*args, **kwargs)
        except WfsyncError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:  # a folder that cannot be written, a disk that is full…
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
        except Exception as exc:
            # The emulator's or the sandbox's database. Only a command that imported
            # sqlite3 can raise its errors: the others (validate) need not import it.
            sqlite3 = sys.modules.get("sqlite3")
            if sqlite3 is not None and isinstance(exc, sqlite3.Error):
                raise click.ClickException(f"the emulator's database: {exc}") from exc
            raise

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="wfsync")
def main() -> None:
    """Keep voice-AI call workflows, written as YAML in git, in sync with the Workflows API.

    \b
    Example:
      wfsync plan workflows/ --sandbox          # what would change (no account needed)
      wfsync apply workflows/ --sandbox         # show the plan, ask, make it so
    """
    guard_output()


# Environment variables whose values are masked in all output even if no definition uses
# them (defence in depth, as CI systems mask their secrets): names that say what they hold.
SECRET_NAMES = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


def register_secrets(paths: Any) -> None:
    """Register the value of every ``${NAME}`` the definition files under ``paths`` use,
    shown as ``${NAME}``: read from the files themselves, so that even a file that does not
    load (validate's messages) never shows one. (A command that loads the definitions can
    have the loader collect the names instead: ``load_definitions(references=)``.)"""
    from wfsync.definitions import find_files, secret_references

    files, _ = find_files(paths)
    names: set[str] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # the loader reports it
        names |= secret_references(text)
    register_references(names)


def register_references(names: Iterable[str]) -> None:
    """Register the value of each environment variable in ``names``, shown as ``${NAME}``."""
    import os

    from wfsync.redact import SECRETS

    for name in names:
        SECRETS.add(os.environ.get(name, ""), f"${{{name}}}")


def register_project_secrets(config_file: str | None) -> None:
    """Register the secrets of the project's definitions (for commands that do not
    otherwise read them, such as pull)."""
    import contextlib

    from wfsync.config import load_settings

    with contextlib.suppress(WfsyncError):  # no usable settings here: nothing to register
        register_secrets(load_settings(config_file).paths)


def guard_output() -> None:
    """Route standard output and error through the redactor, once per command."""
    import os
    import sys

    from wfsync.redact import SECRETS, RedactingStream

    SECRETS.clear()
    for name, value in os.environ.items():
        if SECRET_NAMES.search(name) and len(value) >= 8:
            SECRETS.add(value, f"${{{name}}}")
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def config_option(command: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Project settings file (default: ./wfsync.yaml when present).",
    )(command)


def api_options(command: F) -> F:
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
            click.option(
                "--env",
                "environments",
                multiple=True,
                metavar="NAME",
                expose_value=False,  # read through selected_patterns(): no command signature changes
                callback=_remember_environments,
                help="The environments of wfsync.yaml to use (repeatable; a glob: 'prod-*'; '*' for all).",
            ),
            click.option(
                "--allow-insecure-http",
                is_flag=True,
                expose_value=False,  # read by connect() from the context: no command signature changes
                callback=_remember_insecure_http,
                help="Send the key over plain http to a host that is not this machine (a lab network).",
            ),
            config_option,
        ]
    ):
        command = option(command)
    return command


INSECURE_HTTP = "wfsync.allow_insecure_http"
ENVIRONMENTS = "wfsync.environments"


def _remember_environments(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    if value:
        ctx.meta[ENVIRONMENTS] = tuple(value)
    return value


def selected_patterns() -> tuple[str, ...]:
    """The ``--env`` patterns this command was given (none: the default)."""
    ctx = click.get_current_context(silent=True)
    patterns: tuple[str, ...] = ctx.meta.get(ENVIRONMENTS, ()) if ctx is not None else ()
    return patterns


def _remember_insecure_http(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[INSECURE_HTTP] = True
    return value


_handlers: list[Any] = []


def setup_logging(debug: bool) -> None:
    import logging

    from wfsync.redact import RedactingFilter

    for name, handler in _handlers:  # from an earlier command in this process (tests)
        logging.getLogger(name).removeHandler(handler)
    _handlers.clear()
    if not debug:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    # wfsync.api logs each request itself (method, path, status, time); httpx's own INFO
    # line would say each one twice, so only its warnings get through.
    for name, level in (("wfsync", logging.DEBUG), ("httpx", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        _handlers.append((name, handler))


def use_color() -> bool:
    import os
    import sys

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"


def github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def write_file(path: str, text: str, *, append: bool = False) -> None:
    """Write (or append) a text file, every secret masked; an OSError becomes a one-line
    error in reports_errors."""
    from wfsync.redact import SECRETS

    with open(path, "a" if append else "w", encoding="utf-8") as handle:
        handle.write(SECRETS.mask(text))


def connect(target: Any, connections: int = 20) -> Any:
    """An API client for ``target``; ``$WFSYNC_TIMEOUT`` (seconds) bounds each request.

    Plain http to a host other than this machine is refused unless the command was given
    ``--allow-insecure-http``."""
    import os

    from wfsync.api import ApiClient, Timeouts

    timeouts = Timeouts()
    text = os.environ.get("WFSYNC_TIMEOUT")
    if text:
        try:
            total = float(text)
        except ValueError:
            raise WfsyncError(f"WFSYNC_TIMEOUT must be a number of seconds, not {text!r}") from None
        timeouts = Timeouts(connect=min(timeouts.connect, total), read=min(timeouts.read, total), total=total)
    context = click.get_current_context(silent=True)
    insecure = bool(context and context.meta.get(INSECURE_HTTP))
    return ApiClient.connect(
        target.url, target.key, connections=connections, timeouts=timeouts, allow_insecure_http=insecure
    )


def call_api(
    action: Callable[[Any, Any], Any],
    *,
    api_url: str | None,
    sandbox: bool,
    debug: bool,
    config_file: str | None,
    connections: int = 20,
    settings: Any = None,
    hold: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``await action(api, target)`` against the configured API (or the sandbox).

    ``hold(target)``, when given, is a context manager held around the whole run (apply's
    lock: it must name the API before any request is made).
    """
    import asyncio
    import contextlib

    from wfsync.config import load_settings, select_environments
    from wfsync.target import open_target

    settings = settings or load_settings(config_file)
    environments = select_environments(settings, selected_patterns())
    if len(environments) > 1:
        names = ", ".join(str(env.name) for env in environments)
        raise ConfigError(f"this command works on one environment, and --env selects {names}")
    environment = environments[0] if settings.environments else None
    # Whatever this command prints (a report, a job's error) may quote a value the project's
    # definitions take from the environment: mask them all, as plan and apply do.
    with contextlib.suppress(WfsyncError, OSError):
        register_secrets(settings.paths)
    with (
        open_target(
            api_url,
            sandbox=sandbox,
            configured_url=settings.api_url,
            settings=settings,
            environment=environment,
        ) as target,
        hold(target) if hold else contextlib.nullcontext(),
    ):
        from wfsync.redact import SECRETS

        SECRETS.add(target.key)
        SECRETS.add_url(target.url)
        setup_logging(debug)

        async def run() -> Any:
            async with connect(target, connections) as api:
                return await action(api, target)

        return asyncio.run(run())
