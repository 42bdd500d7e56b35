"""`codes` behaves as httpx's: values, phrases, aliases, predicates."""

from __future__ import annotations

import httpx
import pytest

import httplib


def test_every_httpx_code_exists_with_the_same_phrase() -> None:
    for code in httpx.codes:
        ours = httplib.codes[code.name]
        assert int(ours) == int(code)
        assert httplib.codes.get_reason_phrase(int(code)) == httpx.codes.get_reason_phrase(
            int(code)
        )
        assert getattr(httplib.codes, code.name.lower()) == int(code)


def test_str_repr_and_unknown_codes() -> None:
    assert str(httplib.codes.OK) == "200"
    assert repr(httplib.codes.NOT_FOUND) == "<codes.NOT_FOUND: 404>"
    assert httplib.codes.get_reason_phrase(299) == ""
    assert httplib.codes(404) is httplib.codes.NOT_FOUND


@pytest.mark.parametrize("value", [100, 199, 200, 299, 301, 399, 404, 499, 500, 599])
def test_predicates_match_httpx(value: int) -> None:
    for predicate in (
        "is_informational",
        "is_success",
        "is_redirect",
        "is_client_error",
        "is_server_error",
        "is_error",
    ):
        assert getattr(httplib.codes, predicate)(value) == getattr(httpx.codes, predicate)(value)
