"""Feeding `Http11State` as a client would, shared by the parser's tests and its fuzz tests:
a fresh state after a request, and responses fed whole or a byte at a time (h11's way of
proving a parser does not depend on how reads split the bytes)."""

from __future__ import annotations

from httplib._core.events import DataReceived, Event
from httplib._core.http11 import Http11State

HOST = [(b"Host", b"example.com")]


def new_state(method: bytes = b"GET", headers: list[tuple[bytes, bytes]] = HOST) -> Http11State:
    """A state that has sent a bodiless `method` request with `headers`."""
    state = Http11State()
    state.send_request(method, b"/", headers)
    state.end_body()
    return state


def merged(events: list[Event]) -> list[Event]:
    """Join adjacent body pieces: how a body is split across reads is not behaviour."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, DataReceived) and out and isinstance(out[-1], DataReceived):
            out[-1] = DataReceived(out[-1].data + event.data)
        elif not (isinstance(event, DataReceived) and not event.data):
            out.append(event)
    return out


def feed(state: Http11State, data: bytes, mode: str) -> list[Event]:
    """`data` fed in one piece ("whole") or a byte at a time ("bytewise"); events merged."""
    if mode == "whole":
        return merged(state.receive_data(data))
    events: list[Event] = []
    for i in range(len(data)):
        events += state.receive_data(data[i : i + 1])
    return merged(events)
