"""Results as they arrive: `asyncio.as_completed` hands back each response the moment it is
done, so fast answers are used at once instead of waiting for the slowest (as `gather` would).

Run: python examples/as_completed.py
"""

from __future__ import annotations

import asyncio
import sys
import time

from local_server import serve

import httplib


async def main(base_url: str) -> int:
    delays = [0.9, 0.1, 0.6, 0.3]  # seconds each request takes on the server
    async with httplib.AsyncClient(base_url=base_url, timeout=10) as client:
        start = time.perf_counter()
        pending = [asyncio.create_task(client.get(f"/delay/{d}")) for d in delays]
        arrived = []
        for next_done in asyncio.as_completed(pending):
            response = await next_done
            waited = response.json()["waited"]
            arrived.append(waited)
            print(
                f"{time.perf_counter() - start:5.2f} s  /delay/{waited} -> {response.status_code}"
            )
    # Shortest first: each result was taken as soon as it came.
    return 0 if arrived == sorted(delays) else 1


if __name__ == "__main__":
    with serve() as url:
        sys.exit(asyncio.run(main(url)))
