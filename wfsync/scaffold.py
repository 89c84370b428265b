"""``wfsync init``: the files of a new workflows repository, ready for review and CI.

workflows/example.yaml        one commented workflow, with the editor schema line
wfsync.yaml                   the settings, commented
schemas/*.schema.json         the JSON Schemas editors check the files against
.github/workflows/wfsync.yml  plan on pull requests (one comment, updated in place),
                              apply on main (one at a time), a nightly drift check
.pre-commit-config.yaml       wfsync validate before every commit
"""

from __future__ import annotations

import json
from pathlib import Path

from wfsync import schema

__all__ = ["starter_files"]

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

CI = """\
# wfsync in GitHub Actions: plan on pull requests, apply on main, and a nightly drift check.
# Repository secrets: WFSYNC_API_KEY (workflows:read for plans; workflows:write to apply),
# and each ${NAME} your definitions use (here LEAD_HOOK_TOKEN).
name: wfsync
on:
  pull_request:
    paths: ["workflows/**", "wfsync.yaml"]
  push:
    branches: [main]
    paths: ["workflows/**", "wfsync.yaml"]
  schedule:
    - cron: "17 5 * * *"
  workflow_dispatch:

permissions:
  contents: read
  pull-requests: write

env:
  WFSYNC_API_KEY: ${{ secrets.WFSYNC_API_KEY }}
  LEAD_HOOK_TOKEN: ${{ secrets.LEAD_HOOK_TOKEN }}
  NO_COLOR: "1"

jobs:
  plan:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - run: pip install wfsync   # pin the version you reviewed
      - name: Validate (marks the lines in the pull request)
        run: wfsync validate --format github
      - name: Plan
        id: plan
        run: |
          set +e
          wfsync plan --markdown --out plan.json > plan.md
          echo "status=$?" >> "$GITHUB_OUTPUT"
      - name: Comment the plan (one comment, updated in place)
        uses: actions/github-script@v7
        with:
          script: |
            const fs = require('fs');
            const body = fs.readFileSync('plan.md', 'utf8');
            const marker = '<!-- wfsync-plan -->';
            const {owner, repo} = context.repo;
            const issue_number = context.issue.number;
            const list = github.rest.issues.listComments;
            const comments = await github.paginate(list, {owner, repo, issue_number});
            const earlier = comments.find(c => c.body.startsWith(marker));
            if (earlier) await github.rest.issues.updateComment({owner, repo, comment_id: earlier.id, body});
            else await github.rest.issues.createComment({owner, repo, issue_number, body});
      - name: Fail on an error or an unsafe plan
        if: steps.plan.outputs.status != '0'
        run: exit 1

  apply:
    if: github.event_name == 'push' || github.event_name == 'workflow_dispatch'
    runs-on: ubuntu-latest
    # Two applies must never overlap: the API has no locks.
    concurrency: {group: wfsync-apply, cancel-in-progress: false}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - run: pip install wfsync
      - run: wfsync apply --auto-approve --verify

  drift:
    if: github.event_name == 'schedule'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - run: pip install wfsync
      - name: Drift check (exit 2 when the live account differs from main)
        run: wfsync plan --detailed-exitcode
"""

PRE_COMMIT = """\
# pre-commit: check the definitions before every commit (pip install pre-commit wfsync).
repos:
  - repo: local
    hooks:
      - id: wfsync-validate
        name: wfsync validate
        entry: wfsync validate
        language: system
        files: ^(workflows/.*\\.ya?ml|wfsync\\.yaml)$
        pass_filenames: false
"""


def starter_files() -> dict[str, str]:
    """{relative path: text} of a new workflows repository."""
    files = {
        "workflows/example.yaml": EXAMPLE,
        "wfsync.yaml": SETTINGS,
        ".github/workflows/wfsync.yml": CI,
        ".pre-commit-config.yaml": PRE_COMMIT,
    }
    # Composed (wfsync.schema_compose): the YAML language server knows only draft 7 and would
    # ignore unevaluatedProperties, so the copies close every object with additionalProperties.
    for name in ("definitions", "workflow", "schedule"):
        text = json.dumps(schema.load(name), indent=2, ensure_ascii=False)
        files[f"schemas/{name}.schema.json"] = text + "\n"
    return files


def write_starter(folder: Path) -> list[str]:
    """Write the starter files into ``folder``; refuses (writing nothing) if any exists."""
    from wfsync.errors import WfsyncError

    files = starter_files()
    existing = [name for name in files if (folder / name).exists()]
    if existing:
        raise WfsyncError(
            f"{len(existing)} file{' exists' if len(existing) == 1 else 's exist'} already in {folder}: "
            f"{', '.join(existing)}; nothing was written"
        )
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
