"""Instructions per request under callgrind: the stable measure of the per-request CPU.

Timings on a shared machine are noisy; instruction counts are not. Each row runs N requests
over an in-memory socket (sync) or asyncio transport (async), as `hot_path.py --profile`
does, after a warm-up; run it twice under callgrind with different N and divide the
difference (`--measure` does that, and prints one table):

    python bench/micro/instructions.py --measure [--rows sync,async,async100] [--loop uvloop]
    PYTHONHASHSEED=0 valgrind --tool=callgrind python bench/micro/instructions.py --row sync -n 200

Rows: `sync` (Client.get, one connection), `post` (Client.post of 1 KiB, one connection),
`async` (AsyncClient.get, one in flight),
`async16` and `async100` (as many in flight over as many connections, gathered in rounds),
`async128` (128 in flight over 16 connections: 112 wait on the pool each round).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hot_path  # (the fake socket and transport live there)

import httplib

URL = "http://127.0.0.1:9/"
ROWS = ("sync", "post", "async", "async16", "async100", "async128")
WARMUP = 64


def _sync(n: int) -> None:
    socket.create_connection = lambda *a, **k: hot_path._FakeSocket()  # type: ignore[assignment]
    with httplib.Client() as client:
        for _ in range(WARMUP):
            client.get(URL)
        _mark()
        for _ in range(n):
            client.get(URL)


def _sync_post(n: int) -> None:
    socket.create_connection = lambda *a, **k: hot_path._FakeSocket()  # type: ignore[assignment]
    body = b"x" * 1024
    with httplib.Client() as client:
        for _ in range(WARMUP):
            client.post(URL, content=body)
        _mark()
        for _ in range(n):
            client.post(URL, content=body)


async def _async(n: int, concurrency: int, connections: int) -> None:
    loop = asyncio.get_running_loop()
    loop.create_connection = hot_path._fake_create_connection  # type: ignore[method-assign]
    limits = httplib.Limits(max_connections=connections)
    async with httplib.AsyncClient(limits=limits) as client:

        async def one() -> None:
            assert len((await client.get(URL)).content) == 1024

        for _ in range(max(1, WARMUP // concurrency) * 2):
            await asyncio.gather(*(one() for _ in range(concurrency)))
        _mark()
        for _ in range(n // concurrency):
            await asyncio.gather(*(one() for _ in range(concurrency)))


def _mark() -> None:
    """Where the measured part starts (callgrind counts the whole process; the warm-up is the
    same for both N, so it cancels out in the difference)."""


def run_row(row: str, n: int, loop: str) -> None:
    if row == "sync":
        _sync(n)
        return
    if row == "post":
        _sync_post(n)
        return
    shape = {"async": (1, 1), "async16": (16, 16), "async100": (100, 100), "async128": (128, 16)}
    concurrency, connections = shape[row]
    factory: Any = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_async(n, concurrency, connections))


def _instructions(row: str, n: int, loop: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--row",
            row,
            "-n",
            str(n),
            "--loop",
            loop,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        match = re.search(r"Collected : (\d+)", result.stderr)
        assert match, result.stderr
        return int(match.group(1))


def measure(rows: list[str], loop: str, small: int, large: int) -> None:
    print(f"instructions per request (callgrind, {large} - {small} requests; loop {loop})")
    for row in rows:
        a = _instructions(row, small, loop)
        b = _instructions(row, large, loop)
        print(f"{row:10} {(b - a) / (large - small):10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", choices=ROWS)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--rows", default="sync,post,async,async16,async100,async128")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=1200)
    args = parser.parse_args()
    if args.measure:
        measure(args.rows.split(","), args.loop, args.small, args.large)
    else:
        run_row(args.row, args.n, args.loop)


if __name__ == "__main__":
    main()
