"""URL joining (RFC 3986 section 5) and the parser's fast path."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._exceptions import InvalidURL
from httplib._urlparse import _parse_fast, _parse_full, remove_dot_segments
from httplib._urls import URL

RFC_BASE = "http://a/b/c/d;p?q"

# RFC 3986 section 5.4.1, normal examples.
NORMAL = [
    ("g:h", "g:h"),
    ("g", "http://a/b/c/g"),
    ("./g", "http://a/b/c/g"),
    ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"),
    ("//g", "http://g"),
    ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"),
    ("#s", "http://a/b/c/d;p?q#s"),
    ("g#s", "http://a/b/c/g#s"),
    ("g?y#s", "http://a/b/c/g?y#s"),
    (";x", "http://a/b/c/;x"),
    ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y#s"),
    ("", "http://a/b/c/d;p?q"),
    (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"),
    ("..", "http://a/b/"),
    ("../", "http://a/b/"),
    ("../g", "http://a/b/g"),
    ("../..", "http://a/"),
    ("../../", "http://a/"),
    ("../../g", "http://a/g"),
]

# RFC 3986 section 5.4.2, abnormal examples. "http:g" takes the backward-compatible reading the
# RFC allows (a reference with the base's scheme and no authority is relative), as httpx does.
ABNORMAL = [
    ("../../../g", "http://a/g"),
    ("../../../../g", "http://a/g"),
    ("/./g", "http://a/g"),
    ("/../g", "http://a/g"),
    ("g.", "http://a/b/c/g."),
    (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."),
    ("..g", "http://a/b/c/..g"),
    ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"),
    ("g/./h", "http://a/b/c/g/h"),
    ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
    ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"),
    ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g#s/./x"),
    ("g#s/../x", "http://a/b/c/g#s/../x"),
    ("http:g", "http://a/b/c/g"),
]


@pytest.mark.parametrize(("reference", "expected"), NORMAL + ABNORMAL)
def test_join_rfc3986_examples(reference: str, expected: str) -> None:
    assert str(URL(RFC_BASE).join(reference)) == expected


@pytest.mark.parametrize(("reference", "expected"), NORMAL + ABNORMAL)
def test_join_rfc3986_examples_match_httpx(reference: str, expected: str) -> None:
    assert str(URL(RFC_BASE).join(reference)) == str(httpx.URL(RFC_BASE).join(reference))


@pytest.mark.parametrize(
    ("base", "reference"),
    [
        ("https://example.com", "path"),
        ("https://example.com", "."),
        ("https://example.com/a/b", "https://other.org/x/../y"),
        ("https://example.com/a/b", "//other.org:8080/x"),
        ("https://example.com:8443/a/", "c d?e f#g h"),
        ("https://example.com/a/b?q=1#f", "?r=2"),
        ("https://example.com/a/b", "#frag"),
        ("https://例え.jp/a/", "☃"),
        ("https://u:p@example.com/a/b", "../c"),
        ("http://[::1]:8080/a/b", "/c"),
        ("https://example.com/a/b", "HTTPS:c"),
        ("https://example.com/a/b", "http:c"),
        ("https://example.com/a/b", URL("../c")),
        ("/relative/base", "other"),
        ("relative", "../../x"),
    ],
)
def test_join_matches_httpx(base: str, reference: str | URL) -> None:
    theirs = httpx.URL(str(reference)) if isinstance(reference, URL) else reference
    assert str(URL(base).join(reference)) == str(httpx.URL(base).join(theirs))


@pytest.mark.parametrize(
    ("base", "reference", "ours", "httpx_gives"),
    [
        # Deliberate differences, where httpx's result comes from `urllib.parse.urljoin` quirks:
        # an empty reference is the base *without* its fragment (RFC 3986 section 5.2.2) ...
        ("http://a/b#f", "", "http://a/b", "http://a/b#f"),
        # ... empty segments of the base path are kept (urljoin squeezes them out) ...
        ("http://a/b//c/d", "e", "http://a/b//c/e", "http://a/b/c/e"),
        ("http://a/b", "c//d", "http://a/c//d", "http://a/c/d"),
        # ... and schemes urllib does not know are resolved too (urljoin returns the reference).
        ("foo://a/b/c", "d", "foo://a/b/d", "d"),
        # An empty query or fragment in the reference is kept, not confused with an absent one.
        ("http://a/b?q", "?", "http://a/b?", "http://a/b?q"),
        ("http://a/b?q", "#", "http://a/b?q#", "http://a/b?q"),
        ("http://a/b?q", "g?", "http://a/g?", "http://a/g"),
        ("http://a/b?q", "g#", "http://a/g#", "http://a/g"),
        ("http://a/b?", "#s", "http://a/b?#s", "http://a/b#s"),
    ],
)
def test_join_follows_rfc_where_httpx_does_not(
    base: str, reference: str, ours: str, httpx_gives: str
) -> None:
    assert str(URL(base).join(reference)) == ours
    assert str(httpx.URL(base).join(reference)) == httpx_gives


def test_join_refuses_what_url_refuses() -> None:
    with pytest.raises(TypeError):
        URL("http://a/").join(42)  # type: ignore[arg-type]


# No empty segments: urllib (so httpx) squeezes them out, see the differences above.
_SEGMENT = st.sampled_from(["a", "b", ".", "..", "c;p", "d=e", "%41", "é", "x y"])


@st.composite
def references(draw: st.DrawFn) -> str:
    path = "/".join(draw(st.lists(_SEGMENT, max_size=5)))
    prefix = draw(st.sampled_from(["", "", "/", "//other.org/", "https://h.org/"]))
    # No bare "?" or "#": see test_join_follows_rfc_where_httpx_does_not.
    query = draw(st.sampled_from(["", "?k=v", "?a/../b"]))
    fragment = draw(st.sampled_from(["", "#s"]))
    return prefix + path + query + fragment


@settings(max_examples=200, deadline=None)
@given(
    base_path=st.lists(st.sampled_from(["a", "b", "c;p", "..", "."]), max_size=4),
    base_query=st.sampled_from(["", "?q"]),
    reference=references(),
)
def test_generated_joins_match_httpx(base_path: list[str], base_query: str, reference: str) -> None:
    # Bases without empty path segments or fragments and with an http scheme: the cases where
    # urllib's join (which httpx uses) agrees with RFC 3986 (see the test above).
    base = "https://example.com/" + "/".join(base_path) + base_query
    assert str(URL(base).join(reference)) == str(httpx.URL(base).join(reference))


@pytest.mark.parametrize(
    ("path", "rfc", "parse_time"),
    [
        ("/a/b/c/./../../g", "/a/g", "/a/g"),
        ("/a/b/.", "/a/b/", "/a/b"),
        ("/a/b/..", "/a/", "/a"),
        ("/..", "/", ""),
        ("/a/./b/", "/a/b/", "/a/b/"),
        ("/no/dots", "/no/dots", "/no/dots"),
        ("/.hidden/..x", "/.hidden/..x", "/.hidden/..x"),
    ],
)
def test_remove_dot_segments(path: str, rfc: str, parse_time: str) -> None:
    assert remove_dot_segments(path) == rfc
    assert remove_dot_segments(path, keep_final_slash=False) == parse_time


FAST_CASES = [
    "http://example.com",
    "https://example.com/",
    "https://api.example.com:8443/v1/items?id=3&sort=-name#top",
    "http://example.com:80/a",
    "https://example.com:443/",
    "https://example.com:0443/",
    "http://localhost:8000/%7Euser/a%20b",
    "https://example.com/a/./b",
    "https://example.com/a/../b",
    "https://example.com/a/.b",
    "https://xn--r8jz45g.jp/",
    "https://a1/",
    "https://1.2.3.4/",
    "http://127.0.0.1:8000/",
    "http://255.255.255.255/",
    "https://example.com./",
    "https://example.com/?q=`{}|^",
    "https://example.com/#`",
    "https://example.com/#{}|^?#",
]


@pytest.mark.parametrize("url", FAST_CASES)
def test_fast_path_agrees_with_full_parser(url: str) -> None:
    fast = _parse_fast(url)
    if fast is not None:  # None: the URL needs the full parser
        assert fast == _parse_full(url, {})


def test_fast_path_takes_ordinary_urls_and_skips_the_rest() -> None:
    assert _parse_fast("https://api.example.com:8443/v1/items?id=3#top") is not None
    assert _parse_fast("https://example.com/a/../b") is None  # dot segments
    assert _parse_fast("https://EXAMPLE.com/") is None  # needs lower-casing
    assert _parse_fast("http://127.0.0.1:8000/") is not None  # canonical IPv4
    assert _parse_fast("https://256.2.3.4/") is None  # octet out of range: full parser rejects
    assert _parse_fast("https://01.2.3.4/") is None  # leading zero: full parser rejects
    assert _parse_fast("https://u@example.com/") is None  # userinfo
    assert _parse_fast("https://example.com/" + "a" * 65536) is None  # too long


_FAST_ALPHABET = st.sampled_from([*"az09-.:/?#%[]`{}|^~_", "é", " "])
_OCTETS = st.sampled_from(
    ["0", "1", "9", "10", "01", "99", "100", "199", "200", "249", "250", "255", "256", "300"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_OCTETS, min_size=4, max_size=4))
def test_generated_ipv4_fast_path_agrees_with_full_parser(octets: list[str]) -> None:
    url = "http://" + ".".join(octets) + ":8080/p"
    fast = _parse_fast(url)
    if fast is not None:
        assert fast == _parse_full(url, {})
    else:
        with pytest.raises(InvalidURL):
            _parse_full(url, {})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_FAST_ALPHABET, max_size=30).map(lambda tail: "https://ex" + tail))
def test_generated_fast_path_agrees_with_full_parser(url: str) -> None:
    fast = _parse_fast(url)
    if fast is not None:
        assert fast == _parse_full(url, {})
