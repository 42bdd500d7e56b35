"""MB/s of `iter_lines()`/`aiter_lines()`/`iter_text()` over an in-memory NDJSON body.

The body (90-byte JSON lines, 50 MB by default) is handed to a streamed `Response` in 64 KiB
chunks, the socket read size, so only the text and line layers are measured (no I/O). With
`--httpx` the same rows run under httpx when it is installed. Run:

    python bench/micro/lines.py [--mb 50] [--rounds 5] [--httpx | --httpx-only] [--only iter_lines]

`--only NAME --rounds 1` is the shape to run under callgrind for instruction counts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

import httplib

CHUNK = 64 * 1024


def ndjson(total: int) -> bytes:
    """About `total` bytes of 90-byte JSON lines (89 characters and a newline).

    A block of 1,000 distinct lines is repeated, so building the body costs little (under
    callgrind, what is counted is the reading, not the setup).
    """
    block = b"".join(
        (b'{"id":%08d,"event":"delta","text":"%s"}' % (i, b"x" * 40)).ljust(89) + b"\n"
        for i in range(1000)
    )
    assert len(block) == 90_000
    return block * max(1, round(total / len(block)))


def chunks(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def sync_response(lib: ModuleType, parts: list[bytes]) -> Any:
    class Stream(lib.SyncByteStream):  # type: ignore[name-defined,misc]
        def __iter__(self) -> Iterator[bytes]:
            return iter(parts)

    return lib.Response(200, headers={"content-type": "application/x-ndjson"}, stream=Stream())


def async_response(lib: ModuleType, parts: list[bytes]) -> Any:
    class Stream(lib.AsyncByteStream):  # type: ignore[name-defined,misc]
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for part in parts:
                yield part

    return lib.Response(200, headers={"content-type": "application/x-ndjson"}, stream=Stream())


def run_iter_lines(lib: ModuleType, parts: list[bytes]) -> int:
    return sum(1 for _ in sync_response(lib, parts).iter_lines())


def run_iter_text(lib: ModuleType, parts: list[bytes]) -> int:
    return sum(len(t) for t in sync_response(lib, parts).iter_text())


def run_aiter_lines(lib: ModuleType, parts: list[bytes]) -> int:
    async def go() -> int:
        n = 0
        async for _ in async_response(lib, parts).aiter_lines():
            n += 1
        return n

    return asyncio.run(go())


ROWS: dict[str, Callable[[ModuleType, list[bytes]], int]] = {
    "iter_lines": run_iter_lines,
    "aiter_lines": run_aiter_lines,
    "iter_text": run_iter_text,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--httpx", action="store_true", help="add httpx's rows")
    parser.add_argument("--httpx-only", action="store_true", help="httpx's rows alone")
    parser.add_argument("--only")
    args = parser.parse_args()
    body = ndjson(int(args.mb * 1e6))
    parts = chunks(body)
    libs: list[ModuleType] = [] if args.httpx_only else [httplib]
    if args.httpx or args.httpx_only:
        import httpx

        libs.append(httpx)
    names = [args.only] if args.only else list(ROWS)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name in names:
            for lib in libs:
                t0 = time.perf_counter()
                ROWS[name](lib, parts)
                times.setdefault((name, lib.__name__), []).append(time.perf_counter() - t0)
    for (name, lib_name), ts in times.items():
        print(f"{name:12} {lib_name:8} {len(body) / statistics.median(ts) / 1e6:8.0f} MB/s")


if __name__ == "__main__":
    main()
