"""`wfsync plan` with 10,000 workflows live and defined and nothing to change.

The emulator runs in its own process over loopback, optionally with added latency per
request (a real API is not on loopback). For each latency it measures, in the same run:
the requests `wfsync plan` sends (counted from its --debug log), its wall time, and the
wall time of a bare httpx loop fetching the same pages one after another, each the
median of several runs in fresh processes. `wfsync plan` runs cold (WFSYNC_CACHE=off, as
on a fresh CI runner that keeps no cache) unless --cache empty (the cache on and emptied
before each run: a fresh CI runner as wfsync runs there by default) or --cache warm (a
cache of read files in a temporary XDG_CACHE_HOME, filled by one run first). Run from
the repository root:

    python bench/plan.py [--workflows 10000] [--latency 0 --latency 20ms] [--runs 3]
                         [--before DIR] [--cache off|empty|warm] [--page-cap 25]

Peak memory is measured in a fresh process per code; per workflow is the peak above that
of a plan of ``--baseline`` workflows, so that start-up (imports, schemas) does not count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from validate import cache_env, write_definitions

from wfsync.emulator import DEV_KEY, Store

# The wfsync code the measured commands import: this tree unless bench/run.py --before
# points it at an older commit's files. The emulator always runs this tree's code, so
# both are measured against the same server.
WFSYNC_PATH: str | None = None


# Issue 17 measures against a server that caps pages at 25 workflows (the API allows
# 100): more pages, so per-page costs on both sides weigh as they would there.
PAGE_CAP = 25

REPOSITORY = str(Path(__file__).resolve().parent.parent)


def wfsync_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a measured wfsync command (its PYTHONPATH the code under test).

    PYTHONSAFEPATH: ``python -m wfsync`` run from the repository root would otherwise
    import the wfsync found there, ahead of PYTHONPATH, and "before" measure this tree.
    """
    return {**env, "PYTHONPATH": WFSYNC_PATH or REPOSITORY, "PYTHONSAFEPATH": "1"}


BARE_LOOP = """
import sys, time, httpx
url, key, pages, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
with httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
    count = 0
    for page in range(1, pages + 1):
        count += len(client.get("/v1/workflows", params={"page": page, "limit": limit}).json()["data"])
print(count, time.perf_counter() - started)
"""


def seed(db: str, workflows: int, files: int) -> None:
    """Store the workflows exactly as the definitions of bench/validate.py describe them."""
    store = Store(db)
    per_file = workflows // files
    for n in range(per_file * files):
        store.create_workflow(
            {
                "title": f"Campaign {n:05d} follow-up",
                "callbackUrl": f"https://client{n % 50}.example.com/hooks/workflow",
                "webhook": {"url": f"https://client{n % 50}.example.com/hooks/t0k3n/{n}"},
                "endCall": {"phrases": ["goodbye", "end call", "stop calling me"]},
            }
        )
    store.close()


def start_emulator(db: str, latency: str, page_cap: int | None = None) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "wfsync", "emulator", "--port", "0", "--db", db]
    if page_cap:
        args += ["--dialect", f"page-cap={page_cap}"]
    if latency not in ("0", "0ms"):
        args += ["--fault", f"latency={latency}"]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    url = re.search(r"(http://\S+)", process.stderr.readline()).group(1)  # type: ignore[union-attr]
    for _ in range(200):
        try:
            httpx.get(url + "/openapi.json")
            return process, url
        except httpx.ConnectError:
            time.sleep(0.05)
    raise SystemExit("emulator did not answer")


def emptied(cache: str, env: dict[str, str]) -> None:
    """With the cache ``empty`` (a fresh CI runner: on, nothing in it), empty it now."""
    if cache == "empty":
        shutil.rmtree(env["XDG_CACHE_HOME"], ignore_errors=True)


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    """(wall seconds, stdout, stderr) of one child process, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args[3:5]} exited {done.returncode}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return elapsed, done.stdout, done.stderr


def peak_rss(args: list[str], env: dict[str, str]) -> int:
    """Peak RSS (KiB) of one run of ``args``, measured in a fresh helper process."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
        "if done.returncode not in (0, 2): sys.exit(done.stderr[-600:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the memory run failed: {done.stderr.strip()[-600:]}")
    return int(done.stdout)


def measure(
    workflows: int, latency: str, runs: int, files: int = 100, cache: str = "off", page_cap: int = PAGE_CAP
) -> dict[str, float]:
    """requests, plan and bare-loop median seconds, and plan's peak memory, for one size."""
    row = measure_codes(workflows, latency, runs, files, [WFSYNC_PATH], cache, page_cap)
    return {**row, "plan": row["plan"][WFSYNC_PATH], "peak_mib": row["peak_mib"][WFSYNC_PATH]}


def measure_codes(
    workflows: int,
    latency: str,
    runs: int,
    files: int,
    codes: list[str | None],
    cache: str = "off",
    page_cap: int = PAGE_CAP,
) -> dict[str, Any]:
    """As :func:`measure` for each of several wfsync codes (None: this tree), against one
    seeded server: ``plan`` and ``peak_mib`` are keyed by code. ``cache``: ``off``, ``empty``
    (on, emptied before each run) or ``warm`` (each code its own cache folder, filled by one
    run first). ``page_cap``: the
    most workflows the server puts on a page (the API's own maximum is 100)."""
    global WFSYNC_PATH
    pages = -(-workflows // page_cap)
    with tempfile.TemporaryDirectory() as name:
        cached = {code: cache_env(cache, str(Path(name) / f"cache-{n}")) for n, code in enumerate(codes)}
        folder = Path(name) / "workflows"
        folder.mkdir()
        write_definitions(folder, workflows, files)
        # bench/validate.py gives every tenth definition a schedule; here none manage
        # schedules, so that the plan has nothing to change and needs no job listings.
        for path in folder.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            text = re.sub(r"    schedules:\n      - scheduledDate: .*\n        timezone: .*\n", "", text)
            path.write_text(text, encoding="utf-8")
        db = str(Path(name) / "live.db")
        seed(db, workflows, files)
        process, url = start_emulator(db, latency, page_cap)
        mine = WFSYNC_PATH
        try:
            command = [
                sys.executable,
                "-m",
                "wfsync",
                "plan",
                str(folder),
                "--api-url",
                url,
                "--detailed-exitcode",
            ]
            plan_times: dict[str | None, list[float]] = {code: [] for code in codes}
            memory: dict[str | None, float] = {}
            bare_times, requests = [], set()
            if cache == "warm":
                for code in codes:
                    WFSYNC_PATH = code
                    env = wfsync_env(
                        {**os.environ, "WFSYNC_API_KEY": DEV_KEY, "HOOK_TOKEN": "t0k3n", **cached[code]}
                    )
                    run_measured(command, env)
            for _ in range(runs):
                for code in codes:
                    WFSYNC_PATH = code
                    env = wfsync_env(
                        {**os.environ, "WFSYNC_API_KEY": DEV_KEY, "HOOK_TOKEN": "t0k3n", **cached[code]}
                    )
                    emptied(cache, cached[code])
                    elapsed, _, err = run_measured([*command, "--debug"], env)
                    plan_times[code].append(elapsed)
                    requests.add(len(re.findall(r"wfsync\.(?:api|transport) DEBUG \w+ /\S* -> \d+", err)))
                elapsed, out, _ = run_measured(
                    [sys.executable, "-c", BARE_LOOP, url, DEV_KEY, str(pages), str(page_cap)],
                    dict(os.environ),
                )
                bare_times.append(elapsed)
                assert int(out.split()[0]) == workflows
            for code in codes:
                WFSYNC_PATH = code
                env = wfsync_env(
                    {**os.environ, "WFSYNC_API_KEY": DEV_KEY, "HOOK_TOKEN": "t0k3n", **cached[code]}
                )
                emptied(cache, cached[code])
                try:
                    memory[code] = peak_rss(command, env) / 1024
                except RuntimeError as exc:  # one failed run should not lose the others
                    print(f"{code or 'this tree'}: {exc}", file=sys.stderr, flush=True)
                    memory[code] = float("nan")
        finally:
            WFSYNC_PATH = mine
            process.terminate()
            process.wait()
            if process.stderr:
                process.stderr.close()
    return {
        "requests": max(requests),
        "pages": pages,
        "plan": {code: statistics.median(times) for code, times in plan_times.items()},
        "bare": statistics.median(bare_times),
        "peak_mib": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--latency", action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--page-cap",
        type=int,
        default=PAGE_CAP,
        help=f"workflows per page the server allows (default {PAGE_CAP})",
    )
    parser.add_argument(
        "--cache",
        choices=["off", "empty", "warm"],
        default="off",
        help="the cache of read files: off, on and empty before each run (a fresh CI runner), or warm",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=100,
        help="workflows in the run whose peak memory counts as start-up (default 100)",
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also measure the wfsync code of this tree (e.g. from `git archive`), in the same run",
    )
    args = parser.parse_args()
    codes: list[str | None] = [WFSYNC_PATH, *([os.path.abspath(args.before)] if args.before else [])]
    names = {code: "this tree" if code == WFSYNC_PATH else f"before ({code})" for code in codes}
    print(f"wfsync plan, {args.workflows:,} workflows live and defined, no changes, cache {args.cache}")
    start_up = measure_codes(args.baseline, "0", 1, args.files, codes, args.cache, args.page_cap)["peak_mib"]
    for latency in args.latency or ["0", "20ms"]:
        row = measure_codes(args.workflows, latency, args.runs, args.files, codes, args.cache, args.page_cap)
        for code in codes:
            peak = row["peak_mib"][code]
            per_workflow = (peak - start_up[code]) * 1024 / (args.workflows - args.baseline)
            ratio = row["plan"][code] / row["bare"]
            print(
                f"{names[code]}: latency {latency}: requests {row['requests']} ({row['pages']} pages); "
                f"wfsync plan median {row['plan'][code]:.2f}s; bare httpx loop {row['bare']:.2f}s; "
                f"ratio {ratio:.2f}x; peak memory {peak:.0f} MiB, above start-up "
                f"({start_up[code]:.0f} MiB with {args.baseline} workflows): "
                f"{per_workflow:.2f} KiB per workflow"
            )


if __name__ == "__main__":
    main()
