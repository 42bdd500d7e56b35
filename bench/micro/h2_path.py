"""100 concurrent 1 KiB GETs over one HTTP/2 connection (bench scenario [7]) against nginx.

Starts the bench's nginx (`bench/server.py`: h2 over TLS, one worker) and runs
`httplib.AsyncClient(http2=True)` with 100 tasks each looping GET /1k for `--duration` seconds,
after a warm-up; prints req/s and the client's CPU µs per request (process time, so a shared
core's waiting does not count). `--h1` adds the HTTP/1.1-over-TLS row with 100 connections,
the target issue 6 sets for HTTP/2; `--httpx` adds httpx's `http2=True` row when it is
installed. With 2+ cores nginx runs on core 0 and the client on core 1. Run:

    python bench/micro/h2_path.py [--duration S] [--rounds N] [--h1] [--httpx] [--profile]

`--profile` profiles one HTTP/2 window with cProfile and prints the top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import NginxServer

import httplib

CONCURRENCY = 100
PATH = "/1k"


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {core})


async def _window(client: Any, url: str, duration: float) -> tuple[int, float, float]:
    """(requests, wall seconds, CPU seconds) for `CONCURRENCY` tasks looping GET `url`."""
    count = 0
    deadline = time.perf_counter() + duration

    async def loop() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            response = await client.get(url)
            if response.status_code != 200 or len(response.content) != 1024:
                raise RuntimeError(f"bad response: {response.status_code}")
            count += 1

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
    return count, time.perf_counter() - wall, time.process_time() - cpu


async def _run(lib: Any, url: str, ctx: ssl.SSLContext, duration: float, **kw: Any) -> Any:
    kw.setdefault("http2", True)
    async with lib.AsyncClient(verify=ctx, **kw) as client:
        await _window(client, url, min(1.0, duration))  # warm-up: handshakes, imports, caches
        return await _window(client, url, duration)


def _row(name: str, samples: list[tuple[int, float, float]]) -> None:
    rates = [n / wall for n, wall, _ in samples]
    cpus = [cpu / n * 1e6 for n, _, cpu in samples]
    print(
        f"{name:<24} {statistics.median(rates):>9,.0f} req/s"
        f"  {statistics.median(cpus):>7.1f} CPU µs/req  (rounds: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--h1", action="store_true", help="add HTTP/1.1, 100 connections")
    parser.add_argument("--httpx", action="store_true", help="add httpx http2=True")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with (
        tempfile.TemporaryDirectory() as tmp,
        NginxServer(Path(tmp), cpu=0 if cpus > 1 else None) as srv,
    ):
        _pin(1)
        ctx = ssl.create_default_context(cafile=str(srv.ca_file))
        h2_url = srv.ports.urls()["h2"] + PATH
        h1_url = srv.ports.urls()["https"] + PATH
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            asyncio.run(_run(httplib, h2_url, ctx, args.duration))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            return
        rows: dict[str, list[Any]] = {"httplib h2 c100": []}
        if args.h1:
            rows["httplib h1 100 conns"] = []
        if args.httpx:
            rows["httpx h2 c100"] = []
        for _ in range(args.rounds):
            rows["httplib h2 c100"].append(asyncio.run(_run(httplib, h2_url, ctx, args.duration)))
            if args.h1:
                limits = httplib.Limits(max_connections=100, max_keepalive_connections=100)
                sample = asyncio.run(
                    _run(httplib, h1_url, ctx, args.duration, http2=False, limits=limits)
                )
                rows["httplib h1 100 conns"].append(sample)
            if args.httpx:
                import httpx

                rows["httpx h2 c100"].append(asyncio.run(_run(httpx, h2_url, ctx, args.duration)))
        for name, samples in rows.items():
            _row(name, samples)


if __name__ == "__main__":
    main()
