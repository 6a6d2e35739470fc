"""Ask an accounts server for its stats over and over, from a process of its own: one line
per call, `<wall-clock start> <seconds>`, until stopped. The import bench runs it beside an
import to measure how long a status query waits while batches are written.

python -m bench.statuspoll PORT TOKEN
"""

from __future__ import annotations

import asyncio
import sys
import time

from netnet.client import AccountsClient

PAUSE_SECONDS = 0.005  # between calls


async def poll(port: int, token: str) -> None:
    async with AccountsClient(f"127.0.0.1:{port}", token=token) as accounts:
        while True:
            started, t = time.time(), time.perf_counter()
            await accounts.get_stats(timeout=30)
            print(f"{started} {time.perf_counter() - t}", flush=True)
            await asyncio.sleep(PAUSE_SECONDS)


if __name__ == "__main__":
    asyncio.run(poll(int(sys.argv[1]), sys.argv[2]))
