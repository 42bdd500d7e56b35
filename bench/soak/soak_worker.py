"""One soak case in its own process: a client, a runtime, a protocol, N requests, C in flight.

Prints `reload` on stdout each time a reload point is reached (the orchestrator reloads the
server while requests keep flowing) and one `result {json}` line at the end. The process is
the client's alone, so its RSS and open file descriptors are the client's.

    python soak_worker.py '{"url": ..., "protocol": "h2", "runtime": "trio", ...}'
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import statistics
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import soak_content

# httplib is a drop-in for httpx's API, so `--client httpx` runs the same case through httpx: a
# reference that tells server-side losses (both clients fail) from our own.
if json.loads(sys.argv[1]).get("client") == "httpx":
    import httpx as httplib
else:
    import httplib  # type: ignore[no-redef]

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def open_fds() -> dict[str, str]:
    """fd number -> what it points at (socket:[inode], a file, anon_inode:[eventpoll])."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd is gone by now
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return out


def fd_report(base: dict[str, str]) -> dict[str, Any]:
    """What is open now that was not at the start. Sockets, pipes and epoll/event fds are what a
    client holds, so one left over is a leak; anything else is listed only (uvloop's libuv opens
    /dev/null once per loop, lazily, as its spare fd for running out of descriptors)."""
    end = open_fds()
    new = sorted(target for fd, target in end.items() if base.get(fd) != target)
    leaked = [t for t in new if t.startswith(("socket:", "pipe:", "anon_inode:"))]
    return {
        "fd_base": len(base),
        "fd_end": len(end),
        "fd_leaked": leaked,
        "fd_other": [t for t in new if t not in leaked],
    }


def describe(exc: BaseException) -> str:
    """The exception as the user sees it: its full class path and message."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}: {exc}"


class Progress:
    """Counts finished requests (from threads or tasks alike), announces reload points and
    samples RSS every 1/40 of the run. Flat memory means the peak of the last quarter is not
    above the peak of the second (the first is warm-up: pools, buffers and caches filling)."""

    def __init__(self, total: int, reloads: int) -> None:
        self.total = total
        self.done = 0
        self.failures: Counter[str] = Counter()
        self.tracebacks: dict[str, str] = {}
        self.by_kind: Counter[str] = Counter()
        self.sample_every = max(1, total // 40)
        self.samples: list[tuple[int, int]] = []  # (requests done, RSS)
        # Reload points spread over the run after warm-up, e.g. 2 reloads at 1/2 and 3/4.
        self.reload_at = sorted(
            {total // 4 + (i + 1) * (total * 3 // 4) // (reloads + 1) for i in range(reloads)}
        )
        self.lock = threading.Lock()

    def first_traceback(self, problem: str, exc: BaseException) -> None:
        """Keeps where each distinct failure was raised, once (the orchestrator's
        --tracebacks prints them), with its chain of causes."""
        if problem not in self.tracebacks:
            self.tracebacks[problem] = "".join(traceback.format_exception(exc)[-40:])

    def record(self, kind: str, problem: str | None) -> None:
        with self.lock:
            self.done += 1
            self.by_kind[kind] += 1
            if problem is not None:
                self.failures[problem] += 1
            done = self.done
        if done % self.sample_every == 0:
            self.samples.append((done, rss_bytes()))
        if done in self.reload_at:
            print("reload", flush=True)

    def rss_levels(self) -> tuple[int, int]:
        """The median RSS over the second quarter of the run and over the last quarter: a leak
        raises it, while a burst of a few samples does not (when a reload cuts the responses
        of a whole HTTP/2 connection, they are all fetched again at once and their bodies
        are in memory together for a moment)."""
        q = self.total / 4
        warm = [rss for done, rss in self.samples if q < done <= 2 * q]
        end = [rss for done, rss in self.samples if done > 3 * q]
        return int(statistics.median(warm or [0])), int(statistics.median(end or [0]))


def client_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    protocol = spec["protocol"]
    kwargs: dict[str, Any] = {
        "base_url": spec["url"],
        "verify": spec["ca_file"],
        "timeout": httplib.Timeout(spec["timeout"]),
        "limits": httplib.Limits(
            max_connections=spec["concurrency"], max_keepalive_connections=spec["concurrency"]
        ),
        "trust_env": False,
    }
    if spec.get("retries") and spec["client"] == "httplib":
        kwargs["retries"] = spec["retries"]
    if protocol == "h2":
        kwargs["http2"] = True
    elif protocol == "h2c":
        kwargs["http1"], kwargs["http2"] = False, True
    return kwargs


def expected_version(protocol: str) -> str:
    return "HTTP/1.1" if protocol == "h1" else "HTTP/2"


def request_for(index: int, uploads: bool) -> tuple[str, str, str, dict[str, Any]]:
    """The `index`-th request of a case: its kind, method, path and request arguments."""
    kind, path, headers = soak_content.plan(index, uploads)
    if kind in soak_content.UPLOAD_KINDS:
        return kind, "POST", path, {"content": soak_content.UPLOAD_BODY, "headers": headers}
    return kind, "GET", path, {"headers": headers}


def verdict(kind: str, r: Any, want: str, meta: dict[str, Any]) -> str | None:
    """What is wrong with a response (its body, status or protocol), or None."""
    problem = soak_content.check(kind, r.status_code, dict(r.headers), r.content, meta)
    if problem is None and r.http_version != want:
        problem = f"spoke {r.http_version}, expected {want}"
    return problem


def failure(progress: Progress, kind: str, exc: BaseException) -> str:
    """A failed request's problem text; its first traceback is kept for --tracebacks."""
    problem = f"{kind}: {describe(exc)}"
    progress.first_traceback(problem, exc)
    return problem


def run_threads(spec: dict[str, Any], progress: Progress, meta: dict[str, Any]) -> dict[str, Any]:
    base = open_fds()
    client = httplib.Client(**client_kwargs(spec))
    counter = iter(range(progress.total))
    take = threading.Lock()
    want = expected_version(spec["protocol"])

    def work() -> None:
        while True:
            with take:
                index = next(counter, None)
            if index is None:
                return
            kind, method, path, kwargs = request_for(index, spec["upload"])
            try:
                problem = verdict(kind, client.request(method, path, **kwargs), want, meta)
            except Exception as exc:  # every failure is counted by type and message
                problem = failure(progress, kind, exc)
            progress.record(kind, problem)

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(spec["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    client.close()
    gc.collect()
    return {"elapsed": elapsed, **fd_report(base)}


async def run_async(
    spec: dict[str, Any], progress: Progress, meta: dict[str, Any], spawn: Any
) -> dict[str, Any]:
    base = open_fds()
    client = httplib.AsyncClient(**client_kwargs(spec))
    counter = iter(range(progress.total))
    want = expected_version(spec["protocol"])

    async def work() -> None:
        # No lock needed: tasks take indices between awaits, on one thread.
        for index in counter:
            kind, method, path, kwargs = request_for(index, spec["upload"])
            try:
                problem = verdict(kind, await client.request(method, path, **kwargs), want, meta)
            except Exception as exc:  # every failure is counted by type and message
                problem = failure(progress, kind, exc)
            progress.record(kind, problem)

    start = time.perf_counter()
    await spawn(work, spec["concurrency"])
    elapsed = time.perf_counter() - start
    await client.aclose()
    gc.collect()
    return {"elapsed": elapsed, **fd_report(base)}


def main() -> None:
    spec = json.loads(sys.argv[1])
    meta = json.loads(Path(spec["meta"]).read_text())
    progress = Progress(spec["requests"], spec["reloads"])
    runtime = spec["runtime"]
    if runtime == "threads":
        out = run_threads(spec, progress, meta)
    elif runtime in ("asyncio", "uvloop"):
        import asyncio

        async def spawn(fn: Any, n: int) -> None:
            await asyncio.gather(*(fn() for _ in range(n)))

        if runtime == "uvloop":
            import uvloop

            out = uvloop.run(run_async(spec, progress, meta, spawn))
        else:
            out = asyncio.run(run_async(spec, progress, meta, spawn))
    elif runtime == "trio":
        import trio

        async def spawn(fn: Any, n: int) -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(n):
                    nursery.start_soon(fn)

        out = trio.run(run_async, spec, progress, meta, spawn)
    else:
        raise SystemExit(f"unknown runtime {runtime!r}")
    out.update(
        requests=progress.done,
        failures=dict(progress.failures.most_common()),
        tracebacks=progress.tracebacks,
        kinds=dict(progress.by_kind),
        rss_warm=progress.rss_levels()[0],
        rss_end=progress.rss_levels()[1],
    )
    print("result " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
