"""Closed-loop measurement: warm up, then run an operation until the window closes.

Each loop records per-operation wall time (latency), the process CPU time over the window and
the bytes moved. Operations validate their own responses and raise `WrongResponse` on bad data.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

SyncOp = Callable[[], int]  # performs one request, returns bytes moved
AsyncOp = Callable[[], Awaitable[int]]


class WrongResponse(Exception):
    """A client returned a wrong status, length or checksum: the bench must fail loudly."""


@dataclass
class Window:
    """What happened inside one measured window."""

    ops: int = 0
    nbytes: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def summary(self, requests_per_op: int = 1) -> dict[str, object]:
        lat = sorted(self.latencies)
        requests = self.ops * requests_per_op
        return {
            "ops": self.ops,
            "requests": requests,
            "bytes": self.nbytes,
            "elapsed": self.elapsed,
            "cpu": self.cpu,
            "req_per_s": requests / self.elapsed if self.elapsed else 0.0,
            "mb_per_s": self.nbytes / self.elapsed / 1e6 if self.elapsed else 0.0,
            "cpu_us_per_req": self.cpu / requests * 1e6 if requests else 0.0,
            "p50_ms": percentile(lat, 0.50) * 1e3,
            "p99_ms": percentile(lat, 0.99) * 1e3,
            "errors": self.errors,
        }


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def run_sync(op: SyncOp, warmup: float, duration: float) -> Window:
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        op()
    win = Window()
    lat = win.latencies
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + duration
    nbytes = 0
    while True:
        start = time.perf_counter()
        nbytes += op()
        stop = time.perf_counter()
        lat.append(stop - start)
        if stop >= end:
            break
    win.elapsed, win.cpu = stop - t0, time.process_time() - cpu0
    win.ops, win.nbytes = len(lat), nbytes
    return win


def run_threads(op: SyncOp, threads: int, warmup: float, duration: float) -> Window:
    """`threads` threads share one client, each looping `op` until the window closes."""
    run_sync(op, warmup, 0.0)  # open connections before the clock starts
    barrier = threading.Barrier(threads + 1)
    results: list[Window] = []
    failures: list[BaseException] = []

    def loop() -> None:
        barrier.wait()
        try:
            results.append(run_sync(op, 0.0, duration))
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    cpu0 = time.process_time()
    barrier.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    win = Window(elapsed=time.perf_counter() - t0, cpu=time.process_time() - cpu0)
    if failures:
        raise failures[0]
    for part in results:
        win.ops += part.ops
        win.nbytes += part.nbytes
        win.latencies.extend(part.latencies)
    return win


async def run_async(op: AsyncOp, concurrency: int, warmup: float, duration: float) -> Window:
    """`concurrency` tasks each loop `op` (closed loop) until the window closes."""
    await _async_phase(op, concurrency, warmup, Window())
    win = Window()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await _async_phase(op, concurrency, duration, win)
    win.elapsed, win.cpu = time.perf_counter() - t0, time.process_time() - cpu0
    win.ops = len(win.latencies)
    return win


async def _async_phase(op: AsyncOp, concurrency: int, duration: float, win: Window) -> None:
    end = time.perf_counter() + duration
    lat = win.latencies

    async def loop() -> None:
        while True:
            start = time.perf_counter()
            win.nbytes += await op()
            stop = time.perf_counter()
            lat.append(stop - start)
            if stop >= end:
                return

    await asyncio.gather(*(loop() for _ in range(concurrency)))


async def run_scale(op: AsyncOp, count: int) -> Window:
    """`count` requests started at once on one client; the window is until the last answers.

    A short warm-up (100 requests) opens the first connections and loads lazy imports; the rest
    (queueing for pool slots, opening connections) is what is measured. Latency is per request.
    """
    await asyncio.gather(*(op() for _ in range(min(100, count))))
    win = Window(ops=count)

    async def timed() -> None:
        start = time.perf_counter()
        win.nbytes += await op()
        win.latencies.append(time.perf_counter() - start)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(timed() for _ in range(count)))
    win.elapsed, win.cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return win


async def run_bursts(op: AsyncOp, size: int, warmup: float, duration: float) -> Window:
    """Repeated bursts of `size` concurrent requests; latency is a burst's completion time.

    Exceptions (pool timeouts above all) are counted by type, not raised: counting them is the
    point of the pool-pressure scenario. Wrong data still raises.
    """
    win = Window()
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        await _burst(op, size, Window())
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + duration
    while True:
        start = time.perf_counter()
        await _burst(op, size, win)
        stop = time.perf_counter()
        win.latencies.append(stop - start)
        if stop >= end:
            break
    win.elapsed, win.cpu = stop - t0, time.process_time() - cpu0
    win.ops = len(win.latencies)
    return win


async def _burst(op: AsyncOp, size: int, win: Window) -> None:
    results = await asyncio.gather(*(op() for _ in range(size)), return_exceptions=True)
    for result in results:
        if isinstance(result, WrongResponse):
            raise result
        if isinstance(result, BaseException):
            name = type(result).__name__
            win.errors[name] = win.errors.get(name, 0) + 1
        else:
            win.nbytes += result
