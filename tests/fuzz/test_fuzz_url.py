"""Fuzzing URL parsing: any text gives a `URL` or `InvalidURL`, never another exception, and a
parsed URL's string form parses back to the same URL (httpx CVE-2021-41945: a re-parse must not
move the host)."""

from __future__ import annotations

import idna
from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import fuzz
from httplib import URL, InvalidURL

_PARTS = st.sampled_from(
    [
        "http://",
        "https://",
        "//",
        "/",
        ":",
        "@",
        "[",
        "]",
        "::1",
        "%",
        "%2F",
        "%zz",
        "?",
        "#",
        "a",
        "example.com",
        "xn--",
        "..",
        ".",
        "\\",
        " ",
        "\t",
        "\x00",
        "\n",
        "é",
        "ß",
        "1",
        "80",
        "65536",
        "user:pass",
        "[::1]",
        "127.0.0.1",
        "0x7f.1",
        "/..",
        ";",
        "=",
        "&",
        "+",
    ]
)
TEXT = st.one_of(st.text(max_size=60), st.lists(_PARTS, max_size=12).map("".join))


def host(url: URL) -> str:
    """`url.host`; like httpx it raises idna's IDNAError for a bad punycode label (a documented
    difference kept for compatibility: tests/unit/test_urls.py), which gives its raw form."""
    try:
        return url.host
    except idna.IDNAError:
        return url.raw_host.decode("ascii")


def parse(text: str) -> URL | None:
    try:
        return URL(text)
    except InvalidURL:
        return None


@fuzz
@given(text=TEXT)
def test_url_parses_or_raises_invalid_url(text: str) -> None:
    url = parse(text)
    if url is None:
        return
    # Every accessor works on what was accepted.
    _ = (url.scheme, host(url), url.port, url.path, url.query, url.fragment, url.raw_path)
    _ = (url.userinfo, url.netloc, url.is_absolute_url, url.params)
    again = parse(str(url))
    if not host(url):
        # A host-less URL must never gain a host by being written out and read back (httpx's
        # CVE-2021-41945: `http:////admin` became host "admin"); its text may not parse at all
        # (":a://h" has an empty scheme), which is safe.
        assert again is None or not host(again), str(url)
        return
    assert again is not None, str(url)
    assert again == url
    assert host(again) == host(url)


@fuzz
@given(base=TEXT, ref=TEXT)
def test_join_gives_a_url_or_invalid_url(base: str, ref: str) -> None:
    url = parse(base)
    if url is None:
        return
    try:
        joined = url.join(ref)
    except InvalidURL:
        return
    again = parse(str(joined))
    if not host(joined):  # (see test_url_parses_or_raises_invalid_url)
        assert again is None or not host(again), str(joined)
    else:
        assert again is not None, str(joined)
        assert host(again) == host(joined)
