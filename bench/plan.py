"""`wfsync plan` with 10,000 workflows live and defined and nothing to change.

The emulator runs in its own process over loopback, optionally with added latency per
request (a real API is not on loopback). For each latency it measures, in the same run:
the requests `wfsync plan` sends (counted from its --debug log), its wall time, and the
wall time of a bare httpx loop fetching the same pages one after another, each the
median of several runs in fresh processes. Run from the repository root:

    python bench/plan.py [--workflows 10000] [--latency 0 --latency 20ms] [--runs 3]
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

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from validate import write_definitions

from wfsync.emulator import DEV_KEY, Store

BARE_LOOP = """
import sys, time, httpx
url, key, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
with httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
    count = 0
    for page in range(1, pages + 1):
        count += len(client.get("/v1/workflows", params={"page": page, "limit": 100}).json()["data"])
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


def start_emulator(db: str, latency: str) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "wfsync", "emulator", "--port", "0", "--db", db]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--latency", action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    latencies = args.latency or ["0", "20ms"]
    pages = -(-args.workflows // 100)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "workflows"
        folder.mkdir()
        write_definitions(folder, args.workflows, args.files)
        # bench/validate.py gives every tenth definition a schedule; here none manage
        # schedules, so that the plan has nothing to change and needs no job listings.
        for path in folder.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            text = re.sub(r"    schedules:\n      - scheduledDate: .*\n        timezone: .*\n", "", text)
            path.write_text(text, encoding="utf-8")
        db = str(Path(name) / "live.db")
        seed(db, args.workflows, args.files)
        env = {**os.environ, "WFSYNC_API_KEY": DEV_KEY, "HOOK_TOKEN": "t0k3n"}
        rows = []
        for latency in latencies:
            process, url = start_emulator(db, latency)
            try:
                plan_times, bare_times, requests = [], [], set()
                for _ in range(args.runs):
                    started = time.perf_counter()
                    done = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "wfsync",
                            "plan",
                            str(folder),
                            "--api-url",
                            url,
                            "--debug",
                            "--detailed-exitcode",
                        ],
                        capture_output=True,
                        text=True,
                        env=env,
                    )
                    plan_times.append(time.perf_counter() - started)
                    if done.returncode != 0:
                        raise SystemExit(
                            f"plan did not report 'no changes':\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
                        )
                    requests.add(len(re.findall(r"wfsync\.api DEBUG \w+ /", done.stderr)))
                    started = time.perf_counter()
                    bare = subprocess.run(
                        [sys.executable, "-c", BARE_LOOP, url, DEV_KEY, str(pages)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    bare_times.append(time.perf_counter() - started)
                    assert int(bare.stdout.split()[0]) == args.workflows
            finally:
                process.terminate()
                process.wait()
                if process.stderr:
                    process.stderr.close()
            plan_s, bare_s = statistics.median(plan_times), statistics.median(bare_times)
            rows.append((latency, requests, plan_s, bare_s))
    print(f"wfsync plan, {args.workflows:,} workflows live and defined, no changes; {pages} pages of 100")
    for latency, requests, plan_s, bare_s in rows:
        print(
            f"latency {latency}: requests {sorted(requests)}; wfsync plan median {plan_s:.2f}s; "
            f"bare httpx loop {bare_s:.2f}s; ratio {plan_s / bare_s:.2f}x"
        )


if __name__ == "__main__":
    main()
