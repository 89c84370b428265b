"""The GitHub Actions pipeline of a workflows repository, written from its settings.

The template (``templates/github-workflow.yml``) holds the jobs; this module fills in
what depends on the repository: the environments (one matrix entry each, or one
``default`` entry without ``--env`` when there are none), the secrets the definitions
reference as ``${NAME}`` (given only to the steps that call the API), the paths that
trigger a run, and where wfsync is installed from (this very version, from its own
repository: :data:`SOURCE`).

    text = render_pipeline(Path("."))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wfsync import __version__
from wfsync.errors import ConfigError

__all__ = [
    "PIPELINE_FILE",
    "SOURCE",
    "Target",
    "read_targets",
    "references",
    "render_pipeline",
    "secret_names",
]

# The repository wfsync is installed from (at the tag of the version writing the file).
SOURCE = "https://github.com/indigenius/wfsync"
PIPELINE_FILE = ".github/workflows/wfsync.yml"
TEMPLATE = Path(__file__).parent / "templates" / "github-workflow.yml"

# Names that are settings of wfsync itself, never secrets a definition needs.
_NOT_SECRETS = {"WFSYNC_API_KEY", "INDIGENIUS_API_KEY", "WFSYNC_API_URL"}


@dataclass(frozen=True)
class Target:
    """One matrix entry: an environment of wfsync.yaml, or ``default`` when there are none."""

    name: str
    args: str  # what selects it on the command line ("" for the default)
    key_env: str  # the variable wfsync reads the key from
    key_secret: str  # the repository or environment secret holding it
    environment: str  # the GitHub environment that gates its apply
    marker: str  # the first line of its plan comment

    @property
    def matrix(self) -> dict[str, str]:
        return {
            "name": self.name,
            "args": self.args,
            "key_env": self.key_env,
            "key_secret": self.key_secret,
            "environment": self.environment,
            "marker": self.marker,
        }


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SAFE_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_targets(settings: Mapping[str, Any]) -> list[Target]:
    """The matrix entries for the ``environments`` of ``settings`` (raw wfsync.yaml values)."""
    environments = settings.get("environments") or {}
    if not isinstance(environments, Mapping):
        raise ConfigError("wfsync.yaml: environments must be a mapping of names to settings")
    if not environments:
        return [
            Target("default", "", "WFSYNC_API_KEY", "WFSYNC_API_KEY", "production", "<!-- wfsync-plan -->")
        ]
    targets = []
    for name, values in environments.items():
        # The names land in shell words and YAML: anything else is refused, not quoted.
        if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
            raise ConfigError(f"wfsync.yaml: environment name {name!r} is not a plain name")
        key_env = (values or {}).get("api_key_env") if isinstance(values, Mapping) else None
        key_env = key_env or f"{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_WFSYNC_KEY"
        if not isinstance(key_env, str) or not _SAFE_VARIABLE.fullmatch(key_env):
            raise ConfigError(f"wfsync.yaml: environments.{name}.api_key_env is not a variable name")
        targets.append(Target(name, f"--env {name}", key_env, key_env, name, f"<!-- wfsync-plan:{name} -->"))
    return targets


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def references(text: str) -> set[str]:
    """The ``${NAME}`` variables the values of a definition file reference (not its comments;
    ``$${`` is a literal, not one). A file that does not parse has none: validate reports it."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return set()
    from wfsync.definitions import secret_references

    names = {name for text in _strings(document) for name in secret_references(text)}
    return names - _NOT_SECRETS


def secret_names(paths: Sequence[Path]) -> list[str]:
    """The ``${NAME}`` variables the definition files under ``paths`` reference, sorted."""
    from wfsync.definitions import find_files

    files, _ = find_files(paths)
    names: set[str] = set()
    for file in files:
        try:
            names |= references(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # validate reports it; the pipeline is still worth writing
    return sorted(names)


def _load_settings(root: Path) -> dict[str, Any]:
    path = root / "wfsync.yaml"
    if not path.is_file():
        return {}
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the settings: {str(exc).splitlines()[0]}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: the settings must be a mapping")
    return value


def _glob(path: str) -> str:
    path = path.strip("/").removeprefix("./") or "."
    return "**" if path == "." else path if path.endswith((".yaml", ".yml")) else f"{path}/**"


def render_pipeline(
    root: Path, settings: Mapping[str, Any] | None = None, secrets: Sequence[str] | None = None
) -> str:
    """The pipeline for the repository at ``root`` (its wfsync.yaml and definitions, unless
    ``settings`` and ``secrets`` are given)."""
    settings = _load_settings(root) if settings is None else settings
    targets = read_targets(settings)
    paths = [str(p) for p in settings.get("paths") or ["workflows"]]
    if secrets is None:
        secrets = secret_names([root / p for p in paths])
    triggers = [*(_glob(p) for p in paths), "wfsync.yaml", "schemas/**", PIPELINE_FILE]
    tokens = "".join(f"          {n}: ${{{{ secrets.{n} }}}}\n" for n in secrets)
    keys = "".join(f"          {t.key_env}: ${{{{ secrets.{t.key_secret} }}}}\n" for t in targets)
    secret_list = ", ".join(
        [
            *(f"{t.key_secret} (the API key of {t.name})" for t in targets),
            *secrets,
            "WFSYNC_NOTIFY_URL (optional)",
        ]
    )
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("@TOKENS@\n", tokens).replace("@KEYS@\n", keys)
    replacements = {
        "@VERSION@": __version__,
        "@SOURCE@": SOURCE,
        "@PATHS@": json.dumps(list(dict.fromkeys(triggers))),
        "@MATRIX@": json.dumps([t.matrix for t in targets]),
        "@SECRET_LIST@": secret_list,
        "@ALL_ENVS@": "" if targets[0].args == "" else "--env '*' ",
    }
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text
