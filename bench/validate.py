"""`wfsync validate` on 10,000 workflow definitions across 100 files.

Writes the files to a temporary folder, times the real command in a fresh process
(median of several runs), and splits the in-process time between YAML reading,
schema validation and the rest, each timed on its own. The command runs twice over:
cold (no cache of read files, WFSYNC_CACHE=off: a fresh CI runner) and warm (a cache,
in a temporary XDG_CACHE_HOME, filled by one run before the measured ones: a developer's
second run). Run from the repository root:

    python bench/validate.py [--workflows 10000] [--files 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_definitions(folder: Path, workflows: int, files: int) -> None:
    per_file = workflows // files
    for number in range(files):
        lines = ["# yaml-language-server: $schema=../schemas/definitions.schema.json", "workflows:"]
        for index in range(per_file):
            n = number * per_file + index
            lines += [
                f"  - title: Campaign {n:05d} follow-up",
                f"    callbackUrl: https://client{n % 50}.example.com/hooks/workflow",
                "    webhook:",
                f"      url: https://client{n % 50}.example.com/hooks/${{HOOK_TOKEN}}/{n}",
                "    endCall:",
                "      phrases: [goodbye, end call, stop calling me]",
            ]
            if n % 10 == 0:
                lines += [
                    "    schedules:",
                    "      - scheduledDate: 2027-07-01T09:00:00.000Z",
                    "        timezone: GMT_plus_1",
                ]
        (folder / f"team-{number:03d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cache_env(cache: str, folder: str) -> dict[str, str]:
    """The environment for a command run with the cache ``off`` or ``warm`` (kept in ``folder``)."""
    if cache == "off":
        return {"WFSYNC_CACHE": "off"}
    return {"XDG_CACHE_HOME": folder, "WFSYNC_CACHE": "on"}


def timed_command(
    folder: Path, runs: int, cache: str = "off", one_core: bool = False
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run, the cache ``off`` or ``warm`` (filled by one run
    first); ``one_core``: the command may run on one core only (validate then shares its
    files with no copy of itself). On a shared machine the CPU time (user and system, of
    the command's process and the copies it forks) is the steadier figure."""
    from plan import wfsync_env

    with tempfile.TemporaryDirectory() as cached:
        env = wfsync_env({**os.environ, "HOOK_TOKEN": "t0k3n", **cache_env(cache, cached)})
        if cache == "warm":
            subprocess.run(
                [sys.executable, "-m", "wfsync", "validate", str(folder)], env=env, capture_output=True
            )
        return _timed(folder, runs, env, one_core)


def _on_one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _timed(folder: Path, runs: int, env: dict[str, str], one_core: bool) -> tuple[list[float], list[float]]:
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), children_cpu()
        done = subprocess.run(
            [sys.executable, "-m", "wfsync", "validate", str(folder)],
            capture_output=True,
            text=True,
            env=env,
            preexec_fn=_on_one_core if one_core else None,  # the bench runs no thread
        )
        times.append(time.perf_counter() - started)
        cpu.append(children_cpu() - cpu_started)
        if done.returncode != 0:
            raise SystemExit(f"validate failed:\n{done.stdout}{done.stderr}")
    return times, cpu


PHASES = """
import sys, time
from pathlib import Path
from wfsync import schema
from wfsync.definitions import load_definitions
from wfsync.yamlsource import paused_gc, read_yaml
folder = Path(sys.argv[1])
files = sorted(folder.glob("*.yaml"))
data = [path.read_bytes() for path in files]
schema.is_valid("definitions", {})  # compile outside the timings, as load does once
if sys.argv[2] == "total":
    started = time.perf_counter()
    assert load_definitions([folder], env={"HOOK_TOKEN": "t0k3n"})
    print(time.perf_counter() - started)
else:
    with paused_gc():
        started = time.perf_counter()
        documents = [read_yaml(str(p), d) for p, d in zip(files, data)]
        middle = time.perf_counter()
        assert all(schema.validate("definitions", doc.value, strip=2) == [] for doc in documents)
        print(middle - started, time.perf_counter() - middle)
"""


def split(folder: Path, runs: int) -> dict[str, float]:
    """Median in-process seconds of the whole load, of YAML reading and of schema checks,
    each run in a fresh process."""

    from plan import wfsync_env

    def run(mode: str) -> list[float]:
        done = subprocess.run(
            [sys.executable, "-c", PHASES, str(folder), mode],
            capture_output=True,
            text=True,
            check=True,
            env=wfsync_env(dict(os.environ)),  # the tree measured, not the working directory's
        )
        return [float(x) for x in done.stdout.split()]

    totals = [run("total")[0] for _ in range(runs)]
    phases = [run("phases") for _ in range(runs)]
    return {
        "total": statistics.median(totals),
        "yaml": statistics.median(p[0] for p in phases),
        "schema": statistics.median(p[1] for p in phases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_definitions(folder, args.workflows, args.files)
        measured = {cache: timed_command(folder, args.runs, cache) for cache in ("off", "warm")}
        measured["one core"] = timed_command(folder, args.runs, "off", one_core=True)
        parts = split(folder, args.runs)
    print(f"wfsync validate: {args.workflows:,} definitions in {args.files} files")
    for cache, (times, cpu) in measured.items():
        label = {"off": "cold (no cache)", "warm": "warm (cache filled)"}.get(cache, "cold, one core")
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"{label}: wall time median {statistics.median(times):.2f}s (runs: {runs}); "
            f"CPU time (user+system) median {statistics.median(cpu):.2f}s, best {min(cpu):.2f}s"
        )
    total, yaml_s, schema_s = parts["total"], parts["yaml"], parts["schema"]
    rest = total - yaml_s - schema_s
    print(
        f"in-process load_definitions median {total:.2f}s: "
        f"YAML reading {yaml_s:.2f}s ({yaml_s / total:.0%}), "
        f"schema validation {schema_s:.2f}s ({schema_s / total:.0%}), "
        f"the rest (interpolation, checks) {rest:.2f}s ({rest / total:.0%})"
    )
    print("the rest of the cold wall time is interpreter start-up and imports")


if __name__ == "__main__":
    main()
