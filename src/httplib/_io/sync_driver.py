"""The blocking driver behind `HTTPTransport`: performs the engine's effects on blocking sockets.

It decides nothing (`_core/engine.py` does): `run` sends each effect's result back into the
flow, or throws its error in (`KeyboardInterrupt` included), so the flow releases what it holds.
Threads share one engine; its runtime lends a `threading.Lock`, `threading.Event` wakers and
`time.monotonic`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .._config import Limits
from .._core.effects import CHUNKS, PROBE_IDLE_AFTER, Effect, Flow, Runtime
from .._core.engine import Engine
from .._core.plan import ConnectionConfig
from .._models import Request, Response
from .streams import SyncResponseStream, arrived_response, response_from, with_alpn
from .sync_backend import SyncBackend, SyncStream

__all__ = ["SyncDriver", "run"]

_BACKEND = SyncBackend()


def _no_close() -> None:
    return None


def _send_file(effect: Effect) -> int | None:
    """SEND_FILE: a body that is a regular file goes by the kernel over a plain socket. The
    bytes the file offered, as its read loop would have read them: those sent, and any past
    the declared `count` (which the state refuses, as it refuses a longer read). None when
    the stream or the body cannot, with nothing sent."""
    stream, body, count, timeout = effect[1], effect[2], effect[3], effect[4]
    if not isinstance(stream, SyncStream) or not stream.sends_files(timeout):
        return None
    file_region = getattr(body, "file_region", None)
    region = None if file_region is None else file_region()
    if region is None:
        return None
    file, offset = region
    sent = stream.send_file(file, offset, count, timeout)
    if sent < count:
        return sent  # (the file ended first: too little, as the state will say)
    try:
        beyond: int = os.fstat(file.fileno()).st_size - offset - sent
    except OSError:
        beyond = 0
    return sent + max(beyond, 0)


# One performer per effect kind, in `_core/effects.py` order.
PERFORM: tuple[Callable[[Effect], Any], ...] = (
    lambda e: _BACKEND.connect(e[1], e[2]),  # CONNECT
    lambda e: with_alpn(e[1].start_tls(e[2], e[3], e[4])),  # START_TLS
    lambda e: e[1].write(e[2], e[3]),  # WRITE
    lambda e: e[1].write(e[2], e[3]),  # WRITE_SHIELDED (a thread is not cancelled)
    lambda e: e[1].read(e[2], e[3]),  # READ
    lambda e: e[1].is_readable(),  # PROBE
    lambda e: e[1].close(),  # CLOSE
    lambda e: e[1].wait(e[2]),  # WAIT (a threading.Event)
    lambda e: time.sleep(e[1]),  # SLEEP
    lambda e: iter(e[1]),  # BODY_ITER
    lambda e: next(e[1], None),  # BODY_NEXT
    lambda e: getattr(e[1], "close", _no_close)(),  # BODY_CLOSE (a generator's close)
    lambda e: e[2].feed(e[1].read(e[3], e[4])),  # READ_INTO
    _send_file,  # SEND_FILE
)


def run(flow: Flow) -> Any:
    """Perform `flow`'s effects until it returns; its result, or the error it lets through.
    A body's flow that hands out chunks returns them instead (`CHUNKS`); run it again for
    more."""
    # (`FlowStepper`'s loop written out: it steps every effect of every request, and the method
    # calls measured ~0.3 µs per request in bench/micro/hot_path.py --profile)
    send, value, error = flow.send, None, None
    while True:
        try:
            effect = send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        kind = effect[0]
        if kind == CHUNKS:
            return effect[1]
        try:
            value, error = PERFORM[kind](effect), None
        except BaseException as exc:
            value, error = None, exc


class SyncDriver:
    """The engine of one `HTTPTransport`, run on the calling thread."""

    def __init__(self, config: ConnectionConfig, limits: Limits) -> None:
        runtime = Runtime(
            lock=threading.Lock(),
            new_waker=threading.Event,
            wake=threading.Event.set,
            clock=time.monotonic,
            probe_after=PROBE_IDLE_AFTER,
            interruptible_writes=True,
            sends_files=True,
        )
        self.engine = Engine(config, limits, runtime)

    def handle(self, request: Request, whole: bool = False) -> Response:
        """Send `request`; the response body is read from the socket as it is iterated.
        `whole`: the caller reads it whole at once (see `Engine.send`)."""
        parts = run(self.engine.send(request, None, whole))
        body = parts[3]
        if isinstance(body, bytes):
            return arrived_response(parts, body)
        return response_from(parts, SyncResponseStream(run, body))

    def close(self) -> None:
        flow = self.engine.close()
        if flow is not None:
            run(flow)
