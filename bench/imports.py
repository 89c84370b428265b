"""Start-up costs on the plan path: httpx's own CLI import, and httpcore's sniffio look-ups.

Each figure is the minimum of several fresh processes (CPU time of the process), so a
busy machine disturbs it little. Run from the repository root:

    python bench/imports.py [--runs 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

IMPORT = """
import sys, time
if sys.argv[1] == "no-cli":
    sys.modules["httpx._main"] = None  # httpx then skips its CLI (click, rich, pygments)
started = time.process_time()
import httpx
print(time.process_time() - started, "rich" in sys.modules)
"""

SNIFFIO = """
import asyncio, sys, time
from httpcore._synchronization import current_async_library
async def main():
    started = time.thread_time()
    for _ in range(3300):  # what a 10,000-workflow plan asked for
        current_async_library()
    print(time.thread_time() - started, "sniffio" in sys.modules)
asyncio.run(main())
"""


def best(code: str, *args: str, runs: int) -> tuple[float, str]:
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
        seconds, flag = done.stdout.split()
        results.append((float(seconds), flag))
    return min(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with_cli, rich = best(IMPORT, "as-is", runs=args.runs)
    without_cli, _ = best(IMPORT, "no-cli", runs=args.runs)
    print(f"import httpx: {with_cli * 1000:.0f} ms (rich imported: {rich})", end="; ")
    print(f"without its CLI {without_cli * 1000:.0f} ms")
    lookups, present = best(SNIFFIO, runs=args.runs)
    print(f"3,300 httpcore sniffio look-ups: {lookups * 1000:.1f} ms (sniffio installed: {present})")


if __name__ == "__main__":
    main()
