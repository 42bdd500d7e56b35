"""Effects: what the engine asks a runtime's driver to do, and what the driver sends back.

The engine's flows (`_core/engine.py`, `_core/h2_connection.py`) are generators that yield
effects and receive each effect's result; a failed effect is thrown into the flow at the
`yield`, so the flow releases what it holds before the error goes on. An effect is a tuple whose
first item is its kind (a small int, so a driver dispatches through a table):

    kind             arguments                                      result
    CONNECT          endpoint (`plan.Endpoint`), timeout            stream
    START_TLS        stream, ssl_context, server_hostname, timeout  (stream, ALPN protocol | None)
    WRITE            stream, data, timeout                          None
    WRITE_SHIELDED   stream, data, timeout                          None (runs even when the
                                                                    task is being cancelled)
    READ             stream, max_bytes, timeout                     bytes (b"" at EOF)
    READ_INTO        stream, parser, max_bytes, timeout             None: what READ would
                                                                    return went to
                                                                    `parser.feed` (its error
                                                                    is the effect's)
    PROBE            stream                                         whether it is readable now
                                                                    (idle: the peer closed it)
    CLOSE            stream                                         None; never raises
    WAIT             waker, timeout                                 True when woken, False when
                                                                    `timeout` passed first
    SLEEP            seconds                                        None
    BODY_ITER        request body stream                            an iterator over it
    BODY_NEXT        that iterator                                  next chunk, None at its end
    BODY_CLOSE       that iterator                                  None (closed if it can be,
                                                                    even when cancelled)
    SEND_FILE        stream, request body stream, count, timeout   the bytes the body's file
                                                                    offered (`count` sent by
                                                                    the kernel, and any more it
                                                                    holds), or None when the
                                                                    stream or the body cannot:
                                                                    nothing sent (asked only of
                                                                    a runtime that `sends_files`)

A response body's flow (`chunks_flow`) also yields `(CHUNKS, chunks)`, which is not an effect: the
driver's run returns the list of body chunks to its caller (the response stream), and the
caller's next run resumes the flow. So a streamed body is one flow, not one per read.

I/O errors arrive already mapped to httplib's exception tree (each backend maps at one place).
Wakers are made and set by the runtime's non-blocking primitives (`Runtime.new_waker`,
`Runtime.wake`); only waiting on one is an effect.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from typing import Any

__all__ = [
    "BODY_CLOSE",
    "BODY_ITER",
    "BODY_NEXT",
    "CHUNKS",
    "CLOSE",
    "CONNECT",
    "PROBE",
    "PROBE_IDLE_AFTER",
    "READ",
    "READ_INTO",
    "SEND_FILE",
    "SLEEP",
    "START_TLS",
    "WAIT",
    "WRITE",
    "WRITE_SHIELDED",
    "Effect",
    "Flow",
    "Runtime",
]

(
    CONNECT,
    START_TLS,
    WRITE,
    WRITE_SHIELDED,
    READ,
    PROBE,
    CLOSE,
    WAIT,
    SLEEP,
    BODY_ITER,
    BODY_NEXT,
    BODY_CLOSE,
    READ_INTO,
    SEND_FILE,
) = range(14)
# Not an effect (see the module docstring): body chunks handed out by a body's flow.
CHUNKS = 14

# A blocking socket (or trio's) is probed, with one select() call, on reuse only after idling
# this long: a server rarely closes a connection sooner, and a stale one is resent anyway.
PROBE_IDLE_AFTER = 1.0

Effect = tuple[Any, ...]
Flow = Generator[Effect, Any, Any]


class Runtime:
    """The non-blocking primitives a runtime lends the engine, and its clock.

    `lock` guards the pool and each HTTP/2 connection's state: a `threading.Lock` (on an event
    loop too, where it is never contended: an uncontended acquire costs less than a no-op
    context manager written in Python); a flow never yields while holding it, so it never
    blocks a loop. `new_waker()` makes what a `WAIT` effect waits on and `wake(waker)` sets it
    (from any flow). `clock()` is monotonic seconds. `probe_after`: idle seconds after which a
    reused HTTP/1.1 connection is probed for a close by the server (a `PROBE` effect).
    `peek(stream)`, where the runtime has one, answers that probe without a system call
    (asyncio's protocol state): then every reuse is checked, at no cost, and no effect is
    needed. `interruptible_writes`: an exception can land in the middle of a `WRITE_SHIELDED`
    (a KeyboardInterrupt inside a blocking `sendall`), so a connection-level write that fails
    with anything may have left half a frame behind; event loops shield those writes instead.
    `sends_files`: the runtime performs `SEND_FILE` (the blocking one); others are not asked.
    """

    __slots__ = (
        "clock",
        "interruptible_writes",
        "lock",
        "new_waker",
        "peek",
        "probe_after",
        "sends_files",
        "wake",
    )

    def __init__(
        self,
        *,
        lock: AbstractContextManager[Any],
        new_waker: Callable[[], Any],
        wake: Callable[[Any], None],
        clock: Callable[[], float],
        probe_after: float,
        peek: Callable[[Any], bool] | None = None,
        interruptible_writes: bool = False,
        sends_files: bool = False,
    ) -> None:
        self.lock = lock
        self.new_waker = new_waker
        self.wake = wake
        self.clock = clock
        self.probe_after = probe_after
        self.peek = peek
        self.interruptible_writes = interruptible_writes
        self.sends_files = sends_files
