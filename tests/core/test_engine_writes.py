"""How the engine writes a streamed request body, driven by hand: every effect answered here.

A piece larger than `WRITE_SLICE` goes out as slices of it (views, not copies), so a runtime
that buffers what the socket does not take (asyncio's transport) holds at most about one
slice for a slow server; the bytes on the wire are the same, in order, for Content-Length and
chunked framing alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from httplib._config import Limits
from httplib._core.effects import (
    BODY_CLOSE,
    BODY_ITER,
    BODY_NEXT,
    CONNECT,
    READ_INTO,
    WRITE,
)
from httplib._core.engine import Engine
from httplib._core.plan import WRITE_SLICE, ConnectionConfig
from httplib._models import Request
from support.stepping import thread_runtime

TIMEOUTS = {"timeout": {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}}
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def writes_of(request: Request) -> list[Any]:
    """Send `request` through an engine whose effects are answered here; the WRITEs' data."""
    flow = Engine(ConnectionConfig(None), Limits(), thread_runtime()).send(request)
    written: list[Any] = []
    value: Any = None
    for _ in range(200):
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            status = stop.value[0]
            break
        kind, value = effect[0], None
        if kind == CONNECT:
            value = object()
        elif kind == WRITE:
            written.append(effect[2])
        elif kind == READ_INTO:
            effect[2].feed(RESPONSE)
        elif kind == BODY_ITER:
            value = iter(effect[1])
        elif kind == BODY_NEXT:
            value = next(effect[1], None)
        elif kind != BODY_CLOSE:
            raise AssertionError(f"unexpected effect {effect!r}")
    else:
        raise AssertionError("the flow did not finish")
    assert status == 200
    return written


def pieces(*sizes: int) -> Iterator[bytes]:
    for n, size in enumerate(sizes):
        yield bytes([n]) * size


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_large_body_piece_is_written_in_slices_in_order(chunked: bool) -> None:
    sizes = (3 * WRITE_SLICE + 5, 10, WRITE_SLICE)
    headers = {} if chunked else {"Content-Length": str(sum(sizes))}
    request = Request(
        "POST",
        "http://example.test/up",
        content=pieces(*sizes),
        headers=headers,
        extensions=TIMEOUTS,
    )
    head, *body = writes_of(request)
    assert head.startswith(b"POST /up HTTP/1.1\r\n")
    assert all(len(buf) <= WRITE_SLICE for buf in body)
    sent = b"".join(bytes(buf) for buf in body)
    expected = b"".join(pieces(*sizes))
    if chunked:
        expected = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces(*sizes)) + b"0\r\n\r\n"
    assert sent == expected
    # The large piece went as views of it, not copies.
    assert sum(type(buf) is memoryview for buf in body) == 4
