"""Every benchmark of wfsync in one run, written to bench/RESULTS.md.

Measures on this machine, against the emulator over loopback, each figure the median of
several runs and each ratio taken within one run; with ``--before REF`` every command is
measured for that commit's code too, in the same run, against the same servers:

- validate 10,000 definitions (wall and CPU time; YAML vs schema vs the rest);
- plan with 10,000 / 50,000 / 100,000 workflows live and defined and nothing to change
  (requests sent, wall time, ratio to a bare httpx loop over the same pages, peak memory
  and memory per workflow), on bare loopback and with 20 ms added per request, the server
  capping pages at 25 for 10,000 (and at 100, the API's maximum, for every size);
- apply of 1,000 creates at 20 ms latency at parallelism 10 / 32 / 64 (ratio to ideal,
  client CPU per write);
- a fleet apply (bench/fleet.py): 20 accounts x 50 workflows, --parallel-envs 5 vs 1;
- start-up of `wfsync --help` and `wfsync --version`;
- where the time goes: a cProfile of plan at 10,000 on loopback and of apply at 32.

    python bench/run.py [--runs 3] [--quick] [--before REF] [--out bench/RESULTS.md]

This takes many minutes; it is not part of the test run.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import apply as apply_bench  # noqa: E402
import fleet as fleet_bench  # noqa: E402
import plan as plan_bench  # noqa: E402
import validate as validate_bench  # noqa: E402

from wfsync.emulator import DEV_KEY  # noqa: E402


def startup(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=plan_bench.wfsync_env(dict(os.environ)))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = int(handle.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def checkout(ref: str, into: Path) -> str:
    """The files of commit ``ref`` under ``into`` (no worktree: git archive)."""
    archive = subprocess.run(["git", "archive", ref], capture_output=True, check=True, cwd=HERE.parent)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return str(into)


def package(filename: str) -> str:
    """The package a profiled function lives in, for the where-the-time-goes table."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    found = re.search(r"site-packages/([A-Za-z0-9_]+)", filename)
    if found:
        return found.group(1)
    found = re.search(r"/(wfsync)/(?:([a-z_]+)/)?([a-z_]+)\.py$", filename)
    if found:
        return "wfsync." + (found.group(2) or found.group(3))
    return "stdlib" if "/lib/python3" in filename else filename


def profile(args: list[str], env: dict[str, str], top: int = 12) -> list[str]:
    """Markdown: own time by package and the top functions of one cProfile'd command."""
    with tempfile.TemporaryDirectory() as name:
        out = str(Path(name) / "profile")
        done = subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", out, "-m", "wfsync", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode not in (0, 2):
            raise SystemExit(f"profiled {args[:2]} failed:\n{done.stderr[-1500:]}")
        stats = pstats.Stats(out)
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _, _), entry in table.items():
        by_package[package(filename)] += entry[2]
    lines = ["| package | own time | share |", "|---|---|---|"]
    for name, seconds in by_package.most_common(8):
        lines.append(f"| {name} | {seconds:.2f} s | {seconds / total:.0%} |")
    lines += ["", "| function | calls | own time |", "|---|---|---|"]
    ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (filename, line, function), entry in ranked:
        where = re.sub(r".*/(site-packages|wfsync|python3\.\d+)/", r"\1/", filename)
        lines.append(f"| `{where}:{line}({function})` | {entry[1]:,} | {entry[2]:.2f} s |")
    return [f"Profiled total {total:.2f} s (cProfile's own overhead included).", "", *lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one run: to check the script")
    parser.add_argument("--before", metavar="REF", help="also measure this commit's code, in the same run")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    sizes = [1_000, 2_000] if args.quick else [10_000, 50_000, 100_000]
    creates = 200 if args.quick else 1_000
    with tempfile.TemporaryDirectory() as old:
        codes: list[str | None] = [None]
        if args.before:
            codes = [checkout(args.before, Path(old)), None]
        lines = measure_all(args, runs, sizes, creates, codes)
    label = f" --before {args.before}" if args.before else ""
    header = [
        "# Benchmark results",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()} with `python bench/run.py"
        f"{' --quick' if args.quick else f' --runs {runs}'}{label}`.",
        "Each figure is a median of the runs; each ratio is taken within one run. The machine is",
        "shared (2 cores, several engineers' tests and benchmarks), so compare ratios and the",
        "before/after pairs, which were measured side by side, rather than absolute times.",
    ]
    if args.before:
        header += [
            f"**before** is commit `{args.before}` (its code run by the same benchmarks, against the",
            "same emulator, which always runs this tree's code); **after** is this tree.",
        ]
    Path(args.out).write_text("\n".join([*header, "", COMMANDS, *lines, NOTES]), encoding="utf-8")
    print(f"wrote {args.out}")


def measure_all(
    args: argparse.Namespace, runs: int, sizes: list[int], creates: int, codes: list[str | None]
) -> list[str]:
    names = {code: ("after" if code is None else "before") for code in codes}
    lines: list[str] = []

    print("validate…", flush=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        count = 1_000 if args.quick else 10_000
        validate_bench.write_definitions(folder, count, 100)
        timed: dict[str, tuple[list[float], list[float]]] = {}
        for code in codes:
            plan_bench.WFSYNC_PATH = code
            if code is None:  # this tree: as on a fresh CI runner, then with its cache of read files
                timed["after, cold"] = validate_bench.timed_command(folder, max(runs, 3), "off")
                timed["after, cold, one core"] = validate_bench.timed_command(
                    folder, max(runs, 3), "off", one_core=True
                )
                timed["after, warm"] = validate_bench.timed_command(folder, max(runs, 3), "warm")
            else:
                timed[names[code]] = validate_bench.timed_command(folder, max(runs, 3), "off")
        plan_bench.WFSYNC_PATH = None
        parts = validate_bench.split(folder, max(runs, 3))
    lines += [
        "## validate",
        "",
        f"`wfsync validate DIR` on {count:,} definitions in 100 files (every tenth with a schedule, every",
        "webhook URL with a `${HOOK_TOKEN}` reference), in a fresh process. **cold**: no cache of",
        "read files (`WFSYNC_CACHE=off`, a fresh CI runner); **warm**: that cache filled by one run",
        "before (a developer's second run; wfsync/parsecache.py). validate shares the files",
        "between itself and forked copies, one a core (wfsync/shares.py): **one core** is the",
        "command held to one core, where it forks none. CPU time counts the copies' too.",
        "",
        "| code | wall time (median) | vs before | CPU time (median) |",
        "|---|---|---|---|",
    ]
    before_wall = statistics.median(timed["before"][0]) if "before" in timed else None
    for label, (walls, cpus) in timed.items():
        shown = ", ".join(f"{t:.2f}" for t in walls)
        ratio = f"{statistics.median(walls) / before_wall:.2f}x" if before_wall else "-"
        lines.append(
            f"| {label} | **{statistics.median(walls):.2f} s** (runs {shown}) | {ratio} | "
            f"{statistics.median(cpus):.2f} s |"
        )
    lines += [
        "",
        "Where the time of this tree's load goes (in-process):",
        "",
        "| in-process load | YAML reading | schema validation | the rest |",
        "|---|---|---|---|",
        f"| {parts['total']:.2f} s | {parts['yaml']:.2f} s ({parts['yaml'] / parts['total']:.0%}) | "
        f"{parts['schema']:.2f} s ({parts['schema'] / parts['total']:.0%}) | "
        f"{parts['total'] - parts['yaml'] - parts['schema']:.2f} s |",
        "",
    ]

    lines += [
        "## plan",
        "",
        "Workflows live and defined, identical, so the plan has nothing to change. The emulator runs",
        "in its own process; the bare loop is a sequential httpx client fetching the same pages, in",
        "the same run. Memory per workflow is the peak above that of a plan of 100 workflows.",
        f"At 10,000 the server caps pages at {plan_bench.PAGE_CAP} workflows, as issue 17 measures,",
        "and at 100, the API's maximum (fewer, larger pages: the client's own CPU weighs more).",
        "50,000 and 100,000 with pages of 100: with pages of 25 the emulator's paging (an SQLite",
        "OFFSET walks the rows it skips) is most of either side's time there (50,000: 18.8 s for",
        "the bare loop).",
        "**after** runs cold (no cache of read files: `WFSYNC_CACHE=off`); **after, empty cache**",
        "with that cache on and emptied before each run (a fresh CI runner, where wfsync writes",
        "the cache by default); **after, warm** with that cache filled by one run before.",
        "",
        "| workflows | page cap | latency | code | requests (pages) | `wfsync plan` | bare httpx loop "
        "| ratio | peak memory | per workflow |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    start_up = {
        cap: plan_bench.measure_codes(100, "0", 1, 100, codes, page_cap=cap)["peak_mib"]
        for cap in (plan_bench.PAGE_CAP, 100)
    }
    # 50,000 and 100,000 with pages of 100: with pages of 25 the emulator's own paging (an
    # SQLite OFFSET, which walks the rows it skips) is most of either side's time there.
    cases = [(sizes[0], plan_bench.PAGE_CAP)] + [(size, 100) for size in sizes]
    for size, cap in cases:
        for latency in ("0", "20ms"):
            print(f"plan {size:,} at {latency}, pages of {cap}…", flush=True)
            row = plan_bench.measure_codes(size, latency, runs, 100, codes, page_cap=cap)
            for code in codes:
                took, peak = row["plan"][code], row["peak_mib"][code]
                per = (peak - start_up[cap][code]) * 1024 / (size - 100)
                lines.append(
                    f"| {size:,} | {cap} | {latency} | {names[code]} | {row['requests']:.0f} "
                    f"({row['pages']:.0f}) | {took:.2f} s | {row['bare']:.2f} s | "
                    f"**{took / row['bare']:.2f}x** | {peak:.0f} MiB | {per:.2f} KiB |"
                )
            if size == sizes[0]:  # this tree with its cache of read files on, empty and filled
                plan_bench.WFSYNC_PATH = None
                for cache, name in (("empty", "after, empty cache"), ("warm", "after, warm")):
                    other = plan_bench.measure_codes(size, latency, runs, 100, [None], cache, page_cap=cap)
                    took = other["plan"][None]
                    lines.append(
                        f"| {size:,} | {cap} | {latency} | {name} | {other['requests']:.0f} "
                        f"({other['pages']:.0f}) | {took:.2f} s | {other['bare']:.2f} s | "
                        f"**{took / other['bare']:.2f}x** | {other['peak_mib'][None]:.0f} MiB | |"
                    )
    lines.append("")

    print("apply…", flush=True)
    levels = [10, 32] if args.quick else [10, 32, 64]
    applied: dict[tuple[str | None, int], tuple[float, list[float], float, float]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        apply_bench.write_definitions(folder, creates)
        for parallelism in levels:
            for code in codes:
                plan_bench.WFSYNC_PATH = code
                measured = [apply_bench.measured_apply(folder, 20, parallelism, creates) for _ in range(runs)]
                times = [wall for wall, _, _ in measured]
                cpu = statistics.median(per for _, per, _ in measured)
                server = statistics.median(per for _, _, per in measured)
                applied[code, parallelism] = (statistics.median(times), times, cpu, server)
        plan_bench.WFSYNC_PATH = None
    lines += [
        "## apply",
        "",
        f"`wfsync apply --auto-approve` of {creates:,} creates, 20 ms added to every request, a fresh",
        "emulator process per run. Client CPU per write: the CPU time of the apply process less that",
        "of a `wfsync plan` of the same folder (start-up, reading, listing), over the creates;",
        "the emulator's: its process's CPU during the apply (verification listing included), over",
        "the creates.",
        "",
        "| parallelism | code | wall time (median) | ideal | ratio to ideal | vs parallelism 10 "
        "| client CPU per write | emulator CPU per write |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for parallelism in levels:
        for code in codes:
            median, times, cpu, server = applied[code, parallelism]
            ideal = creates * 0.020 / parallelism
            versus = median / applied[code, 10][0]
            shown = ", ".join(f"{t:.2f}" for t in times)
            lines.append(
                f"| {parallelism} | {names[code]} | {median:.2f} s (runs {shown}) "
                f"| {ideal:.2f} s | **{median / ideal:.2f}x** | {versus:.2f}x | {cpu:.2f} ms "
                f"| {server:.2f} ms |"
            )
    lines.append("")

    print("fleet…", flush=True)
    accounts, workflows = (4, 20) if args.quick else (20, 50)
    fleet: dict[tuple[str | None, int], float] = {}
    for parallel in (1, 5):
        for code in codes:
            plan_bench.WFSYNC_PATH = code
            fleet[code, parallel] = statistics.median(
                fleet_bench.timed_fleet_apply(accounts, workflows, 20, parallel) for _ in range(runs)
            )
    plan_bench.WFSYNC_PATH = None
    lines += [
        "## fleet apply",
        "",
        f"`wfsync apply --env '*' --auto-approve` over {accounts} accounts x {workflows} workflows, each",
        "account its own emulator process with 20 ms added to every request (bench/fleet.py).",
        "",
        "| code | one account at a time | `--parallel-envs 5` | ratio |",
        "|---|---|---|---|",
    ]
    for code in codes:
        one, many = fleet[code, 1], fleet[code, 5]
        lines.append(f"| {names[code]} | {one:.2f} s | {many:.2f} s | **{many / one:.2f}x** |")
    lines.append("")

    print("start-up…", flush=True)
    python = [sys.executable, "-m", "wfsync"]
    bare = startup([sys.executable, "-c", "pass"], 10)
    lines += [
        "## start-up",
        "",
        "Median of 10 fresh processes; the interpreter itself (`python -c pass`) takes "
        f"{bare * 1000:.0f} ms.",
        "",
        "| command | " + " | ".join(names[code] for code in codes) + " |",
        "|---|" + "---|" * len(codes),
    ]
    for flag in ("--help", "--version"):
        cells = []
        for code in codes:
            plan_bench.WFSYNC_PATH = code
            cells.append(f"{startup([*python, flag], 10) * 1000:.0f} ms")
        lines.append(f"| `wfsync {flag}` | " + " | ".join(cells) + " |")
    plan_bench.WFSYNC_PATH = None
    lines.append("")

    print("profiles…", flush=True)
    lines += ["## where the time goes now", ""]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "workflows"
        folder.mkdir()
        size = 2_000 if args.quick else 10_000
        validate_bench.write_definitions(folder, size, 100)
        for path in folder.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            text = re.sub(r"    schedules:\n      - scheduledDate: .*\n        timezone: .*\n", "", text)
            path.write_text(text, encoding="utf-8")
        db = str(Path(name) / "live.db")
        plan_bench.seed(db, size, 100)
        env = {**os.environ, "WFSYNC_API_KEY": DEV_KEY, "HOOK_TOKEN": "t0k3n"}
        process, url = plan_bench.start_emulator(db, "0", plan_bench.PAGE_CAP)
        try:
            lines += [
                f"### `wfsync plan` of {size:,} workflows on bare loopback, pages of "
                f"{plan_bench.PAGE_CAP}, nothing to change",
                "",
                *profile(["plan", str(folder), "--api-url", url, "--detailed-exitcode"], env),
            ]
        finally:
            process.terminate()
            process.wait()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "defs"
        folder.mkdir()
        apply_bench.write_definitions(folder, creates)
        process, url = plan_bench.start_emulator(str(Path(name) / "db"), "20ms")
        try:
            lines += [
                f"### `wfsync apply` of {creates:,} creates at 20 ms, `--parallelism 32`",
                "",
                *profile(
                    ["apply", str(folder), "--api-url", url, "--auto-approve", "--parallelism", "32"],
                    {**os.environ, "WFSYNC_API_KEY": DEV_KEY},
                ),
            ]
        finally:
            process.terminate()
            process.wait()
    return lines


COMMANDS = """## commands

Each benchmark runs alone too, from the repository root. Every measured command runs with
`PYTHONSAFEPATH=1` and its code's PYTHONPATH: run from a checkout, `python -m wfsync` would
otherwise import the checkout's code whatever PYTHONPATH says (the run of 2026-11-28 before
this one measured "before" with this tree's code for that reason; its pairs are void).

    python bench/run.py --runs 1 --before c284528      # everything below, before and after
    python bench/validate.py                            # cold and warm
    python bench/plan.py --workflows 10000 --runs 1 --before DIR   # DIR: git archive of a commit
    python bench/plan.py --workflows 10000 --runs 1 --cache warm
    python bench/plan.py --workflows 10000 --runs 1 --page-cap 100   # the API's largest pages
    python bench/plan.py --workflows 100000 --runs 1
    python bench/apply.py --parallelism 10 --parallelism 32 --parallelism 64 --runs 1 --no-sequential
    python bench/fleet.py --runs 1
    python bench/imports.py

"""

NOTES = """## Reading the figures

- **This run was made on a busy machine** (2026-11-29 02:55-03:13 UTC): `wfsync --help` took
  134 ms here and 87 ms in the quiet run of 2026-11-28, and the code of `c284528` took 2.45 s
  to validate what it validated in 0.56 s when issue 17 was filed. Read each ratio within
  its row (measured side by side), not absolute times across rows; one run per figure.
  Rows move between runs: plan of 10,000 at pages of 100, cold, gave 1.83x here, 1.07x and
  1.43x in the two runs before, and 1.51x (median of 3) by `python bench/plan.py --workflows
  10000 --runs 3 --page-cap 100` right after this one.
- **plan**: the listing's pages slide (a page is asked for as soon as one arrives and the
  stop rule allows one more, not a batch at a time), the files are read one at a time with
  four turns of the event loop between them, so pages keep moving, and whichever of a live
  body and its definition comes second holds the first's object when the two are equal
  (`shapes.share`, `definitions.loading_steps(bodies=)`). With pages of 25, as issue 17
  measures, plan of 10,000 takes 0.89x the bare sequential loop cold (2.21x before), 0.94x
  with an empty cache (a fresh CI runner, which writes the cache), 0.68x warm; with 20 ms
  per request 0.23x (0.56x before). With pages of 100 the server does less per workflow and
  the client's own CPU decides: 1.07-1.83x cold, 1.03x warm; 50,000 and 100,000 1.30x and
  1.17x (2.90x and 2.36x before), 0.49x and 0.58x at 20 ms. What is left is the reading of
  10,000 definitions with a location for every value (yamlfast, the schema, building each
  `Definition`): ~0.5 s of CPU on a quiet machine, more than the emulator spends on 100 pages.
- **memory**: 1.21-1.33 KiB per workflow above start-up at 10,000, 1.35 KiB at 50,000 and
  1.38 KiB at 100,000 (4.5 KiB before): bodies held once whichever side comes first, and a
  live body whose definition is not read yet shares the fields equal to the one before it.
- **apply**: wfsync sends through its own HTTP/1.1 pool (wfsync/http11.py); client CPU
  per write 0.33-0.57 ms at every parallelism (2.4-8.2 ms before); parallelism 32 takes 0.51x
  the time at 10 and 64 0.38x. What limits it now is **the server**: the emulator (one
  process, uvicorn + Starlette + SQLite) spends ~0.7 ms of CPU per create, so 1,000 creates
  need most of a second of its core whatever the client does; then the fixed cost of a
  command (start-up, reading, listing, write-scope check, verification listing).
- **validate**: 0.82 s cold against 2.45 s before in the same run (0.33x), 0.55 s warm
  (0.22x), and 1.34 s held to one core (0.54x). It shares the files between itself and a
  forked copy a core (wfsync/shares.py), each copy sending back titles, places, problems and
  secret names only: sending back whole definitions cost more than it saved (pickling 5,000
  took 0.13-0.2 s). With one core, what is left is the reading itself (the table above) and
  start-up (~0.1 s of imports, click's a third of it). Issue 17's 0.3 s was a quarter of this
  same code's time at filing (0.56 s then, 2.45 s in this run); the ratio it asks for, 0.54x,
  is met with two cores, and just met with one.
- **the emulator** serves `GET /v1/workflows?limit=100` with 1,000 workflows stored at
  about 1,400 pages a second (`python bench/emulator_rps.py`, wrk from a second process);
  its pages cost more the further in they are (an SQLite OFFSET).
"""


if __name__ == "__main__":
    main()
