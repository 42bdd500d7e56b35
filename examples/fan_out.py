"""Concurrent fan-out: many requests over one AsyncClient, at most N in flight, failures kept.

`asyncio.Semaphore` bounds how many requests run at once (be kind to the server, and stay under
the pool's limits); `asyncio.gather(..., return_exceptions=True)` collects every result, so one
failed request does not cancel or hide the others.

Run: python examples/fan_out.py
"""

from __future__ import annotations

import asyncio
import sys
import time

from local_server import serve

import httplib

MAX_IN_FLIGHT = 5


async def fetch(client: httplib.AsyncClient, limit: asyncio.Semaphore, path: str) -> object:
    async with limit:
        response = await client.get(path)
        response.raise_for_status()
        return response.json()


async def main(base_url: str) -> int:
    # Ten slow successes, and two failures of different kinds in the middle.
    paths = [f"/delay/0.2?n={i}" for i in range(10)] + ["/status/503", "/users/1"]
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    async with httplib.AsyncClient(base_url=base_url, timeout=10) as client:
        start = time.perf_counter()
        results = await asyncio.gather(
            *(fetch(client, limit, path) for path in paths), return_exceptions=True
        )
        elapsed = time.perf_counter() - start

    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [(p, r) for p, r in zip(paths, results, strict=True) if isinstance(r, BaseException)]
    print(f"{len(paths)} requests, {MAX_IN_FLIGHT} at a time, in {elapsed:.2f} s")
    print(f"succeeded: {len(ok)}")
    for path, error in failed:
        print(f"failed: {path}: {type(error).__name__}: {error}")
    # 10 x 0.2 s at 5 in flight is two waves, about 0.4 s, not 2 s.
    statuses = sorted(
        e.response.status_code for _, e in failed if isinstance(e, httplib.HTTPStatusError)
    )
    return 0 if len(ok) == 10 and statuses == [401, 503] else 1


if __name__ == "__main__":
    with serve() as url:
        sys.exit(asyncio.run(main(url)))
