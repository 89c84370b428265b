"""Project settings from ``wfsync.yaml`` (or ``--config FILE``), all optional.

    paths: [workflows]
    protect: ["Billing *"]
    safety: {max_delete_share: 0.3}
    vars: {HOOK_HOST: hooks.example.com}          # plain values for ${var.NAME}
    environments:                                 # the accounts, in the order apply takes them
      staging:
        api_url: https://api.indigenius.ai
        api_key_env: STAGING_WFSYNC_KEY           # the variable holding this account's key
        vars: {HOOK_HOST: staging-hooks.example.com}
      acme:
        api_key_env: ACME_WFSYNC_KEY
        only: ["Acme *"]                          # the titles this account manages
        protect: ["Billing *"]                    # adds to the top-level protect
        safety: {max_delete_share: 0.1}           # over the top-level safety, field by field
    default_env: staging

The file is found in the working directory or the nearest parent, never above the root
of the git repository it is in (a settings file of an enclosing project must not steer
this one). Paths in it are relative to it.

    >>> settings = load_settings()                               # doctest: +SKIP
    >>> [env.name for env in select_environments(settings, ["*"])]  # doctest: +SKIP
    ['staging', 'acme']
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wfsync import schema
from wfsync.errors import ConfigError
from wfsync.yamlsource import Document, Problem, YamlError, read_yaml

__all__ = [
    "DEFAULT_FILE",
    "SETTINGS_NAMES",
    "Environment",
    "Safety",
    "Settings",
    "find_settings",
    "load_settings",
    "select_environments",
]

DEFAULT_FILE = "wfsync.yaml"
SETTINGS_NAMES = ("wfsync.yaml", "wfsync.yml")

# An environment's name becomes part of file names (.wfsync/sandbox-NAME.db) and plan
# sections, so it is kept to characters that are safe in both.
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Safety:
    """Limits on how much of the live account one plan may change (creates never count)."""

    max_delete_share: float = 0.3
    max_update_share: float = 0.3
    min_existing: int = 10


@dataclass(frozen=True)
class Environment:
    """One account the repository drives, its settings merged over the top-level ones.

    ``name`` is None for the single account of a repository without ``environments``
    (SPEC §3): its key is WFSYNC_API_KEY, its sandbox ``.wfsync/sandbox.db``.

        >>> env = Environment("acme", only=("Acme *",), vars={"HOST": "h.example.com"})
        >>> env.manages("Acme reminder"), env.manages("Lead follow-up")
        (True, False)
    """

    name: str | None = None
    api_url: str | None = None  # the environment's, else the top-level one
    api_key_env: str | None = None  # None: WFSYNC_API_KEY, else INDIGENIUS_API_KEY
    vars: Mapping[str, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()  # title globs; empty: every workflow
    protect: tuple[str, ...] = ()
    safety: Safety = field(default_factory=Safety)

    def manages(self, title: str) -> bool:
        """True when this account manages the workflow titled ``title``."""
        return not self.only or any(fnmatch.fnmatchcase(title, glob) for glob in self.only)

    @property
    def label(self) -> str:
        """How messages name it: ``environment 'acme'``, or ``the settings`` when implicit."""
        return f"environment {self.name!r}" if self.name is not None else "the settings"


@dataclass(frozen=True)
class Settings:
    paths: tuple[str, ...] = ("workflows",)
    protect: tuple[str, ...] = ()
    safety: Safety = field(default_factory=Safety)
    api_url: str | None = None
    source: str | None = None  # the file they came from, if any
    vars: Mapping[str, str] = field(default_factory=dict)
    environments: tuple[Environment, ...] = ()  # in the order written
    default_env: str | None = None

    @property
    def root(self) -> str:
        """The folder the settings live in (the project's root), else the working directory."""
        return (os.path.dirname(self.source) or ".") if self.source else "."

    @property
    def implicit(self) -> Environment:
        """The single account of a repository without ``environments``."""
        return Environment(None, self.api_url, None, dict(self.vars), (), self.protect, self.safety)


def find_settings(start: str | os.PathLike[str] = ".") -> str | None:
    """The settings file for a command run in ``start``: there or in the nearest parent,
    not above the root of the git repository ``start`` is in. Relative to the working
    directory (``wfsync.yaml``, ``../wfsync.yaml``) unless ``start`` is absolute."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        found = [folder / name for name in SETTINGS_NAMES if (folder / name).is_file()]
        if len(found) > 1:
            raise ConfigError(f"{folder}: both {' and '.join(SETTINGS_NAMES)}; keep one")
        if found:
            return str(found[0]) if Path(start).is_absolute() else os.path.relpath(found[0])
        # .git is a folder in a clone and a file in a worktree or a submodule.
        if (folder / ".git").exists():
            return None
    return None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from ``path``, else from the file :func:`find_settings` finds, else the defaults."""
    if path is None:
        found = find_settings()
        if found is None:
            return Settings()
        path = found
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the settings: {exc.strerror}") from exc
    try:
        document = read_yaml(file, data)
    except YamlError as exc:
        raise ConfigError(str(exc)) from exc
    value = document.value if document.value is not None else {}
    problems = list(document.problems)
    if not isinstance(value, dict):
        problems.append(
            Problem(document.where(()), f"expected settings (a mapping), not a {type(value).__name__}")
        )
        raise ConfigError("\n".join(map(str, sorted(problems))))
    for issue in schema.validate("config", value):
        key = issue.message.startswith("property ")
        problems.append(Problem(document.where(issue.path, key=key), issue.message))
    problems.extend(_name_problems(document, value))
    if problems:
        raise ConfigError("\n".join(map(str, sorted(set(problems)))))
    return _settings(file, value)


def _name_problems(document: Document, value: dict[str, Any]) -> list[Problem]:
    """What the schema leaves to code: names, variables that are plain text, and a
    default_env that names an environment."""
    problems = []
    environments = value.get("environments")
    environments = environments if isinstance(environments, dict) else {}
    named: list[tuple[tuple[str | int, ...], str]] = [
        (("vars", name), name) for name in _keys(value.get("vars"))
    ]
    for env_name, env in environments.items():
        if not _ENV_NAME.fullmatch(env_name):
            problems.append(
                Problem(
                    document.where(("environments", env_name), key=True),
                    f"environment name {env_name!r} may hold only letters, digits, '_', '-' and '.' "
                    "(it names files and plan sections), at most 64",
                )
            )
        key_env = env.get("api_key_env") if isinstance(env, dict) else None
        if isinstance(key_env, str) and key_env and not _VAR_NAME.fullmatch(key_env):
            problems.append(
                Problem(
                    document.where(("environments", env_name, "api_key_env")),
                    f"api_key_env {key_env!r} must name an environment variable: letters, digits and "
                    "'_', not starting with a digit",
                )
            )
        if isinstance(env, dict):
            named += [(("environments", env_name, "vars", name), name) for name in _keys(env.get("vars"))]
    for path, name in named:
        text = _lookup(value, path)
        if isinstance(text, str) and "${" in text:
            problems.append(
                Problem(
                    document.where(path),
                    f"variable {name} holds '${{': variables are plain text, shown in plans; a secret "
                    "belongs in the definition as ${NAME}",
                )
            )
        if not _VAR_NAME.fullmatch(name):
            problems.append(
                Problem(
                    document.where(path, key=True),
                    f"variable name {name!r}: letters, digits and '_' only, not starting with a digit",
                )
            )
    default = value.get("default_env")
    if isinstance(default, str) and default not in environments:
        defined = ", ".join(environments) if environments else "none are defined"
        problems.append(
            Problem(
                document.where(("default_env",)),
                f"default_env {default!r} is not one of the environments ({defined})",
            )
        )
    return problems


def _lookup(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _keys(mapping: Any) -> list[str]:
    return list(mapping) if isinstance(mapping, dict) else []


def _settings(file: str, value: dict[str, Any]) -> Settings:
    """Settings from a document the schema and the name checks passed."""
    base = Path(file).parent
    safety = Safety(**value.get("safety", {}))
    protect = tuple(value.get("protect", ()))
    top_vars = dict(value.get("vars", {}))
    api_url = value.get("api_url")
    environments = tuple(
        Environment(
            name=name,
            api_url=env.get("api_url", api_url),
            api_key_env=env.get("api_key_env"),
            vars={**top_vars, **env.get("vars", {})},
            only=tuple(env.get("only", ())),
            # Adds to the top-level list: a team's protection holds in every account.
            protect=tuple(dict.fromkeys((*protect, *env.get("protect", ())))),
            safety=replace(safety, **env.get("safety", {})),
        )
        for name, env in value.get("environments", {}).items()
    )
    return Settings(
        # Paths in the file are relative to the file, so it works from any folder.
        paths=tuple(os.path.normpath(base / p) for p in value.get("paths", ["workflows"])),
        protect=protect,
        safety=safety,
        api_url=api_url,
        source=file,
        vars=top_vars,
        environments=environments,
        default_env=value.get("default_env"),
    )


def select_environments(settings: Settings, patterns: Sequence[str] = ()) -> list[Environment]:
    """The environments ``patterns`` (names or globs, ``'*'`` for all) select, in the order
    written; with none given, ``default_env``, else an error listing them.

    A repository without ``environments`` has one implicit account (name None), which
    is what no patterns select; naming an environment there is an error.
    """
    defined = settings.environments
    where = settings.source or "wfsync.yaml"
    if not defined:
        if patterns:
            raise ConfigError(
                f"--env {patterns[0]}: no environments are defined"
                + (f" in {settings.source}" if settings.source else " (there is no wfsync.yaml)")
            )
        return [settings.implicit]
    names = ", ".join(env.name or "" for env in defined)
    if not patterns:
        if settings.default_env is None:
            raise ConfigError(
                f"choose the environments with --env NAME (a glob; '*' for all): {where} defines {names}"
            )
        patterns = [settings.default_env]
    chosen: set[str] = set()
    for pattern in patterns:
        matched = {env.name for env in defined if env.name and fnmatch.fnmatchcase(env.name, pattern)}
        if not matched:
            raise ConfigError(f"--env {pattern}: no such environment; {where} defines {names}")
        chosen |= matched
    return [env for env in defined if env.name in chosen]
