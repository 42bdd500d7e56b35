"""Run one (client, scenario) pair in this process and print one JSON result line.

Invoked by run.py under the client's own venv, pinned to the client core, so imports, RSS and
CPU time belong to that client alone. Wrong data raises; a missing capability is reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters import load
from adapters.base import Adapter, ClientConfig, NotYet, Sink, Unavailable, Unsupported
from harness import (
    AsyncOp,
    SyncOp,
    Window,
    WrongResponse,
    run_async,
    run_bursts,
    run_scale,
    run_sync,
    run_threads,
)
from scenarios import BY_ID, NDJSON_LINE, SMOKE_SCALE, Scenario

UPLOAD_PIECE = 64 * 1024  # a generator upload's piece size


@dataclass
class Job:
    client: str
    scenario: Scenario
    url: str
    ca_file: str
    size: int  # expected response body length
    sha256: str  # expected body checksum ("" for uploads)
    upload: bytes
    warmup: float
    duration: float
    create_count: int
    verify_all: bool  # smoke mode: checksum every response, not only the first
    proxy: str | None  # the forward proxy's URL for a proxied scenario

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Job:
        sc = BY_ID[raw["scenario"]]
        if sc.op.startswith("post"):
            size, sha = len(str(sc.upload)), ""
        else:
            meta = raw["payloads"][sc.path.lstrip("/")]
            size, sha = meta["size"], meta["sha256"]
        return cls(
            raw["client"],
            sc,
            raw["urls"][sc.scheme] + sc.path,
            raw["ca_file"],
            size,
            sha,
            random.Random("httplib-bench-upload").randbytes(sc.upload),
            raw["warmup"],
            raw["duration"],
            raw["create_count"],
            raw["smoke"],
            raw["urls"]["proxy"] if sc.proxy else None,
        )


class Check:
    """Validates every response: status 200, exact length, and a checksum when asked."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.full_left = 1 << 62 if job.verify_all else 1

    def _want_full(self) -> bool:
        self.full_left -= 1
        return self.full_left >= 0

    def body(self, status: int, body: bytes) -> int:
        job = self.job
        if status != 200 or len(body) != job.size:
            raise WrongResponse(f"{job.url}: status {status}, {len(body)} bytes, want {job.size}")
        if self._want_full():
            if job.upload and bytes(body) != str(len(job.upload)).encode():
                raise WrongResponse(f"{job.url}: upload sink saw {bytes(body)!r}")
            if job.sha256 and hashlib.sha256(body).hexdigest() != job.sha256:
                raise WrongResponse(f"{job.url}: body checksum mismatch")
        return len(job.upload) or len(body)

    def lines(self, status: int, count: int, chars: int) -> int:
        """An NDJSON body read line by line: every line, each without its newline."""
        want = self.job.size // NDJSON_LINE
        if status != 200 or count != want or chars != want * (NDJSON_LINE - 1):
            raise WrongResponse(
                f"{self.job.url}: status {status}, {count} lines of {chars} characters, "
                f"want {want} of {want * (NDJSON_LINE - 1)}"
            )
        return self.job.size

    def sink(self) -> tuple[Sink, Any]:
        """A sink for streamed chunks and the function that validates the total."""
        digest = hashlib.sha256() if self._want_full() else None
        count = [0]

        def sink(chunk: bytes) -> None:
            count[0] += len(chunk)
            if digest is not None:
                digest.update(chunk)

        def finish(status: int) -> int:
            if status != 200 or count[0] != self.job.size:
                raise WrongResponse(f"{self.job.url}: status {status}, streamed {count[0]} bytes")
            if digest is not None and digest.hexdigest() != self.job.sha256:
                raise WrongResponse(f"{self.job.url}: streamed body checksum mismatch")
            return count[0]

        return sink, finish


class UploadSource:
    """The upload bytes as a file on disk and as 64 KiB pieces (made once, before timing)."""

    def __init__(self, body: bytes) -> None:
        fd, self.path = tempfile.mkstemp(prefix="bench-upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        self.pieces = [body[i : i + UPLOAD_PIECE] for i in range(0, len(body), UPLOAD_PIECE)]
        self.length = len(body)

    def close(self) -> None:
        os.unlink(self.path)


def _unsupported(client: Any, method: str) -> None:
    if not hasattr(client, method):
        raise Unsupported(f"no {method.replace('_', ' ')} in this client")


def sync_op(client: Any, job: Job, check: Check, source: UploadSource | None = None) -> SyncOp:
    url, op = job.url, job.scenario.op
    if op == "lines":
        _unsupported(client, "lines")
        return lambda: check.lines(*client.lines(url))
    if op == "post_file":
        assert source is not None
        _unsupported(client, "post_file")

        def post_file() -> int:
            with open(source.path, "rb") as f:
                return check.body(*client.post_file(url, f, source.length))

        return post_file
    if op == "post_gen":
        assert source is not None
        _unsupported(client, "post_gen")
        pieces = source.pieces
        return lambda: check.body(*client.post_gen(url, lambda: iter(pieces), source.length))
    if op == "stream":

        def stream() -> int:
            sink, finish = check.sink()
            return int(finish(client.stream(url, sink)))

        return stream
    if op == "post":
        body = job.upload
        return lambda: check.body(*client.post(url, body))
    return lambda: check.body(*client.get(url))


def async_op(client: Any, job: Job, check: Check, source: UploadSource | None = None) -> AsyncOp:
    url, op = job.url, job.scenario.op
    if op == "lines":
        _unsupported(client, "lines")

        async def lines() -> int:
            return check.lines(*(await client.lines(url)))

        return lines
    if op in ("post_file", "post_gen"):
        assert source is not None
        _unsupported(client, op)
        send = getattr(client, op)
        pieces = source.pieces

        async def agen() -> Any:
            for piece in pieces:
                yield piece

        async def post_upload() -> int:
            if op == "post_gen":
                return check.body(*(await send(url, agen, source.length)))
            with open(source.path, "rb") as f:
                return check.body(*(await send(url, f, source.length)))

        return post_upload
    if op == "stream":

        async def stream() -> int:
            sink, finish = check.sink()
            return int(finish(await client.stream(url, sink)))

        return stream
    if op == "post":
        body = job.upload

        async def post() -> int:
            return check.body(*(await client.post(url, body)))

        return post

    async def get() -> int:
        return check.body(*(await client.get(url)))

    return get


def _config(job: Job) -> ClientConfig:
    sc = job.scenario
    return ClientConfig(
        job.ca_file,
        http2=sc.http2,
        http1=sc.scheme != "h2c",
        max_connections=sc.max_connections,
        proxy=job.proxy,
        no_timeouts=sc.mode == "scale",
    )


def run_sync_job(adapter: Adapter, job: Job) -> Window:
    sc = job.scenario
    if sc.mode == "threads" and (reason := adapter.thread_safe()):
        raise Unsupported(reason)
    client = adapter.open_sync(_config(job))
    source = UploadSource(job.upload) if sc.op in ("post_file", "post_gen") else None
    try:
        if sc.http2 and (version := client.http_version(job.url)) != "HTTP/2":
            raise adapter.gap(f"negotiated {version}, not HTTP/2")
        op = sync_op(client, job, Check(job), source)
        if sc.mode == "threads":
            return run_threads(op, sc.concurrency, job.warmup, job.duration)
        return run_sync(op, job.warmup, job.duration)
    finally:
        client.close()
        if source is not None:
            source.close()


async def run_async_job(adapter: Adapter, job: Job) -> Window:
    sc = job.scenario
    client = await adapter.open_async(_config(job))
    source = UploadSource(job.upload) if sc.op in ("post_file", "post_gen") else None
    try:
        if sc.http2 and (version := await client.http_version(job.url)) != "HTTP/2":
            raise adapter.gap(f"negotiated {version}, not HTTP/2")
        op = async_op(client, job, Check(job), source)
        if sc.mode == "burst":
            return await run_bursts(op, sc.concurrency, job.warmup, job.duration)
        if sc.mode == "scale":
            return await run_scale(op, SMOKE_SCALE if job.verify_all else sc.concurrency)
        return await run_async(op, sc.concurrency, job.warmup, job.duration)
    finally:
        await client.close()
        if source is not None:
            source.close()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """VmHWM: this process image's peak RSS (ru_maxrss would include the forking parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_create_job(adapter: Adapter, job: Job) -> tuple[Window, float]:
    """Create and close `create_count` clients; returns the window and the RSS growth (MiB).

    Async-only clients are built inside one running event loop, as a user would.
    """
    if adapter.no_sync is None:
        return _create_loop(adapter.create_close, job.create_count)

    async def in_loop() -> tuple[Window, float]:
        await adapter.acreate_close()  # surface "unsupported" before timing anything
        return await _acreate_loop(adapter, job.create_count)

    return asyncio.run(in_loop())


def _create_loop(create: Callable[[], None], count: int) -> tuple[Window, float]:
    for _ in range(10):
        create()  # warm-up: lazy imports and caches
    before, win = rss_mib(), Window(ops=count)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        create()
        win.latencies.append(time.perf_counter() - start)
    win.elapsed, win.cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return win, rss_mib() - before


async def _acreate_loop(adapter: Adapter, count: int) -> tuple[Window, float]:
    for _ in range(10):
        await adapter.acreate_close()
    before, win = rss_mib(), Window(ops=count)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        await adapter.acreate_close()
        win.latencies.append(time.perf_counter() - start)
    win.elapsed, win.cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return win, rss_mib() - before


def measure(adapter: Adapter, job: Job) -> dict[str, Any]:
    sc = job.scenario
    if sc.mode == "create":
        win, growth = run_create_job(adapter, job)
        return {**win.summary(), "note": f"RSS +{growth:.1f} MiB after {job.create_count}"}
    if sc.mode in ("sync", "threads"):
        win = run_sync_job(adapter, job)
        return win.summary()
    with asyncio.Runner(loop_factory=adapter.loop_factory) as runner:
        win = runner.run(run_async_job(adapter, job))
    if sc.mode == "scale":
        n = win.ops
        note = f"{n:,} in flight in {win.elapsed:.2f} s"
        return {**win.summary(), "note": note}
    if sc.mode == "burst":
        failed = sum(win.errors.values())
        out = win.summary(requests_per_op=sc.concurrency)
        out["requests"] = requests = win.ops * sc.concurrency - failed
        out["req_per_s"] = requests / win.elapsed
        kinds = ", ".join(f"{n} {name}" for name, n in win.errors.items())
        out["note"] = f"{failed} failed ({kinds})" if failed else "no pool timeouts"
        return out
    return win.summary()


def main() -> int:
    job = Job.from_json(json.loads(sys.argv[1]))
    result: dict[str, Any]
    try:
        adapter = load(job.client)
        result = {"status": "ok", "note": "", **measure(adapter, job)}
    except NotYet as exc:
        result = {"status": "not yet", "note": str(exc)}
    except NotImplementedError as exc:
        # Only httplib, still being built, may answer "not implemented" without failing.
        status = "not yet" if job.client.startswith("httplib") else "error"
        result = {"status": status, "note": str(exc) or "NotImplementedError"}
    except Unsupported as exc:
        result = {"status": "unsupported", "note": str(exc)}
    except Unavailable as exc:
        result = {"status": "unavailable", "note": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        result = {"status": "error", "note": f"{type(exc).__name__}: {exc}"[:300]}
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))
    return 1 if result["status"] == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
