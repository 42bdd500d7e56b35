"""Expected protocol events, written as tests read best: header fields as (name, value)."""

from __future__ import annotations

from httplib._core.events import ResponseReceived


def response_head(
    status: int, reason: bytes, pairs: list[tuple[bytes, bytes]], version: bytes
) -> ResponseReceived:
    """The `ResponseReceived` a parser reports for this head (its fields lower-cased too)."""
    return ResponseReceived(status, reason, [(n, n.lower(), v) for n, v in pairs], version)
