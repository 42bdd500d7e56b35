"""Headers: the multi-dict API, encodings, injection refusal, and parity with httpx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._exceptions import LocalProtocolError
from httplib._headers import Headers

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

names = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
# Any byte but CR, LF and NUL may appear in a field value.
value_bytes = st.binary(max_size=20).filter(lambda b: not set(b) & {0, 10, 13})
ascii_values = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=127, blacklist_characters="\r\n"),
    max_size=20,
)


def test_lookup_is_case_insensitive_and_keeps_raw_spelling() -> None:
    headers = Headers({"Content-Type": "text/plain"})
    assert headers["content-type"] == "text/plain"
    assert headers["CONTENT-TYPE"] == "text/plain"
    assert headers.raw == [(b"Content-Type", b"text/plain")]
    assert list(headers) == ["content-type"]


def test_repeated_names_are_joined_for_item_access() -> None:
    headers = Headers([("a", "1"), ("A", "2"), ("b", "x, y")])
    assert headers["a"] == "1, 2"
    assert dict(headers.items()) == {"a": "1, 2", "b": "x, y"}
    assert headers.multi_items() == [("a", "1"), ("a", "2"), ("b", "x, y")]
    assert list(headers.values()) == ["1, 2", "x, y"]
    assert len(headers) == 2


def test_get_list_with_and_without_comma_splitting() -> None:
    headers = Headers([("a", "x, y"), ("a", " z ,")])
    assert headers.get_list("A") == ["x, y", " z ,"]
    assert headers.get_list("a", split_commas=True) == ["x", "y", "z", ""]
    assert headers.get_list("missing") == []


def test_get_returns_default_for_missing_names() -> None:
    headers = Headers({"a": "1"})
    assert headers.get("A") == "1"
    assert headers.get("q") is None
    assert headers.get("q", "d") == "d"


def test_setitem_replaces_every_field_of_that_name_at_the_first_position() -> None:
    headers = Headers([("a", "1"), ("b", "1"), ("a", "2")])
    headers["A"] = "3"
    assert headers.raw == [(b"A", b"3"), (b"b", b"1")]
    headers["c"] = "4"
    assert headers.raw[-1] == (b"c", b"4")


def test_delitem_removes_all_fields_and_raises_keyerror_when_absent() -> None:
    headers = Headers([("a", "1"), ("A", "2"), ("b", "3")])
    del headers["a"]
    assert headers.raw == [(b"b", b"3")]
    with pytest.raises(KeyError, match="zz"):
        del headers["zz"]


def test_update_replaces_names_present_in_the_other_headers() -> None:
    headers = Headers([("a", "1"), ("b", "2")])
    headers.update([("A", "3"), ("a", "4")])
    assert headers.raw == [(b"b", b"2"), (b"A", b"3"), (b"a", b"4")]
    headers.update(None)
    assert len(headers) == 2


def test_contains_accepts_str_and_bytes_and_rejects_other_types() -> None:
    headers = Headers({"a": "1"})
    assert "A" in headers
    assert b"a" in headers  # type: ignore[comparison-overlap]
    assert "b" not in headers
    assert 1 not in headers  # type: ignore[comparison-overlap]


def test_copy_is_equal_but_independent() -> None:
    headers = Headers({"a": "1"}, encoding="utf-8")
    clone = headers.copy()
    assert clone == headers
    assert clone.encoding == "utf-8"
    clone["b"] = "2"
    assert "b" not in headers


def test_equality_ignores_order_and_name_case_but_not_repeats() -> None:
    assert Headers([("a", "1"), ("b", "2")]) == Headers([("B", "2"), ("A", "1")])
    assert Headers({"a": "1"}) == {"A": "1"}
    assert Headers({"a": "1"}) == [("a", "1")]
    assert Headers({"a": "1"}) != Headers([("a", "1"), ("a", "1")])
    assert Headers({"a": "1"}) != 3


def test_headers_are_unhashable_like_a_dict() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


def test_repr_masks_credentials() -> None:
    headers = Headers({"a": "1", "Authorization": "secret", "Proxy-Authorization": "pw"})
    text = repr(headers)
    assert "secret" not in text
    assert "pw" not in text
    assert text == (
        "Headers({'a': '1', 'authorization': '[secure]', 'proxy-authorization': '[secure]'})"
    )
    assert repr(Headers([("a", "1"), ("A", "2")])) == "Headers([('a', '1'), ('a', '2')])"


def test_encoding_is_detected_from_the_bytes() -> None:
    assert Headers({"a": "1"}).encoding == "ascii"
    assert Headers({b"x": "é".encode()}).encoding == "utf-8"
    latin = Headers({b"x": b"\xe9"})
    assert latin.encoding == "iso-8859-1"
    assert latin["x"] == "é"
    assert repr(latin) == "Headers({'x': 'é'}, encoding='iso-8859-1')"


def test_encoding_can_be_set_explicitly() -> None:
    headers = Headers({b"x": "é".encode()})
    headers.encoding = "iso-8859-1"
    assert headers["x"] == "Ã©"
    assert Headers({"x": "é"}, encoding="utf-8").raw == [(b"x", b"\xc3\xa9")]


def test_detection_is_redone_after_a_change() -> None:
    headers = Headers()
    assert headers.encoding == "ascii"
    headers.update({b"x": b"\xe9"})
    assert headers.encoding == "iso-8859-1"


def test_non_ascii_str_value_without_an_encoding_is_refused() -> None:
    with pytest.raises(UnicodeEncodeError):
        Headers({"x": "é"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("a\n", "1"),
        ("a\r", "1"),
        ("a b", "1"),
        ("a:b", "1"),
        ("", "1"),
        ("é", "1"),
        (b"a\x00", b"1"),
        ("a", "1\r\nX-Injected: yes"),
        ("a", "1\n"),
        ("a", "1\r"),
        ("a", "x\x00"),
        (b"a", b"\r\n"),
    ],
)
def test_header_injection_is_refused_everywhere(name: Any, value: Any) -> None:
    with pytest.raises(LocalProtocolError, match="Illegal header"):
        Headers({name: value})
    with pytest.raises(LocalProtocolError):
        Headers([(name, value)])
    headers = Headers()
    with pytest.raises(LocalProtocolError):
        headers[name] = value
    with pytest.raises(LocalProtocolError):
        headers.update({name: value})
    assert headers.raw == []


def test_refusal_message_names_the_header() -> None:
    with pytest.raises(LocalProtocolError, match="'X-Evil'") as info:
        Headers({"X-Evil": "a\r\nb"})
    assert "a\\r\\nb" in str(info.value)
    with pytest.raises(LocalProtocolError, match=r"Illegal header name b'a b'"):
        Headers({"a b": "1"})


def test_tab_and_obs_text_are_allowed_in_values() -> None:
    headers = Headers({b"a": b"x\ty \x80\xff"})
    assert headers.raw == [(b"a", b"x\ty \x80\xff")]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x": 1}, "Header value must be str or bytes"),
        ({1: "x"}, "Header name must be str or bytes"),
        (1, "Headers must be a mapping"),
        ("a: b", "Headers must be a mapping"),
    ],
)
def test_wrong_types_raise_typeerror(headers: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Headers(headers)


@settings(max_examples=100)
@given(st.lists(st.tuples(names, value_bytes), max_size=6))
def test_raw_round_trip(pairs: list[tuple[str, bytes]]) -> None:
    headers = Headers([(name.encode(), value) for name, value in pairs])
    assert Headers(headers.raw) == headers
    assert headers.raw == [(name.encode(), value) for name, value in pairs]


@settings(max_examples=100)
@given(st.lists(st.tuples(names, ascii_values), max_size=6))
def test_str_and_bytes_spellings_are_equal(pairs: list[tuple[str, str]]) -> None:
    as_str = Headers(pairs)
    as_bytes = Headers([(name.encode(), value.encode()) for name, value in pairs])
    assert as_str == as_bytes
    assert as_str.multi_items() == [(name.lower(), value) for name, value in pairs]


@settings(max_examples=100)
@given(
    st.lists(st.tuples(names, st.text(max_size=10).filter(lambda t: not set(t) & set("\r\n\0"))))
)
def test_utf8_values_round_trip_with_explicit_encoding(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(pairs, encoding="utf-8")
    assert headers.multi_items() == [(name.lower(), value) for name, value in pairs]
    detected = Headers(headers.raw)
    assert detected.encoding in ("ascii", "utf-8")
    assert detected.multi_items() == headers.multi_items()


# Differential tests: the same input through httpx and httplib.

DIFFERENTIAL_INPUTS: list[Any] = [
    {},
    {"a": "1"},
    [("a", "1"), ("A", "2"), ("b", "x, y")],
    [("Set-Cookie", "a=1; Path=/"), ("set-cookie", "b=2"), ("Authorization", "Bearer t")],
    [(b"X-Latin", b"caf\xe9"), (b"Proxy-Authorization", b"Basic abc")],
    [(b"X-Utf8", "café".encode()), (b"Accept", b"a, b,, c")],
]


@pytest.mark.parametrize("given_headers", DIFFERENTIAL_INPUTS)
def test_same_views_as_httpx(given_headers: Any) -> None:
    ours, theirs = Headers(given_headers), httpx.Headers(given_headers)
    assert repr(ours) == repr(theirs)
    assert list(ours.items()) == list(theirs.items())
    assert ours.multi_items() == theirs.multi_items()
    assert list(ours.keys()) == list(theirs.keys())
    assert list(ours.values()) == list(theirs.values())
    assert ours.raw == theirs.raw
    assert ours.encoding == theirs.encoding
    for key in [*theirs.keys(), "missing"]:
        assert ours.get(key) == theirs.get(key)
        assert ours.get_list(key) == theirs.get_list(key)
        assert ours.get_list(key, split_commas=True) == theirs.get_list(key, split_commas=True)


@pytest.mark.parametrize("given_headers", DIFFERENTIAL_INPUTS)
def test_mutations_match_httpx(given_headers: Any) -> None:
    ours, theirs = Headers(given_headers), httpx.Headers(given_headers)
    returned = []
    for target in (ours, theirs):
        target["a"] = "new"
        target.update({"B": "b1"})
        returned.append(
            [target.setdefault(key, "set") for key in ("c", "C", "A", "set-cookie", "b")]
        )
        target.pop("set-cookie", None)
    assert ours.raw == theirs.raw
    assert repr(ours) == repr(theirs)
    assert returned[0] == returned[1]
