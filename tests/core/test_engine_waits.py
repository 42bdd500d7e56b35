"""The engine's pool waits, driven by hand: every effect answered here, time from a fake clock.

A request woken onto an idle connection that the server closed meanwhile asks the pool again;
if the pool is full again it queues again, and its pool timeout bounds both waits together.
"""

from __future__ import annotations

from typing import Any

from httplib._config import Limits
from httplib._core.effects import CHUNKS, CLOSE, CONNECT, READ, READ_INTO, WAIT, WRITE, Runtime
from httplib._core.engine import Engine
from httplib._core.plan import ConnectionConfig
from httplib._models import Request
from support.stepping import thread_runtime

POOL_TIMEOUT = 5.0
TIMEOUTS = {"timeout": {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": POOL_TIMEOUT}}
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Stream:
    """A connection's stand-in: the engine only hands it back in effects."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Stream {self.name}>"


class World:
    """A fake clock, and which streams the server closed while they idled."""

    def __init__(self) -> None:
        self.now = 100.0
        self.closed: set[Stream] = set()
        self.opened = 0

    def runtime(self) -> Runtime:
        return thread_runtime(clock=lambda: self.now, peek=lambda stream: stream in self.closed)

    def until_wait(self, flow: Any, value: Any = None) -> Any:
        """Answer `flow`'s effects (connect, write, read, close) until it waits for a slot
        (the WAIT effect) or returns (StopIteration's value)."""
        for _ in range(20):
            try:
                effect = flow.send(value)
            except StopIteration as stop:
                return stop.value
            kind = effect[0]
            if kind in (WAIT, CHUNKS):  # (a body's flow hands its chunks out: effect[1])
                return effect
            if kind == CONNECT:
                self.opened += 1
                value = Stream(f"conn{self.opened}")
            elif kind == READ:
                value = RESPONSE
            elif kind == READ_INTO:  # (the exchange is fed what READ would return)
                effect[2].feed(RESPONSE)
                value = None
            elif kind in (WRITE, CLOSE):
                value = None
            else:
                raise AssertionError(f"unexpected effect {effect!r}")
        raise AssertionError("the flow did not settle")


def get(engine: Engine) -> Any:
    return engine.send(Request("GET", "http://origin.test/", extensions=TIMEOUTS))


def test_a_second_wait_gets_what_is_left_of_the_pool_timeout() -> None:
    world = World()
    engine = Engine(ConnectionConfig(None), Limits(max_connections=1), world.runtime())
    first = get(engine)
    status, _, extensions, body = world.until_wait(first)
    assert status == 200
    stream = extensions["network_stream"]

    waiting = get(engine)
    effect = world.until_wait(waiting)
    assert effect[0] == WAIT
    assert effect[2] == POOL_TIMEOUT

    # Three seconds on, the first response ends and its connection goes to the waiter; the
    # server closes it while it idles, and a third request queues meanwhile.
    world.now += 3.0
    body_flow = body.chunks_flow()
    assert world.until_wait(body_flow) == (CHUNKS, [b"ok"])
    assert world.until_wait(body_flow) is None
    world.closed.add(stream)
    third = get(engine)
    assert world.until_wait(third)[0] == WAIT

    # The waiter finds its connection closed and asks the pool again, which hands the freed
    # slot to the third request: the waiter queues again, for the two seconds left.
    effect = world.until_wait(waiting, True)
    assert effect[0] == WAIT
    assert effect[2] == POOL_TIMEOUT - 3.0
