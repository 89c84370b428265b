"""`wfsync apply` of 1,000 creates against the emulator with 20 ms added to every request.

Each run starts a fresh emulator process (`--fault latency=20ms`, an empty database) and
times the real command. The ideal is 1,000 x 20 ms / parallelism; a sequential run
(`--parallelism 1`) is measured in the same run. The client's CPU per write is the CPU
time (user + system) of the apply process less that of a `wfsync plan` of the same
folder against the same empty server (start-up, reading, one listing), over the creates.
Run from the repository root:

    python bench/apply.py [--creates 1000] [--latency-ms 20] [--parallelism 10 --parallelism 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from plan import start_emulator, wfsync_env

from wfsync.emulator import DEV_KEY


def write_definitions(folder: Path, creates: int) -> None:
    per_file = 100
    for start in range(0, creates, per_file):
        lines = ["workflows:"]
        for n in range(start, min(start + per_file, creates)):
            lines += [
                f"  - title: Campaign {n:05d}",
                f"    callbackUrl: https://crm.example.com/hooks/{n}",
                "    endCall: {phrases: [goodbye, end call]}",
            ]
        (folder / f"team-{start // per_file:03d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


REPOSITORY = Path(__file__).resolve().parent.parent


def run_cpu(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one child process, which must succeed.

    It runs in ``cwd``, a folder with no code: Python puts the current directory on
    sys.path before PYTHONPATH, so run from the repository root it would import this
    tree's wfsync whatever PYTHONPATH (or bench/run.py --before) names."""
    env = {**env, "PYTHONPATH": env.get("PYTHONPATH") or str(REPOSITORY)}
    cpu_started, started = children_cpu(), time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu_started
    if done.returncode not in (0, 2):  # 2: plan's --detailed-exitcode, changes to make
        raise SystemExit(f"{args[3:5]} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return elapsed, cpu, done.stdout


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_apply(folder: Path, latency_ms: int, parallelism: int, creates: int) -> tuple[float, float]:
    """(wall seconds, client CPU milliseconds per create) of one apply (bench/run.py)."""
    elapsed, client, _ = measured_apply(folder, latency_ms, parallelism, creates)
    return elapsed, client


def measured_apply(
    folder: Path, latency_ms: int, parallelism: int, creates: int
) -> tuple[float, float, float]:
    """(wall seconds, client and emulator CPU milliseconds per create) of one apply."""
    with tempfile.TemporaryDirectory() as name:
        process, url = start_emulator(str(Path(name) / "db"), f"{latency_ms}ms")
        try:
            env = wfsync_env({**os.environ, "WFSYNC_API_KEY": DEV_KEY})
            command = [sys.executable, "-m", "wfsync"]
            plan = [*command, "plan", str(folder), "--api-url", url, "--detailed-exitcode"]
            _, fixed, _ = run_cpu(plan, env, folder)
            args = [*command, "apply", str(folder), "--api-url", url, "--auto-approve"]
            server_started = process_cpu(process.pid)
            elapsed, cpu, out = run_cpu([*args, "--parallelism", str(parallelism)], env, folder)
            # The emulator's share: what limits an apply once the client is cheap. It
            # includes the verification listing after the creates.
            server = process_cpu(process.pid) - server_started
            if f"{creates} created" not in out:
                raise SystemExit(f"apply failed:\n{out[-1500:]}")
            return elapsed, (cpu - fixed) * 1000 / creates, server * 1000 / creates
        finally:
            process.terminate()
            process.wait()
            if process.stderr:
                process.stderr.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--parallelism", type=int, action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sequential", action="store_true")
    args = parser.parse_args()
    levels = args.parallelism or [10]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_definitions(folder, args.creates)
        rows = []
        for parallelism in levels:
            measured = [
                measured_apply(folder, args.latency_ms, parallelism, args.creates) for _ in range(args.runs)
            ]
            times = [wall for wall, _, _ in measured]
            cpu = statistics.median(per_write for _, per_write, _ in measured)
            server = statistics.median(per_write for _, _, per_write in measured)
            rows.append((parallelism, statistics.median(times), times, cpu, server))
        sequential = None if args.no_sequential else timed_apply(folder, args.latency_ms, 1, args.creates)[0]
    print(f"wfsync apply: {args.creates:,} creates, {args.latency_ms} ms added to every request")
    for parallelism, median, times, cpu, server in rows:
        ideal = args.creates * args.latency_ms / 1000 / parallelism
        line = (
            f"parallelism {parallelism}: median {median:.2f}s (runs {', '.join(f'{t:.2f}' for t in times)}); "
            f"ideal {ideal:.2f}s; ratio to ideal {median / ideal:.2f}x; client CPU {cpu:.2f} ms per write; "
            f"emulator CPU {server:.2f} ms per write"
        )
        if sequential:
            line += f"; {sequential / median:.1f}x faster than sequential"
        print(line)
    # Issue 17's targets: each level against the one before it, both medians of this run.
    for (low, low_median, *_), (high, high_median, *_) in itertools.pairwise(rows):
        print(f"parallelism {high} / {low}: {high_median / low_median:.2f}x the wall time")
    if sequential:
        ideal = args.creates * args.latency_ms / 1000
        ratio = sequential / ideal
        print(f"sequential (parallelism 1): {sequential:.2f}s; ideal {ideal:.2f}s; ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
