"""Pages per second the emulator serves: `GET /v1/workflows?limit=100` with 1,000 workflows.

The emulator runs as its own process (`wfsync emulator`), the load comes from another:
wrk when it is installed (`apt-get install wrk`), else a small Python load generator in a
separate process. Run from the repository root:

    python bench/emulator_rps.py [--seconds 10] [--connections 16] [--runs 3]

It prints the median requests per second over the runs and each run's figure.
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

import httpx

sys.path.insert(0, os.path.dirname(__file__))
from plan import start_emulator

from wfsync.emulator import DEV_KEY, Store

BODY = {
    "callbackUrl": "https://client.example.com/hooks/workflow",
    "webhook": {"url": "https://client.example.com/hooks/workflow"},
    "endCall": {"phrases": ["goodbye", "end call", "stop calling"]},
}

PY_LOADER = """
import sys, threading, time, httpx
url, key, seconds, connections = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
count = 0
lock = threading.Lock()
def worker():
    global count
    done = 0
    with httpx.Client(headers={"X-API-Key": key}) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            client.get(url).raise_for_status()
            done += 1
    with lock:
        count += done
threads = [threading.Thread(target=worker) for _ in range(connections)]
[t.start() for t in threads]; [t.join() for t in threads]
print(count / seconds)
"""


def measure(url: str, seconds: int, connections: int) -> float:
    target = url + "/v1/workflows?limit=100"
    if shutil.which("wrk"):
        done = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "-H",
                f"X-API-Key: {DEV_KEY}",
                target,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
        if non_2xx:
            raise SystemExit(f"wrk saw {non_2xx.group(1)} failed answers:\n{done.stdout}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    done = subprocess.run(
        [sys.executable, "-c", PY_LOADER, target, DEV_KEY, str(seconds), str(connections)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workflows", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "bench.db")
        store = Store(db)
        for n in range(args.workflows):
            store.create_workflow({"title": f"Workflow {n:05d}", **BODY})
        store.close()
        process, url = start_emulator(db, "0")
        try:
            page = httpx.get(url + "/v1/workflows?limit=100", headers={"X-API-Key": DEV_KEY})
            assert len(page.json()["data"]) == 100 and page.json()["pagination"]["total"] == args.workflows
            size = len(page.content)
            runs = [measure(url, args.seconds, args.connections) for _ in range(args.runs)]
        finally:
            process.terminate()
            process.wait()
            if process.stderr:
                process.stderr.close()
    tool = "wrk" if shutil.which("wrk") else "python loader"
    print(
        f"GET /v1/workflows?limit=100 ({size:,} bytes), {args.workflows:,} workflows stored, "
        f"{tool}, {args.connections} connections, {args.seconds}s x {args.runs}"
    )
    print(f"median {statistics.median(runs):,.0f} requests/s; runs: {', '.join(f'{r:,.0f}' for r in runs)}")


if __name__ == "__main__":
    main()
