"""Fail CI when a core module's branch coverage drops to 90% or below.

Reads coverage.json (pytest --cov-report=json) and prints each core module's line and
branch coverage, so the figures are in every CI log.
"""

from __future__ import annotations

import json
import sys

CORE = ("wfsync/plan.py", "wfsync/apply.py", "wfsync/definitions.py", "wfsync/api.py", "wfsync/shapes.py")
LIMIT = 90.0

report = json.load(open("coverage.json", encoding="utf-8"))
files = report["files"]
failed = []
print(f"{'module':24} {'lines':>7} {'branches':>9}")
for name in CORE:
    summary = files[name]["summary"]
    lines = 100.0 * summary["covered_lines"] / max(summary["num_statements"], 1)
    branches = 100.0 * summary["covered_branches"] / max(summary["num_branches"], 1)
    print(f"{name:24} {lines:6.1f}% {branches:8.1f}%")
    if branches <= LIMIT:
        failed.append(f"{name}: branch coverage {branches:.1f}% is not above {LIMIT:.0f}%")
total = report["totals"]["percent_covered"]
print(f"{'all of wfsync':24} {total:6.1f}% (lines and branches together)")
if failed:
    print("\n".join(failed), file=sys.stderr)
    sys.exit(1)
