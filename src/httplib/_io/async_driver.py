"""The async driver behind `AsyncHTTPTransport`: performs the engine's effects on asyncio or trio.

It decides nothing (`_core/engine.py` does): `run` awaits each effect through the backend and
sends its result back into the flow, or throws its error in (cancellation included), so the
flow releases what it holds. The runtime is asyncio (any conforming loop, uvloop included)
unless the first request runs under trio (checked without sniffio: trio must already be imported
and know the current task); the choice is kept per event loop: a request from another loop (an
`asyncio.run` after another) starts a new engine there (`AsyncDriver._leave_loop`), and a loop
that shuts down closes its engine's connections (`_closes_with_its_loop`). One event
loop drives the engine, so its runtime lock is never contended. Clean-up a cancelled task still
owes (closing a socket, a connection-level HTTP/2 write) runs shielded: trio cancels every await
in a cancelled scope.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from types import CoroutineType
from typing import Any

from .._config import Limits
from .._core.admission import Admission, Waiter, admission_for
from .._core.effects import CHUNKS, WAIT, Effect, Flow
from .._core.engine import Engine, ResponseParts
from .._core.plan import ConnectionConfig
from .._models import Request, Response
from .streams import (
    AsyncResponseStream,
    AsyncRuntimeBackend,
    arrived_response,
    read_into,
    response_from,
    with_alpn,
)

__all__ = ["AsyncDriver", "running_under_trio"]

# A coroutine to await, or the effect's result when it needed no waiting.
Performer = Callable[[Effect], Any]


class _NoFuture:
    """The future type of a backend that has none: no result is of this type."""


def running_under_trio() -> bool:
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def _no_loop() -> None:
    return None


def _trio_run() -> object:
    """The current trio run (its token), or None outside one."""
    try:
        return sys.modules["trio"].lowlevel.current_trio_token()
    except RuntimeError:
        return None


def _has_ended(loop: object) -> bool:
    """Whether `loop` (an asyncio loop, or a trio run's token) is over: closed, or finished."""
    is_closed = getattr(loop, "is_closed", None)
    if is_closed is not None:
        return bool(is_closed())
    trio = sys.modules.get("trio")
    if trio is None or not isinstance(loop, trio.lowlevel.TrioToken):
        return False
    try:
        loop.run_sync_soon(_no_loop)  # (a no-op in a run still going)
    except trio.RunFinishedError:
        return True
    return False


def _performers(backend: AsyncRuntimeBackend) -> tuple[Performer, ...]:
    """One performer per effect kind, in `_core/effects.py` order. A performer returns a
    coroutine to await, or its result at once when nothing needs waiting for (a probe, a
    write the transport buffers): no coroutine is made for those."""

    async def start_tls(e: Effect) -> Any:
        return with_alpn(await e[1].start_tls(e[2], e[3], e[4]))

    async def write_shielded(e: Effect) -> None:
        with backend.shield():
            await e[1].write(e[2], e[3])

    async def body_next(e: Effect) -> Any:
        return await anext(e[1], None)

    async def body_close(e: Effect) -> None:
        aclose = getattr(e[1], "aclose", None)
        if aclose is not None:
            with backend.shield():
                await aclose()

    return (
        lambda e: backend.connect(e[1], e[2]),  # CONNECT
        start_tls,  # START_TLS
        getattr(backend, "write_effect", None) or (lambda e: e[1].write(e[2], e[3])),  # WRITE
        write_shielded,  # WRITE_SHIELDED
        # READ: data, or a future the backend resolves with it, where it can; else a coroutine
        getattr(backend, "read_effect", None) or (lambda e: e[1].read(e[2], e[3])),
        lambda e: e[1].is_readable(),  # PROBE (answered at once)
        lambda e: e[1].aclose(),  # CLOSE (backends close shielded)
        # WAIT: the waker itself to await where the backend times it (asyncio), else a coroutine
        getattr(backend, "wait_effect", None) or (lambda e: backend.wait(e[1], e[2])),
        lambda e: backend.sleep(e[1]),  # SLEEP
        lambda e: e[1].__aiter__(),  # BODY_ITER (at once)
        body_next,  # BODY_NEXT
        body_close,  # BODY_CLOSE
        # READ_INTO: parsed where the data arrives, where the backend can (asyncio's protocol)
        getattr(backend, "read_into_effect", None) or (lambda e: read_into(*e[1:])),
        # SEND_FILE: never asked (the runtime lends no `sends_files`): the body is iterated
        lambda e: None,
    )


async def _closes_with_its_loop(
    driver_ref: weakref.ref[AsyncDriver], engine: Engine
) -> AsyncGenerator[None, None]:
    """Held by the driver while `engine` serves one event loop, which finalizes it as it shuts
    down (`asyncio.run`, `uvloop.run` and pytest-asyncio call `shutdown_asyncgens`; trio
    finalizes at the end of a run) while it can still do I/O: the engine's connections are
    then closed on their own loop, rather than dropped on the next one to warn when collected.
    A loop closed without that step finalizes nothing (asyncio's hook skips a closed loop)."""
    try:
        yield
    finally:
        driver = driver_ref()
        # (Not when the driver has moved on: its performers are then another loop's.)
        if driver is not None and driver.engine is engine:
            flow = engine.close()
            if flow is not None:
                await driver.run(flow)


def _finish_closer(closers: list[AsyncGenerator[None, None]]) -> None:
    """Run the driver's loop closer to its end at once, without I/O: its `finally` finds the
    driver collected, or holding another engine. A closer is then never collected unfinished,
    which trio reports with a ResourceWarning for each async generator of its run."""
    if not closers:
        return
    ending = closers.pop().aclose()
    try:
        ending.send(None)
    except (StopIteration, RuntimeError):  # (done; or running: its loop is finishing it)
        return
    ending.close()  # (it would have waited for I/O, which its guards rule out)


class AsyncDriver:
    """The engine of one `AsyncHTTPTransport`, run by the calling task."""

    def __init__(self, config: ConnectionConfig, limits: Limits) -> None:
        self._config = config
        self._limits = limits
        self.engine: Engine | None = None
        self._perform: tuple[Performer, ...] = ()
        # What a performer may return for `run` to await besides a coroutine: the backend's
        # future (a waker it times itself), when it has one.
        self._future_type: type[Any] = _NoFuture
        self._respond = self._response
        # The gate in front of the pool's queue (`AsyncClient.send` waits at it; issue 15).
        self.admission: Admission | None = admission_for(limits.max_connections)
        # The event loop (asyncio's, or trio's run) the engine's connections belong to, and
        # how to ask which one the caller runs on (one C call under asyncio).
        self._loop: object = None
        self._current_loop: Callable[[], object] = _no_loop
        # The closer of the engine's loop (`_closes_with_its_loop`), held in a list that a
        # finalizer shares: when the driver is collected, the closer is finished first (the
        # finalizer is called before the collector finalizes the garbage, the closer included).
        self._closers: list[AsyncGenerator[None, None]] = []
        weakref.finalize(self, _finish_closer, self._closers).atexit = False

    def _start(self) -> Engine:
        """Pick the runtime for the caller's loop: trio when called from trio, else asyncio.
        Called on first use, and again when the caller runs on another loop than the one the
        engine's connections belong to (see `_leave_loop`)."""
        if self.engine is not None:
            self._leave_loop(self.engine)
        backend: AsyncRuntimeBackend
        if running_under_trio():
            from .trio_backend import TrioBackend

            backend = TrioBackend()
            self._current_loop = _trio_run
        else:
            import asyncio

            from .asyncio_backend import AsyncioBackend

            backend = AsyncioBackend()
            self._current_loop = asyncio._get_running_loop
        self._loop = self._current_loop()
        self._perform = _performers(backend)
        self._future_type = getattr(backend, "future_type", _NoFuture)
        self.engine = engine = Engine(self._config, self._limits, backend.runtime())
        engine.admission = self.admission
        # Started here (its first step runs to the `yield` at once): the loop's first-iteration
        # hook registers it for the loop's shutdown.
        closer = _closes_with_its_loop(weakref.ref(self), engine)
        try:
            closer.asend(None).send(None)
        except StopIteration:
            pass
        self._closers.append(closer)
        return engine

    async def run(self, flow: Flow, finish: Callable[[Any], Any] | None = None) -> Any:
        """Perform `flow`'s effects until it returns; its result (passed through `finish`
        when given), or the error it lets through. A body's flow that hands out chunks
        returns them instead (`CHUNKS`); run it again for more."""
        perform, future_type = self._perform, self._future_type
        send, value, error = flow.send, None, None
        while True:
            try:
                effect = send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value if finish is None else finish(stop.value)
            kind = effect[0]
            if kind == CHUNKS:
                return effect[1]
            try:
                value = perform[kind](effect)
                if value is not None:  # (a write the transport buffered answers None at once)
                    if type(value) is future_type:
                        value = await value
                    elif type(value) is CoroutineType:
                        value = await value
                        if type(value) is future_type:  # (a wrapping coroutine returned it)
                            value = await value
                error = None
            except BaseException as exc:
                value, error = None, exc

    def _engine(self) -> Engine:
        """The engine for the caller's event loop: this loop's, else a new one (`_start`)."""
        engine = self.engine
        if engine is None or self._current_loop() is not self._loop:
            engine = self._start()
        return engine

    def _leave_loop(self, engine: Engine) -> None:
        """The caller runs on another event loop than the engine's connections (a client kept
        across `asyncio.run` calls, or pytest's loop per test): they cannot be used from here,
        so the engine is dropped with them (each socket is closed as it is collected, with
        the ResourceWarning of a connection its loop left open). Not while the old loop has
        requests in progress and still runs: a client is not shared between live loops."""
        pool = engine.pool
        busy = pool.n_waiting or pool.n_connections > pool.n_idle
        if busy and not _has_ended(self._loop):
            raise RuntimeError(
                "This AsyncClient has requests in progress on another event loop: its"
                " connections belong to the loop that opened them. Use one client per event"
                " loop, or finish with it on one loop before using it on the next."
            )
        self.engine = None
        _finish_closer(self._closers)  # (it holds the engine too)

    def handle(
        self, request: Request, queued: float | None = None, whole: bool = False
    ) -> Coroutine[Any, Any, Response]:
        """Send `request` (await the result); the response body is read from the connection
        as it is iterated. (One coroutine, `run`'s: a request waiting for a pool slot holds
        as few frames as it can.) `queued`: it holds a place at the admission gate, which it
        waited there that many seconds for; `whole`: the caller reads the body whole at once
        (see `Engine.send` for both)."""
        return self.run(self._engine().send(request, queued, whole), self._respond)

    # The admission gate's effects, for `AsyncClient.send`: it waits there before it builds
    # its request, so a queued request holds its waker and its own frame, no flow.
    def queue(self, admission: Admission) -> Waiter:
        """Queue at `admission` (which turned the request away) with a new waker."""
        return admission.join(self._engine().runtime.new_waker())

    def wait(self, waker: Any, timeout: float | None) -> Any:
        """An awaitable: True once `waker` is woken, False when `timeout` passes first (the
        engine's WAIT, performed as the runtime does: asyncio's future itself)."""
        return self._perform[WAIT]((WAIT, waker, timeout))

    def wake(self, waker: Any | None) -> None:
        """Wake what `Admission.leave` or `give_up` handed a place to (None: nobody)."""
        if waker is not None:
            assert self.engine is not None  # (a waker exists only once the engine runs)
            self.engine.runtime.wake(waker)

    def _response(self, parts: ResponseParts) -> Response:
        body = parts[3]
        if isinstance(body, bytes):
            return arrived_response(parts, body)
        return response_from(parts, AsyncResponseStream(self.run, body))

    async def aclose(self) -> None:
        """Close every connection; the transport stays usable, as httpx's does."""
        if self.engine is not None and self._current_loop() is not self._loop:
            self._leave_loop(self.engine)  # (its connections cannot be closed from here)
            return
        if self.engine is not None:
            flow = self.engine.close()
            if flow is not None:
                await self.run(flow)
