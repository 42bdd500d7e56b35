"""Events a sans-I/O protocol state reports to its shell: what the peer did.

They are plain slotted dataclasses: cheap to build (one per response head, one per body read)
and comparable in tests. Past-tense names, as ARCHITECTURE.md asks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BodyBuffer", "DataReceived", "Event", "ResponseReceived", "StreamEnded"]


@dataclass(slots=True)
class ResponseReceived:
    """A final (non-1xx) response head, or a 101 Switching Protocols head.

    `fields` are (name as received, lower-cased name, value): the form `Headers` stores, so
    the response takes the list as it is, with no second pass over it (issue 15)."""

    status_code: int
    reason: bytes
    fields: list[tuple[bytes, bytes, bytes]]
    http_version: bytes

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The fields as (name, value) pairs."""
        return [(name, value) for name, _, value in self.fields]


@dataclass(slots=True)
class DataReceived:
    """A piece of the response body, transfer framing already removed."""

    data: bytes


@dataclass(slots=True)
class StreamEnded:
    """The response body is complete; `trailers` holds any chunked trailer fields."""

    trailers: list[tuple[bytes, bytes]]


Event = ResponseReceived | DataReceived | StreamEnded


class BodyBuffer:
    """Response body chunks received and not yet handed out, and whether the body has ended.

    Shared by the HTTP/1.1 `Http11Exchange` and the HTTP/2 `ResponseProgress`, which set both
    slots.
    """

    __slots__ = ("chunks", "ended")

    chunks: list[bytes]
    ended: bool

    def take(self) -> list[bytes]:
        """Body chunks received and not yet handed out."""
        chunks = self.chunks
        self.chunks = []
        return chunks

    def take_arrived(self) -> bytes | None:
        """The chunks not yet handed out, joined, once the body has ended; else None."""
        if not self.ended:
            return None
        chunks = self.take()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
