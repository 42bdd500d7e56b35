"""Retry-After and rate-limit headers: every form the RFCs and common APIs use, and garbage."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from httplib._core.server_hints import RateLimitHint, rate_limit_hint, retry_after_seconds

NOW = 1_780_000_000.0  # 2026-05-28, a fixed "wall clock"


def _http_date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("0007", 7.0),
        (_http_date(30), 30.0),  # IMF-fixdate
        (_http_date(-30), 0.0),  # in the past: now
        (_http_date(90).replace("GMT", "+0000"), 90.0),  # as some servers write it
        (_http_date(90).replace("GMT", "-0000"), None),  # RFC 5322: zone unknown
        ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # RFC 850, long past
        ("Sun Nov  6 08:49:37 1994", None),  # asctime has no zone: not trusted
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),  # delay-seconds is digits only
        ("soon", None),
        ("99999999999999999999", None),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    result = retry_after_seconds(value, NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1.0)


@given(st.text(max_size=64))
def test_retry_after_never_raises(value: str) -> None:
    result = retry_after_seconds(value, NOW)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("RateLimit", '"default";r=50;t=30')], RateLimitHint(50, 30.0)),
        ([("ratelimit", '"a";r=0;t=5, "b";r=9;t=60')], RateLimitHint(0, 5.0)),
        ([("RateLimit-Remaining", "10"), ("RateLimit-Reset", "20")], RateLimitHint(10, 20.0)),
        ([("X-RateLimit-Remaining", "3")], RateLimitHint(3, None)),
        (
            [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", str(int(NOW) + 42))],
            RateLimitHint(0, 42.0),
        ),  # an epoch timestamp
        ([("X-RateLimit-Reset", str(int(NOW) - 42))], RateLimitHint(None, 0.0)),
        ([("X-RateLimit-Remaining", "lots")], None),
        ([("Content-Type", "text/plain")], None),
        ([], None),
    ],
)
def test_rate_limit_hint(headers: list[tuple[str, str]], expected: RateLimitHint | None) -> None:
    assert rate_limit_hint(headers, NOW) == expected


@given(st.lists(st.tuples(st.sampled_from(["RateLimit", "X-RateLimit-Reset"]), st.text())))
def test_rate_limit_hint_never_raises(headers: list[tuple[str, str]]) -> None:
    hint = rate_limit_hint(headers, NOW)
    assert hint is None or hint.reset is None or hint.reset >= 0
