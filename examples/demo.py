"""The httplib demo: a few sync calls, then the async fan-out, against a local server.

Run with `make demo`. It starts a small local server (`local_server.py` beside it) on 127.0.0.1,
shows JSON, a streamed download, a redirect and Basic auth with `httplib.Client`, then sends the
same 20 requests to an endpoint that waits 0.25 s, first one after another and then all at once
with `asyncio.gather` over one `httplib.AsyncClient`, and prints both times. It stops its server
and exits 0 (non-zero if any response is wrong).
"""

from __future__ import annotations

import asyncio
import sys
import time

from local_server import serve

import httplib

FAN_OUT = 20
DELAY = 0.25


def sync_tour(base_url: str) -> None:
    with httplib.Client(base_url=base_url) as client:
        response = client.get("/json")
        response.raise_for_status()
        print(f"GET /json -> {response.status_code} {response.json()}")

        size = 0
        with client.stream("GET", "/bytes/5000000") as stream:
            for chunk in stream.iter_bytes():
                size += len(chunk)
        print(f"streamed /bytes/5000000 -> {size:,} bytes in chunks")
        assert size == 5_000_000

        response = client.get("/redirect?to=/json", follow_redirects=True)
        hops = " -> ".join(str(r.status_code) for r in response.history)
        print(f"GET /redirect -> {hops} -> {response.status_code} at {response.url.path}")

        response = client.get("/basic-auth/demo/secret", auth=("demo", "secret"))
        print(f"GET /basic-auth with auth=('demo', 'secret') -> {response.status_code}")
        response.raise_for_status()


async def fan_out(base_url: str) -> None:
    path = f"/delay/{DELAY}"
    async with httplib.AsyncClient(base_url=base_url, timeout=30) as client:
        start = time.perf_counter()
        for _ in range(FAN_OUT):
            (await client.get(path)).raise_for_status()
        sequential = time.perf_counter() - start
        print(f"{FAN_OUT} requests to {path} one after another: {sequential:.2f} s")

        start = time.perf_counter()
        responses = await asyncio.gather(*(client.get(path) for _ in range(FAN_OUT)))
        concurrent = time.perf_counter() - start
        assert all(r.status_code == 200 for r in responses)
        print(f"{FAN_OUT} requests to {path} with asyncio.gather: {concurrent:.2f} s")
        print(f"speedup: {sequential / concurrent:.1f}x")


def main() -> int:
    with serve() as base_url:
        print(f"local server on {base_url}\n")
        sync_tour(base_url)
        print()
        asyncio.run(fan_out(base_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
