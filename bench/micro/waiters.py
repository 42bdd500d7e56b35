"""What a request waiting for a pool slot costs in memory (issue 15, scale rows).

Starts a keep-alive server in a separate process that holds every response until released,
fires N requests at one `AsyncClient` (default limits: 100 connections, so N - 100 wait for a
slot), snapshots tracemalloc once all are started and prints the bytes per waiting request,
grouped by line (`--by lineno`) or by file. Run:

    python bench/micro/waiters.py [--requests 10000] [--by lineno|filename] [--top 25]
        [--default-timeouts]

`--default-timeouts` keeps the client's default timeouts (a 5 s pool timeout per waiter);
otherwise they are off, as in the bench's scale rows.

Past a burst of 10,000 requests waiting for the pool, later ones wait at the admission gate
(`_core/admission.py`) before their request is built: `--requests 40000` shows both kinds
(about 3,400 B in the pool's queue, 1,400 B at the gate, the caller's task included).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import socket
import tracemalloc

import httplib

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def serve(sock: socket.socket, release: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.get_running_loop().run_in_executor(None, release.wait)
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


async def run(url: str, n: int, by: str, top: int, release: object, timeouts: bool) -> None:
    kwargs = {} if timeouts else {"timeout": None}
    async with httplib.AsyncClient(**kwargs) as client:  # type: ignore[arg-type]
        await client.get(url)  # lazy imports and one connection, outside the measure
        release.clear()  # type: ignore[attr-defined]
        gc.collect()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        tasks = [asyncio.create_task(client.get(url)) for _ in range(n)]
        for _ in range(20):  # let every task run to its wait
            await asyncio.sleep(0.05)
        after = tracemalloc.take_snapshot()
        stats = after.compare_to(before, by)
        total = sum(stat.size_diff for stat in stats)
        waiting = n - 100
        print(f"{n} requests, ~{waiting} waiting: {total / n:.0f} bytes per request")
        for stat in stats[:top]:
            per = f"{stat.size_diff / n:8.0f} B/req {stat.count_diff / n:6.2f} blocks/req"
            print(f"{per}  {stat.traceback}")
        tracemalloc.stop()
        release.set()  # type: ignore[attr-defined]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # (with the default 5 s pool timeout, the last of many queued requests may time out)
        timed_out = sum(isinstance(r, httplib.PoolTimeout) for r in results)
        assert all(isinstance(r, httplib.PoolTimeout) or r.status_code == 200 for r in results)
        if timed_out:
            print(f"{timed_out} requests timed out waiting for a slot")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--by", default="lineno")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--default-timeouts", action="store_true")
    args = parser.parse_args()
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    release = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(sock, release), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    release.set()
    try:
        asyncio.run(_warm_then_run(url, args, release))
    finally:
        server.terminate()


async def _warm_then_run(url: str, args: argparse.Namespace, release: object) -> None:
    await run(url, args.requests, args.by, args.top, release, args.default_timeouts)


if __name__ == "__main__":
    main()
