"""What a server says about when to come back: `Retry-After` and rate-limit headers, parsed once
for the retry policy and the rate limiter.

Both are advice from a party we do not trust, so every parser here is total: garbage, negative
numbers and absurd values give None (ignore the hint), never an exception; callers cap what
they accept. Times are passed in (`now` is wall-clock seconds since the epoch, since the headers
speak in absolute dates or epoch seconds), so the rules are tested without a clock.

- `Retry-After` (RFC 9110 section 10.2.3): `delay-seconds` (digits only) or an HTTP-date
  (IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must accept, section
  5.6.7). A date in the past means "now" (0 s).
- Rate-limit headers, newest form first:
  `RateLimit: "name";r=<remaining>;t=<seconds to reset>` (draft-ietf-httpapi-ratelimit-headers,
  a Structured Field list), then the older draft's `RateLimit-Remaining` / `RateLimit-Reset`
  (delta seconds), then the common `X-RateLimit-Remaining` / `X-RateLimit-Reset`, whose reset
  is delta seconds or, when it is a large number, an epoch timestamp (GitHub, Twitter style).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RateLimitHint", "rate_limit_hint", "retry_after_seconds"]

_DIGITS = re.compile(r"[0-9]{1,10}")
# A reset value at or above this is an epoch timestamp, below it a delay (2001-09-09 in epoch
# seconds; no rate-limit window is 31 years long).
_EPOCH_THRESHOLD = 1_000_000_000
_SF_PARAM = re.compile(r";\s*([a-z][a-z0-9_.*-]*)\s*=\s*([0-9]{1,10})")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait that a `Retry-After` value asks for, or None when it says nothing usable."""
    if value is None:
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return float(int(text))
    if not text or text.isdigit():  # (more than ten digits: centuries, not advice)
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        # A date without a zone is not an HTTP-date (which is always GMT): ignore it.
        return None
    try:
        delay = when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, delay)


@dataclass(frozen=True)
class RateLimitHint:
    """A server's statement about the client's quota: requests left in the current window (None
    when not said) and seconds until the window resets (None when not said)."""

    remaining: int | None
    reset: float | None


def rate_limit_hint(headers: Iterable[tuple[str, str]], now: float) -> RateLimitHint | None:
    """The quota the response's rate-limit headers state, or None when they state nothing."""
    fields: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in _RATE_LIMIT_FIELDS and key not in fields:
            fields[key] = value
    if not fields:
        return None
    structured = fields.get("ratelimit")
    if structured is not None:
        hint = _structured(structured)
        if hint is not None:
            return hint
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = _count(fields.get(prefix + "remaining"))
        reset = _reset(fields.get(prefix + "reset"), now)
        if remaining is not None or reset is not None:
            return RateLimitHint(remaining, reset)
    return None


_RATE_LIMIT_FIELDS = frozenset(
    {
        "ratelimit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)


def _structured(value: str) -> RateLimitHint | None:
    # The first list member's parameters: `r` (remaining) and `t` (reset, delta seconds).
    first = value.split(",", 1)[0]
    params = dict(_SF_PARAM.findall(first))
    remaining = int(params["r"]) if "r" in params else None
    reset = float(int(params["t"])) if "t" in params else None
    if remaining is None and reset is None:
        return None
    return RateLimitHint(remaining, reset)


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def _reset(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    text = value.strip()
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    if number >= _EPOCH_THRESHOLD:
        return max(0.0, number - now)
    return float(number)
