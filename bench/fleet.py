"""An agency's fleet apply: 20 accounts x 50 workflows, each account its own emulator with
20 ms added to every request, applied one account at a time and with --parallel-envs 5.

Every run starts fresh emulator processes (empty databases) and times the real command;
both ways are measured in the same run, so their ratio holds on a noisy machine:

    python bench/fleet.py [--accounts 20] [--workflows 50] [--latency-ms 20] [--parallel-envs 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from plan import start_emulator, wfsync_env

from wfsync.emulator import DEV_KEY


def write_project(folder: Path, urls: list[str], workflows: int) -> None:
    lines = ["paths: [workflows]", "environments:"]
    for n, url in enumerate(urls):
        lines += [f"  client-{n:02d}:", f"    api_url: {url}", "    api_key_env: FLEET_KEY"]
    (folder / "wfsync.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "workflows").mkdir(exist_ok=True)
    entries = ["workflows:"]
    for n in range(workflows):
        entries += [
            f"  - title: Campaign {n:03d}",
            f"    callbackUrl: https://crm.example.com/hooks/{n}",
            "    endCall: {phrases: [goodbye, end call]}",
        ]
    (folder / "workflows" / "w.yaml").write_text("\n".join(entries) + "\n", encoding="utf-8")


def timed_fleet_apply(accounts: int, workflows: int, latency_ms: int, parallel_envs: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        servers = [start_emulator(str(folder / f"db-{n}"), f"{latency_ms}ms") for n in range(accounts)]
        try:
            write_project(folder, [url for _, url in servers], workflows)
            env = wfsync_env({**os.environ, "FLEET_KEY": DEV_KEY, "WFSYNC_LOCK_DIR": str(folder / "locks")})
            env.pop("WFSYNC_API_URL", None)
            args = [sys.executable, "-m", "wfsync", "apply", "--env", "*", "--auto-approve"]
            args += ["--parallel-envs", str(parallel_envs)]
            started = time.perf_counter()
            done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=folder)
            elapsed = time.perf_counter() - started
            complete = re.findall(rf"^  client-\d+: Apply complete: {workflows} created", done.stdout, re.M)
            if done.returncode != 0 or len(complete) != accounts:
                raise SystemExit(f"fleet apply failed:\n{done.stdout[-2000:]}{done.stderr[-1500:]}")
            return elapsed
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait()
                if process.stderr:
                    process.stderr.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--parallel-envs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = {}
    for parallel in (1, args.parallel_envs):
        times = [
            timed_fleet_apply(args.accounts, args.workflows, args.latency_ms, parallel)
            for _ in range(args.runs)
        ]
        rows[parallel] = (statistics.median(times), times)
    print(
        f"fleet apply: {args.accounts} accounts x {args.workflows} workflows, "
        f"{args.latency_ms} ms added to every request"
    )
    for parallel, (median, times) in rows.items():
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(f"--parallel-envs {parallel}: median {median:.2f}s (runs {shown})")
    one, many = rows[1][0], rows[args.parallel_envs][0]
    print(f"--parallel-envs {args.parallel_envs} takes {many / one:.2f}x the time of one account at a time")


if __name__ == "__main__":
    main()
