#!/usr/bin/env python3
"""A fake `gh` for the simulated runner: it answers the few commands the generated pipeline
uses from a JSON state file ($FAKE_GH_STATE), records every call, and refuses what GitHub
refuses (an empty body, a body over 65,536 characters: HTTP 422)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

LIMIT = 65_536


def body_from(args: list[str]) -> str:
    for flag in ("--body-file", "-F"):
        if flag in args:
            value = args[args.index(flag) + 1]
            path = value.removeprefix("body=@")
            return Path(path).read_text(encoding="utf-8")
    return args[args.index("--body") + 1] if "--body" in args else ""


def refuse_bad(body: str) -> None:
    if not body.strip() or len(body) > LIMIT:
        print(f"HTTP 422: Validation Failed (body is {len(body)} characters)", file=sys.stderr)
        raise SystemExit(1)


def marker_of(args: list[str]) -> str:
    jq = args[args.index("--jq") + 1]
    found = re.search(r'startswith\("(.*?)"\)', jq)
    assert found, jq
    return found.group(1)


def main(args: list[str], state: dict[str, Any]) -> int:
    state["calls"].append(args)
    if not os.environ.get("GH_TOKEN"):
        print(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN variable.", file=sys.stderr
        )
        return 4
    repo = os.environ["GITHUB_REPOSITORY"]
    if os.environ.get("GH_REPO") != repo:  # a checkout without credentials may not name it
        print("gh: set GH_REPO to the repository", file=sys.stderr)
        return 4
    if args[:1] == ["api"]:
        if "--method" in args and args[args.index("--method") + 1] == "PATCH":
            path = next(a for a in args if a.startswith("repos/"))
            comment_id = int(path.rsplit("/", 1)[1])
            body = body_from(args)
            refuse_bad(body)
            (comment,) = [c for c in state["comments"] if c["id"] == comment_id]
            comment["body"] = body
            comment["edits"] += 1
            return 0
        path = args[1]
        if re.fullmatch(rf"repos/{repo}/issues/\d+/comments", path):
            marker = marker_of(args)
            for comment in state["comments"]:
                if comment["body"].startswith(marker):
                    print(comment["id"])
            return 0
        if re.fullmatch(rf"repos/{repo}/commits/\w+/pulls", path):
            sha = path.split("/")[-2]
            branch = state["merged"].get(sha)
            if branch:
                print(branch)
            return 0
    if args[:2] == ["pr", "comment"]:
        body = body_from(args)
        refuse_bad(body)
        state["comments"].append({"id": 1000 + len(state["comments"]), "body": body, "edits": 0})
        return 0
    if args[:2] == ["run", "list"]:
        branch = args[args.index("--branch") + 1]
        runs = [r for r in state["runs"] if r["branch"] == branch and r["event"] == "pull_request"]
        if runs:
            print(runs[-1]["id"])
        return 0
    if args[:2] == ["run", "download"]:
        run, name = args[2], args[args.index("--name") + 1]
        source = Path(state["artifacts"]) / run / name
        if not source.is_dir():
            print(f"no artifact named {name}", file=sys.stderr)
            return 1
        shutil.copytree(source, args[args.index("--dir") + 1], dirs_exist_ok=True)
        return 0
    if args[:2] == ["issue", "list"]:
        marker = marker_of(args)
        for issue in state["issues"]:
            if issue["state"] == "open" and issue["body"].startswith(marker):
                print(issue["number"])
        return 0
    if args[:2] == ["issue", "create"]:
        body = body_from(args)
        refuse_bad(body)
        number = len(state["issues"]) + 1
        title = args[args.index("--title") + 1]
        state["issues"].append({"number": number, "title": title, "body": body, "state": "open", "edits": 0})
        print(f"https://github.com/{repo}/issues/{number}")
        return 0
    if args[:2] == ["issue", "edit"]:
        body = body_from(args)
        refuse_bad(body)
        issue = state["issues"][int(args[2]) - 1]
        issue["body"], issue["edits"] = body, issue["edits"] + 1
        return 0
    if args[:2] == ["issue", "close"]:
        issue = state["issues"][int(args[2]) - 1]
        issue["state"] = "closed"
        issue["closing_comment"] = args[args.index("--comment") + 1]
        return 0
    if args[:2] == ["label", "create"]:
        return 0
    print(f"fake gh: unknown command {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    state_file = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_file.read_text(encoding="utf-8"))
    try:
        code = main(sys.argv[1:], state)
    finally:
        state_file.write_text(json.dumps(state), encoding="utf-8")
    raise SystemExit(code)
