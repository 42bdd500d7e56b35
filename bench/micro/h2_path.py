"""100 concurrent 1 KiB GETs over one HTTP/2 connection (bench scenario [7]) against nginx.

Starts the bench's nginx (`bench/server.py`: h2 over TLS and h2c, one worker) and runs
`httplib.AsyncClient(http2=True)` with 100 tasks each looping GET /1k for `--duration` seconds,
after a warm-up; prints req/s and the client's CPU µs per request (process time, so a shared
core's waiting does not count). `--h2c` adds the cleartext prior-knowledge row, `--sync` the
blocking `Client` shared by 100 threads over one connection, `--h1` the HTTP/1.1-over-TLS row
with 100 connections (the target issue 6 sets for HTTP/2), `--httpx` httpx's `http2=True` row
when it is installed. With 2+ cores nginx runs on core 0 and the client on core 1. Run:

    python bench/micro/h2_path.py [--duration S] [--rounds N] [--h2c] [--sync] [--h1] [--httpx]
    python bench/micro/h2_path.py --profile [--mode tls|h2c|sync]
    python bench/micro/h2_path.py --count N [--mode tls|h2c|sync]

`--profile` profiles one window with cProfile (CPU time) and prints the top functions by own
time. `--count N` runs exactly N requests after a fixed warm-up and prints nothing timed; under
callgrind started with instrumentation off, it switches instrumentation on for the counted
requests only (with `callgrind_control`), so the total divided by N is the instructions per
request, free of start-up costs (certificates, handshakes, imports):

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/a.out python bench/micro/h2_path.py --count 2000 --mode tls
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import NginxServer

import httplib

CONCURRENCY = 100
PATH = "/1k"
WARMUP_COUNT = 500  # requests before a counted run: handshake, imports, caches


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {core})


def _check(response: Any) -> None:
    if response.status_code != 200 or len(response.content) != 1024:
        raise RuntimeError(f"bad response: {response.status_code}")


async def _window(client: Any, url: str, duration: float, count: int) -> tuple[int, float, float]:
    """(requests, wall seconds, CPU seconds) for `CONCURRENCY` tasks looping GET `url` for
    `duration` seconds, or `count` requests in all when `count` is set."""
    done = 0
    deadline = time.perf_counter() + duration

    async def loop(n: int) -> None:
        nonlocal done
        while (time.perf_counter() < deadline) if not count else n > 0:
            _check(await client.get(url))
            done += 1
            n -= 1

    _instrument(count, "on")
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(count // CONCURRENCY) for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    _instrument(count, "off")
    return done, wall, cpu


def _instrument(count: int, switch: str) -> None:
    """Under callgrind (`--count` with a counted window), switch instrumentation on or off."""
    if count and count != WARMUP_COUNT and "valgrind" in os.environ.get("LD_PRELOAD", ""):
        subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True)


async def _run(
    lib: Any, url: str, ctx: ssl.SSLContext, duration: float, count: int = 0, **kw: Any
) -> Any:
    kw.setdefault("http2", True)
    async with lib.AsyncClient(verify=ctx, **kw) as client:
        # warm-up: handshakes, imports, caches
        await _window(client, url, min(1.0, duration), WARMUP_COUNT if count else 0)
        return await _window(client, url, duration, count)


def _sync_window(client: Any, url: str, duration: float, count: int) -> tuple[int, float, float]:
    """As `_window`, with `CONCURRENCY` threads sharing one blocking client."""
    done = [0] * CONCURRENCY
    deadline = time.perf_counter() + duration

    def loop(i: int) -> None:
        n = count // CONCURRENCY
        while (time.perf_counter() < deadline) if not count else n > 0:
            _check(client.get(url))
            done[i] += 1
            n -= 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONCURRENCY)]
    _instrument(count, "on")
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    _instrument(count, "off")
    return sum(done), wall, cpu


def _run_sync(url: str, ctx: ssl.SSLContext, duration: float, count: int = 0) -> Any:
    limits = httplib.Limits(max_connections=1)  # every thread on the one connection
    with httplib.Client(verify=ctx, http2=True, limits=limits) as client:
        _sync_window(client, url, min(1.0, duration), WARMUP_COUNT if count else 0)
        return _sync_window(client, url, duration, count)


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
    parser.add_argument("--h2c", action="store_true", help="add h2c (prior knowledge)")
    parser.add_argument("--sync", action="store_true", help="add Client shared by 100 threads")
    parser.add_argument("--h1", action="store_true", help="add HTTP/1.1, 100 connections")
    parser.add_argument("--httpx", action="store_true", help="add httpx http2=True")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--count", type=int, default=0, help="run exactly N requests")
    parser.add_argument("--mode", choices=("tls", "h2c", "sync"), default="tls")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with (
        tempfile.TemporaryDirectory() as tmp,
        NginxServer(Path(tmp), cpu=0 if cpus > 1 else None) as srv,
    ):
        _pin(1)
        ctx = ssl.create_default_context(cafile=str(srv.ca_file))
        urls = srv.ports.urls()
        h2_url, h2c_url, h1_url = urls["h2"] + PATH, urls["h2c"] + PATH, urls["https"] + PATH

        def one(mode: str, duration: float, count: int = 0) -> Any:
            if mode == "sync":
                return _run_sync(h2_url, ctx, duration, count)
            if mode == "h2c":
                return asyncio.run(_run(httplib, h2c_url, ctx, duration, count, http1=False))
            return asyncio.run(_run(httplib, h2_url, ctx, duration, count))

        if args.count:
            one(args.mode, 0.0, args.count)
            return
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU time: a shared core adds none
            profiler.enable()
            one(args.mode, args.duration)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            return
        rows: dict[str, list[Any]] = {"httplib h2 c100": []}
        if args.h2c:
            rows["httplib h2c c100"] = []
        if args.sync:
            rows["httplib h2 sync 100 thr"] = []
        if args.h1:
            rows["httplib h1 100 conns"] = []
        if args.httpx:
            rows["httpx h2 c100"] = []
        for _ in range(args.rounds):
            rows["httplib h2 c100"].append(one("tls", args.duration))
            if args.h2c:
                rows["httplib h2c c100"].append(one("h2c", args.duration))
            if args.sync:
                rows["httplib h2 sync 100 thr"].append(one("sync", args.duration))
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
