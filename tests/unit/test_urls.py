"""URL: table tests of httplib's own behaviour, and differential tests against httpx 0.28."""

from __future__ import annotations

import pickle
import re
from typing import Any

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from httplib._exceptions import InvalidURL
from httplib._urls import URL, QueryParams

PROPERTIES = (
    "scheme",
    "raw_scheme",
    "userinfo",
    "username",
    "password",
    "host",
    "raw_host",
    "port",
    "netloc",
    "path",
    "query",
    "raw_path",
    "fragment",
    "is_absolute_url",
    "is_relative_url",
)


def observe(url: Any) -> dict[str, Any]:
    """Everything a user can read off a URL; a property that raises is recorded by error type."""
    seen: dict[str, Any] = {"str": str(url), "repr": repr(url), "params": str(url.params)}
    for name in PROPERTIES:
        try:
            seen[name] = getattr(url, name)
        except Exception as exc:  # e.g. idna.IDNAError from `host` on a bad punycode label
            seen[name] = ("raises", type(exc).__name__)
    return seen


def outcome(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """What building a URL gives: its observed properties, or the kind of error raised."""
    try:
        url = factory(*args, **kwargs)
    except (httpx.InvalidURL, InvalidURL):
        return "InvalidURL"
    except Exception as exc:
        return type(exc).__name__
    return observe(url)  # both classes are named "URL", so their reprs compare directly


def assert_same_as_httpx(*args: Any, **kwargs: Any) -> None:
    ours, theirs = outcome(URL, *args, **kwargs), outcome(httpx.URL, *args, **kwargs)
    if isinstance(ours, dict) and isinstance(theirs, dict) and _written_unlike_httpx(ours):
        # See test_a_host_less_url_never_gains_a_host_when_written_and_read_back: only the
        # string form differs, so that it reads back host-less.
        ours, theirs = _without_text(ours), _without_text(theirs)
    assert ours == theirs


def _written_unlike_httpx(seen: dict[str, Any]) -> bool:
    """A host-less URL whose path would read as an authority or a scheme if written as is."""
    path = seen["path"]
    if seen["host"] != "" or not isinstance(path, str):
        return False
    return path.startswith("//") or (
        not seen["scheme"] and re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", path) is not None
    )


def _without_text(seen: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in seen.items() if key not in ("str", "repr")}


HAND_PICKED = [
    "",
    "/",
    "?",
    "#",
    "?a=1",
    "#frag",
    "/a/../b/./c",
    "a/../b",
    "./a:b",
    "//example.com//double//slashes",
    "http://example.com",
    "https://example.com/",
    "https://EXAMPLE.com/Path/To?Q=1#F",
    "HTTPS://Example.COM:8443/",  # uppercase scheme with a default port: see below
    "https://example.com:443/",
    "http://example.com:80/",
    "http://example.com:0080/",
    "https://example.com:8443/",
    "ws://example.com:80/chat",
    "wss://example.com:443/chat",
    "ftp://example.com:21/file",
    "http://example.com:/",
    "http://example.com:65536/",
    "http://example.com: 81/",
    "http://example.com:abc/",
    "http://example.com:-1/",
    "http://example.com/a b/c d?e f=g h#i j",
    'http://example.com/"<>`{}|\\^',
    "http://example.com/?\"<>`{}|\\^'",
    "http://example.com/#\"<>`{}|\\^'#",
    "http://example.com/%",
    "http://example.com/%zz/%2f/%2F/%41",
    "http://example.com/%E2%98%83?%E2%98%83#%E2%98%83",
    "http://example.com/%ff",
    "http://example.com/☃?☃=☃#☃",
    "http://example.com/../../../a",
    "http://example.com/a/b/..",
    "http://example.com/a/b/.",
    "http://example.com/.hidden/..dots/...",
    "http://user@example.com/",
    "http://user:pass@example.com/",
    "http://user:p@ss@example.com/",
    "http://us er:pa ss@example.com/",
    "http://user:@example.com/",
    "http://:pass@example.com/",
    "http://user%40x:p%3Ass@example.com/",
    "http://u:p:q@example.com/",
    "http://[::1]/",
    "http://[::1]:8080/path",
    "http://[2001:db8::1]:443/",
    "http://[::ffff:1.2.3.4]/",
    "http://[fe80::1%25eth0]/",
    "http://[::1/",
    "http://[not-ip]/",
    "http://[::g]/",
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/",
    "http://256.0.0.1/",
    "http://1.2.3/",
    "http://1.2.3.4.5/",
    "http://例え.jp/",
    "http://www.例え.jp/",
    "http://xn--r8jz45g.jp/",
    "http://XN--R8JZ45G.jp/",
    "http://www.xn--r8jz45g.jp/",
    "http://xn--.com/",
    "http://MÜNCHEN.de/",
    "http://faß.de/",
    "http://☃.net/",
    "http://exa mple.com/",
    "http://ex%41mple.com/",
    'http://a"b`c{d}e|f\\g/',
    "http://a^b/",
    "http://a<b/",
    "http://example.com./",
    "http://-example-.com/",
    "http://1/",
    "localhost:8000",
    "localhost:8000/path",
    "mailto:someone@example.com",
    "data:text/plain,hello",
    "file:///etc/hosts",
    "urn:isbn:0451450523",
    "git+ssh://git@github.com/a/b.git",
    "1http://example.com/",
    "://example.com",
    "http:/example.com",
    "http:example.com",
    "http://",
    "http:///path",
    "//",
    "http://example.com/\x7f",
    "http://example.com/\x00",
    "http://example.com/\t",
    "http://exam\nple.com/",
    "http://example.com/\u200b\u00a0",
]


@pytest.mark.parametrize("url", HAND_PICKED)
def test_hand_picked_urls_match_httpx(url: str) -> None:
    assert_same_as_httpx(url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scheme": "https", "host": "example.com", "path": "/a"},
        {"scheme": "HTTPS", "host": "EXAMPLE.com", "port": 8443},
        {"host": "::1"},
        {"host": "[::1]"},
        {"host": "x:y"},
        {"host": "例え.jp"},
        {"host": "a/b"},
        {"host": "a@b"},
        {"port": 8080},
        {"port": 80},
        {"port": None},
        {"port": "80"},
        {"netloc": b"other.org:8080"},
        {"netloc": b"other.org"},
        {"netloc": b"[::1]:99"},
        {"netloc": "other.org"},
        {"username": "us er", "password": "p@ss:word/"},
        {"username": "user"},
        {"password": "secret"},
        {"username": None, "password": None},
        {"userinfo": b"a#b/c?d"},
        {"userinfo": b"a@b"},
        {"userinfo": b"\xff"},
        {"path": "/x y/%41/☃"},
        {"path": "/../a/./b"},
        {"path": "relative"},
        {"path": "/a?b"},
        {"path": "/a#b"},
        {"path": ""},
        {"query": b"a=1&b=two words"},
        {"query": b"a#b"},
        {"query": "a=1"},
        {"query": None},
        {"raw_path": b"/p q?r s"},
        {"raw_path": b"/only-path"},
        {"raw_path": b"/p#frag"},
        {"fragment": "sec tion"},
        {"fragment": None},
        {"params": {"a": "1", "b": ["2", "3"], "c": None, "d": True}},
        {"params": {}},
        {"params": [("a", "x y"), ("a", "/&=")]},
        {"params": "a=1&b=2"},
        {"params": b"a=1"},
        {"params": QueryParams("x=1")},
        {"scheme": "1http"},
        {"scheme": "a b"},
        {"fragment": "a\nb"},
        {"path": "/" + "a" * 65536},
        {"bogus": "x"},
        {"scheme": b"http"},
    ],
)
def test_keyword_components_match_httpx(kwargs: dict[str, Any]) -> None:
    # `QueryParams` values are passed as the matching type to each library.
    theirs = {
        k: httpx.QueryParams("x=1") if isinstance(v, QueryParams) else v for k, v in kwargs.items()
    }
    ours_outcome = outcome(URL, "http://user:pw@example.com:1234/base?q=1#f", **kwargs)
    theirs_outcome = outcome(httpx.URL, "http://user:pw@example.com:1234/base?q=1#f", **theirs)
    assert ours_outcome == theirs_outcome
    assert outcome(URL, **kwargs) == outcome(httpx.URL, **theirs)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com:443/", "https://example.com/"),
        ("http://EXAMPLE.com:80", "http://example.com"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://例え.jp/", "http://xn--r8jz45g.jp/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://u:p@ss@h/", "http://u:p%40ss@h/"),
        ("/relative path", "/relative%20path"),
    ],
)
def test_normalisation(url: str, expected: str) -> None:
    assert str(URL(url)) == expected


def test_components_of_a_full_url() -> None:
    url = URL("https://us%20er:pa%3Ass@Example.COM:8443/a%20b/c?x=1&y=%2F#fr%20ag")
    assert url.scheme == "https"
    assert url.raw_scheme == b"https"
    assert url.userinfo == b"us%20er:pa%3Ass"
    assert (url.username, url.password) == ("us er", "pa:ss")
    assert (url.host, url.raw_host, url.port) == ("example.com", b"example.com", 8443)
    assert url.netloc == b"example.com:8443"
    assert url.path == "/a b/c"
    assert url.query == b"x=1&y=%2F"
    assert url.raw_path == b"/a%20b/c?x=1&y=%2F"
    assert url.params == QueryParams({"x": "1", "y": "/"})
    assert url.fragment == "fr ag"
    assert url.is_absolute_url
    assert not url.is_relative_url


def test_idna_host_has_unicode_and_ascii_forms() -> None:
    url = URL("https://例え.jp/")
    assert url.host == "例え.jp"
    assert url.raw_host == b"xn--r8jz45g.jp"


def test_ipv6_host_is_bare_but_netloc_is_bracketed() -> None:
    url = URL("http://[::1]:8080/")
    assert (url.host, url.netloc, url.port) == ("::1", b"[::1]:8080", 8080)


def test_empty_path_reads_as_slash_and_relative_urls() -> None:
    assert URL("https://example.com").path == "/"
    assert URL("https://example.com").raw_path == b"/"
    assert URL("/path").is_relative_url
    assert URL("https:/path").is_relative_url  # no host, so not absolute


def test_repr_masks_password() -> None:
    assert (
        repr(URL("https://user:secret@example.com/")) == "URL('https://user:[secure]@example.com/')"
    )
    assert repr(URL("https://user@example.com/")) == "URL('https://user@example.com/')"
    assert "secret" not in repr(URL("https://example.com/", password="secret"))


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("https://example.com:abc/", {}, "Invalid port: 'abc'"),
        ("https://[::1/", {}, "Invalid port: ':1'"),
        ("https://[::g]/", {}, "Invalid IPv6 address: '[::g]'"),
        ("https://1.2.3.999/", {}, "Invalid IPv4 address: '1.2.3.999'"),
        ("https://☃.net/", {}, "Invalid IDNA hostname: '☃.net'"),
        ("a\x01b", {}, "Invalid non-printable ASCII character in URL, '\\x01' at position 1."),
        ("x" * 65537, {}, "URL too long"),
        ("https://h/", {"path": "rel"}, "For absolute URLs, path must be empty or begin with '/'"),
        ("", {"path": "//x"}, "Relative URLs cannot have a path starting with '//'"),
        ("", {"path": ":x"}, "Relative URLs cannot have a path starting with ':'"),
        ("", {"path": "/a?b"}, "Invalid URL component 'path'"),
        ("", {"scheme": "1x"}, "Invalid URL component 'scheme'"),
        ("", {"host": "x:y"}, "Invalid IPv6 address: '[x:y]'"),
        ("", {"path": "/" + "a" * 65536}, "URL component 'path' too long"),
        (
            "",
            {"fragment": "a\tb"},
            "Invalid non-printable ASCII character in URL fragment component, '\\t' at position 1.",
        ),
    ],
)
def test_invalid_url_messages(url: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidURL) as info:
        URL(url, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((123,), {}, "Invalid type for url.  Expected str or httplib.URL, got <class 'int'>: 123"),
        ((b"http://a",), {}, "got <class 'bytes'>"),
        ((), {"port": "80"}, "Argument 'port' must be int but got str"),
        ((), {"netloc": "a"}, "Argument 'netloc' must be bytes but got str"),
        ((), {"foo": 1}, "'foo' is an invalid keyword argument for URL()"),
    ],
)
def test_type_errors_name_the_offending_value(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    # httpx says "httpx.URL" in the first message; ours names our own class.
    with pytest.raises(TypeError) as info:
        URL(*args, **kwargs)
    assert message in str(info.value)


def test_uppercase_scheme_drops_default_port_unlike_httpx() -> None:
    # Deliberate difference: httpx compares the port with the default of the scheme *as written*,
    # so it keeps ":80" in "HTTP://h:80/" and then drops it when its own output is parsed again.
    # Schemes are case-insensitive (RFC 3986 section 3.1), and normalising must be idempotent.
    assert str(URL("HTTP://example.com:80/")) == "http://example.com/"
    assert str(URL("http://h/").copy_with(scheme="HTTPS", port=443)) == "https://h/"


def test_host_escapes_are_upper_case_unlike_httpx() -> None:
    # Deliberate difference: httpx lower-cases a host after escaping it, so "^" gives "%5E" but
    # "%5E" gives "%5e", and its output does not survive a second parse unchanged. We keep escape
    # triplets upper-case (RFC 3986 section 6.2.2.1), which is what httpx produces the first time.
    assert URL("http://^/").raw_host == b"%5E"
    assert URL("http://%5e/").raw_host == b"%5E"
    assert URL("http://A%5Eb/").raw_host == b"a%5Eb"


def test_copy_with_and_param_helpers() -> None:
    url = URL("https://example.com/path?a=1")
    assert str(url.copy_with(scheme="http", port=8080)) == "http://example.com:8080/path?a=1"
    assert str(url.copy_with(path="/other", query=b"b=2")) == "https://example.com/other?b=2"
    assert str(url.copy_with(params={})) == "https://example.com/path"
    assert url.copy_with() == url
    assert str(url.copy_set_param("a", 2)) == "https://example.com/path?a=2"
    assert str(url.copy_add_param("a", True)) == "https://example.com/path?a=1&a=true"
    assert str(url.copy_remove_param("a")) == "https://example.com/path"
    assert str(url.copy_merge_params({"b": "x y"})) == "https://example.com/path?a=1&b=x+y"
    assert str(url) == "https://example.com/path?a=1"  # the original is unchanged


def test_equality_and_hash() -> None:
    url = URL("https://example.com:443/a")
    assert url == "https://example.com/a"
    assert url == URL("HTTPS://EXAMPLE.COM/a")
    assert url != "https://example.com/b"
    assert url != 42
    assert hash(url) == hash(URL("https://example.com/a"))
    assert len({url, URL("https://example.com/a")}) == 1


def test_url_pickles_and_copies_from_url() -> None:
    url = URL("https://u:p@example.com:8443/a?b=c#d")
    assert pickle.loads(pickle.dumps(url)) == url
    assert URL(url) == url


def test_raw_is_deprecated() -> None:
    with pytest.warns(UserWarning, match="URL.raw is deprecated."):
        raw = URL("http://a:81/b?c").raw
    assert tuple(raw) == (b"http", b"a", 81, b"/b?c")


# --- generated URLs -------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.sampled_from([*list("aZ09-._~!$&'()*+,;=:@/%?#[]\\^`{|}<>\" "), "☃", "é", "\x7f"]),
    max_size=12,
)
_HOSTS = st.one_of(
    st.from_regex(r"[a-zA-Z0-9-]{1,10}(\.[a-zA-Z]{1,5}){0,2}", fullmatch=True),
    st.sampled_from(["例え.jp", "MÜNCHEN.de", "xn--r8jz45g.jp", "[::1]", "[2001:db8::7]", "☃.net"]),
    st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
    # "%" is left out: see test_host_escapes_are_upper_case_unlike_httpx.
    st.text(alphabet="ab.-_ ^|", max_size=6),
)


@st.composite
def url_strings(draw: st.DrawFn) -> str:
    """Absolute URLs assembled from messy components (the parser sees only the joined text)."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ws", "ftp", "foo+bar"]))
    userinfo = draw(
        st.one_of(
            st.just(""),
            _TEXT.map(lambda t: t.replace("/", "").replace("?", "").replace("#", "") + "@"),
        )
    )
    host = draw(_HOSTS)
    port = draw(
        st.one_of(
            st.just(""),
            st.integers(0, 70000).map(lambda n: f":{n}"),
            st.sampled_from([":80", ":443", ":"]),
        )
    )
    path = draw(_TEXT.map(lambda t: "/" + t.replace("?", "").replace("#", "")))
    query = draw(st.one_of(st.just(""), _TEXT.map(lambda t: "?" + t.replace("#", ""))))
    fragment = draw(st.one_of(st.just(""), _TEXT.map(lambda t: "#" + t)))
    return f"{scheme}://{userinfo}{host}{port}{path}{query}{fragment}"


@settings(max_examples=200, deadline=None)
@given(url_strings())
def test_generated_urls_match_httpx(url: str) -> None:
    if url.startswith("HTTP:"):
        url = "http" + url[4:]  # see test_uppercase_scheme_drops_default_port_unlike_httpx
    assert_same_as_httpx(url)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from([*list(":/?#[]@%.a1 "), "é"]), max_size=16))
def test_arbitrary_text_parses_or_fails_as_httpx(text: str) -> None:
    assert_same_as_httpx(text)


@settings(max_examples=200, deadline=None)
@given(url_strings())
def test_round_trip(url: str) -> None:
    try:
        parsed = URL(url)
    except InvalidURL:
        return
    # Without a host, "http:" followed by a path like "//x" cannot be written unambiguously
    # (RFC 3986 section 3.3); httpx and httplib both keep such a path as given.
    assume(parsed.host != "")
    again = URL(str(parsed))
    assert again == parsed
    assert observe(again) == observe(parsed)


# --- QueryParams ----------------------------------------------------------------------------


def observe_params(params: Any) -> dict[str, Any]:
    return {
        "str": str(params),
        "repr": repr(params),
        "multi_items": params.multi_items(),
        "keys": list(params.keys()),
        "values": list(params.values()),
        "items": list(params.items()),
        "iter": list(params),
        "len": len(params),
        "bool": bool(params),
        "lists": {key: params.get_list(key) for key in params},
    }


PARAM_INPUTS: list[Any] = [
    None,
    "",
    "a=1&b=2&a=3",
    "a=1+2&b=%20&c&=d&e=",
    "k=%E2%98%83&%F0%9F%98%80=x",
    "sp ace=a b&plus=+&pct=%25&bad=%zz",
    b"a=1&b=two",
    {"a": "1", "b": ["2", "3"], "c": ("4",)},
    {"t": True, "f": False, "n": None, "i": 1, "x": 1.5},
    {"reserved": "/?#[]@!$&'()*+,;= ~._-", "unicode": "☃é"},
    {1: "int key"},
    [("a", "1"), ("b", "2"), ("a", "3")],
    (("a", True), ("a", None)),
    [],
    {},
]


@pytest.mark.parametrize("value", PARAM_INPUTS)
def test_query_params_match_httpx(value: Any) -> None:
    assert observe_params(QueryParams(value)) == observe_params(httpx.QueryParams(value))


def test_query_params_key_with_no_values_is_left_out() -> None:
    # Deliberate difference: httpx keeps "empty" as a key with no values, so len() is 1 while
    # items() and values() raise IndexError. A key without values is absent, as when parsed.
    params = QueryParams({"empty": [], "a": "1"})
    assert list(params.items()) == [("a", "1")]
    assert "empty" not in params
    assert str(params) == str(httpx.QueryParams({"empty": [], "a": "1"})) == "a=1"


def test_query_params_from_keywords_and_copies() -> None:
    params = QueryParams(a="1", b=["2", "3"])
    assert params.multi_items() == [("a", "1"), ("b", "2"), ("b", "3")]
    assert QueryParams(params) == params
    assert QueryParams(params) is not params


def test_query_params_reading() -> None:
    params = QueryParams("a=1&a=2&b=3")
    assert params["a"] == "1"
    assert params.get("a") == "1"
    assert params.get("zz") is None
    assert params.get("zz", "dflt") == "dflt"
    assert params.get_list("a") == ["1", "2"]
    assert params.get_list("zz") == []
    assert "b" in params
    assert "zz" not in params
    with pytest.raises(KeyError):
        params["zz"]


def test_query_params_copying_methods_leave_original_alone() -> None:
    params = QueryParams("a=1&b=2")
    assert str(params.set("a", 9)) == "a=9&b=2"
    assert str(params.set("c", None)) == "a=1&b=2&c="
    assert str(params.add("a", True)) == "a=1&a=true&b=2"
    assert str(params.remove("a")) == "b=2"
    assert str(params.remove("missing")) == "a=1&b=2"
    assert str(params.merge({"b": "x", "c": "y"})) == "a=1&b=x&c=y"
    assert str(params.merge()) == "a=1&b=2"
    assert str(params) == "a=1&b=2"


def test_query_params_equality_ignores_order_and_hashes_by_text() -> None:
    assert QueryParams("a=1&b=2") == QueryParams("b=2&a=1")
    assert QueryParams("a=1&a=2") != QueryParams("a=2")
    assert QueryParams("a=1") != {"a": "1"}
    assert hash(QueryParams("a=1")) == hash(QueryParams({"a": 1}))


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("update", ({"a": "1"},), "Use `q = q.merge(...)` to create an updated copy."),
        ("__setitem__", ("a", "1"), "Use `q = q.set(key, value)` to create an updated copy."),
    ],
)
def test_query_params_are_immutable(method: str, args: tuple[Any, ...], message: str) -> None:
    params = QueryParams("a=0")
    with pytest.raises(RuntimeError, match=r"QueryParams are immutable since 0\.18\.0") as info:
        getattr(params, method)(*args)
    assert message in str(info.value)
    assert str(params) == "a=0"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        # Deliberate difference: httpx uses `assert` for the first two (AssertionError, and no
        # check at all under `python -O`); a TypeError is what Python raises for bad arguments.
        (("a=1", "b=2"), {}, TypeError, "at most 1 positional argument (2 given)"),
        (("a=1",), {"b": "2"}, TypeError, "cannot mix a positional argument and keywords"),
        # httpx raises AttributeError ('int' object has no attribute 'items').
        ((42,), {}, TypeError, "got int: 42"),
        (
            ({"a": object()},),
            {},
            TypeError,
            "Expected str, int, float, bool, or None. Got 'object'",
        ),
        ((b"\xff=1",), {}, UnicodeDecodeError, "ascii"),
    ],
)
def test_query_params_bad_input(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        QueryParams(*args, **kwargs)
    assert message in str(info.value)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="ab &=+%/é", max_size=4),
        st.one_of(
            st.text(alphabet="xy &=+%/#é", max_size=4),
            st.integers(-5, 5),
            st.booleans(),
            st.none(),
            # Non-empty: see test_query_params_key_with_no_values_is_left_out.
            st.lists(st.text(alphabet="xy &+", max_size=3), min_size=1, max_size=3),
        ),
        max_size=4,
    )
)
def test_generated_params_match_httpx_and_survive_a_url(value: dict[str, Any]) -> None:
    ours = QueryParams(value)
    assert observe_params(ours) == observe_params(httpx.QueryParams(value))
    url = URL("https://example.com/", params=value)
    assert str(url) == str(httpx.URL("https://example.com/", params=value))
    assert url.params == ours


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("http:////admin", "http:////admin"),  # httpx writes "http://admin": host "admin"
        ("http://x@//proxy:8082/", "http://x@//proxy:8082/"),
        (":a://evil.example/", "./a://evil.example/"),  # an empty scheme, then a path
    ],
)
def test_a_host_less_url_never_gains_a_host_when_written_and_read_back(
    text: str, written: str
) -> None:
    # httpx's CVE-2021-41945 class: the string form re-parsed with a different host.
    url = URL(text)
    assert url.host == ""
    assert str(url) == written
    assert URL(str(url)).host == ""
    assert URL(str(url)).path == url.path or text.startswith(":")
