"""``wfsync init``: the files of a new workflows repository, ready for review and CI.

workflows/example.yaml        one commented workflow, with the editor schema line
wfsync.yaml                   the settings, commented
schemas/*.schema.json         the JSON Schemas editors check the files against
.github/workflows/wfsync.yml  plan on pull requests (one comment per environment, updated
                              in place), apply on main what was reviewed, a nightly drift
                              check that opens issues and a status page (wfsync.pipeline)
.pre-commit-config.yaml       wfsync validate before every commit, offline, no secrets
.gitignore                    the sandbox's state and plan files stay out of git
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from wfsync import __version__, schema
from wfsync.pipeline import PIPELINE_FILE, SOURCE, references, render_pipeline

__all__ = ["settings_text", "starter_files", "write_pipeline", "write_starter"]

EXAMPLE = """\
# yaml-language-server: $schema=../schemas/definitions.schema.json
#
# One entry of `workflows:` is one workflow of the platform. wfsync matches it to the
# live workflow with the same title; `wfsync plan` shows what would change.
workflows:
  - title: Lead follow-up
    # Called by the platform when a run finishes.
    callbackUrl: https://crm.example.com/hooks/workflow
    webhook:
      # ${NAME} takes the value of an environment variable: keep secrets out of git.
      # ($${ is a literal ${.) Set LEAD_HOOK_TOKEN locally and as a CI secret.
      url: https://crm.example.com/hooks/${LEAD_HOOK_TOKEN}
    endCall:
      # Any of these phrases ends the call (order does not matter).
      phrases: [goodbye, end call, not interested]
    # One-shot runs that must be pending; leave the key out to manage them by hand,
    # write `schedules: []` for none. A timezone may be an IANA name.
    schedules:
      - scheduledDate: "2030-01-15T09:00:00+01:00"
        timezone: Europe/Berlin
    # lifecycle:
    #   formerTitles: [Lead followup]   # renamed: the old live workflow is PATCHed, not replaced
"""

SETTINGS = """\
# wfsync settings; every one is optional and command-line flags win over them.
paths: [workflows]
# Title globs never deleted by `--prune`, even when their definition is removed.
protect: []
# A plan that would delete or update more than these shares of at least
# `min_existing` live workflows stops and asks for --force.
safety: {max_delete_share: 0.3, max_update_share: 0.3, min_existing: 10}
"""

PRE_COMMIT = f"""\
# pre-commit: `wfsync validate` before every commit (pip install pre-commit && pre-commit install).
# It installs wfsync itself (the hook is `language: python`), works offline and needs no
# secret: ${{NAME}} references are checked, not their values.
repos:
  - repo: {SOURCE}
    rev: v{__version__}
    hooks:
      - id: wfsync-validate
"""

GITIGNORE = """\
# wfsync: the sandbox's state, saved plans and the status page are made, not written.
.wfsync/
plan*.json
plan*.md
*.plan.json
wfsync-status.html
"""


def settings_text(environments: Sequence[str] = ()) -> str:
    """The starter wfsync.yaml; with ``environments``, one account each (the first the default)."""
    if not environments:
        return SETTINGS
    lines = [
        SETTINGS.rstrip("\n"),
        "# Plain values for ${var.NAME} in definitions (shown in plans); an environment's win.",
        "vars: {CRM_HOST: crm.example.com}",
        "# One account each, applied in this order. Each key comes from its own variable.",
        "environments:",
    ]
    for name in environments:
        key = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_WFSYNC_KEY"
        lines += [f"  {name}:", f"    api_key_env: {key}"]
        if name != environments[-1]:
            lines.append(f"    vars: {{CRM_HOST: {name}-crm.example.com}}")
    lines.append("# What a command without --env uses: the first, never production by accident.")
    lines.append(f"default_env: {environments[0]}")
    return "\n".join(lines) + "\n"


def starter_files(environments: Sequence[str] = ()) -> dict[str, str]:
    """{relative path: text} of a new workflows repository (with ``environments``, one account each)."""
    import yaml

    settings = settings_text(environments)
    pipeline = render_pipeline(Path("."), yaml.safe_load(settings), sorted(references(EXAMPLE)))
    files = {
        "workflows/example.yaml": EXAMPLE,
        "wfsync.yaml": settings,
        PIPELINE_FILE: pipeline,
        ".pre-commit-config.yaml": PRE_COMMIT,
        ".gitignore": GITIGNORE,
    }
    # Composed (wfsync.schema_compose): the YAML language server knows only draft 7 and would
    # ignore unevaluatedProperties, so the copies close every object with additionalProperties.
    for name in ("definitions", "workflow", "schedule"):
        text = json.dumps(schema.load(name), indent=2, ensure_ascii=False)
        files[f"schemas/{name}.schema.json"] = text + "\n"
    return files


def write_starter(folder: Path, environments: Sequence[str] = ()) -> list[str]:
    """Write the starter files into ``folder``; refuses (writing nothing) if any exists."""
    return _write(folder, starter_files(environments), force=False)


def write_pipeline(folder: Path, *, force: bool = False) -> list[str]:
    """Write the pipeline of the repository in ``folder``, from its settings and definitions."""
    return _write(folder, {PIPELINE_FILE: render_pipeline(folder)}, force=force)


def _write(folder: Path, files: dict[str, str], *, force: bool) -> list[str]:
    from wfsync.errors import WfsyncError

    existing = [name for name in files if (folder / name).exists()]
    if existing and not force:
        raise WfsyncError(
            f"{len(existing)} file{' exists' if len(existing) == 1 else 's exist'} already in {folder}: "
            f"{', '.join(existing)}; nothing was written"
        )
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
