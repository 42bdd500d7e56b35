"""Cookies: the mapping API over CookieJar, conflicts, and the jar adapters."""

from __future__ import annotations

import time
from http.cookiejar import CookieJar
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from httplib._cookies import Cookies
from httplib._exceptions import CookieConflict
from httplib._models import Request, Response


def test_mapping_api() -> None:
    cookies = Cookies({"a": "1"})
    cookies["b"] = "2"
    assert dict(cookies) == {"a": "1", "b": "2"}
    assert len(cookies) == 2
    assert list(cookies) == ["a", "b"]
    assert "a" in cookies
    del cookies["b"]
    assert dict(cookies) == {"a": "1"}
    with pytest.raises(KeyError, match="zz"):
        cookies["zz"]


def test_bool_and_repr() -> None:
    assert not Cookies()
    cookies = Cookies([("a", "1")])
    cookies.set("b", "2", domain="example.com")
    assert cookies
    assert repr(cookies) == "<Cookies[<Cookie a=1 for  />, <Cookie b=2 for example.com />]>"
    assert repr(Cookies()) == "<Cookies[]>"


def test_get_raises_cookieconflict_when_ambiguous() -> None:
    cookies = Cookies()
    cookies.set("a", "1")
    cookies.set("a", "2", domain="example.com")
    with pytest.raises(CookieConflict, match="Multiple cookies exist with name=a"):
        cookies.get("a")
    assert cookies.get("a", domain="example.com") == "2"
    assert cookies.get("a", domain="") == "1"
    assert cookies.get("a", domain="other.com", path="/") is None
    assert cookies.get("missing", "fallback") == "fallback"


def test_set_with_path_and_get_by_path() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="example.com", path="/x")
    cookies.set("a", "2", domain="example.com", path="/y")
    assert cookies.get("a", path="/y") == "2"
    cookie = next(c for c in cookies.jar if c.path == "/x")
    assert cookie.domain_specified
    assert not cookie.domain_initial_dot


def test_delete_by_name_domain_and_path() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="one.com")
    cookies.set("a", "2", domain="two.com")
    cookies.set("b", "3", domain="one.com")
    cookies.delete("a", domain="one.com")
    assert repr(cookies) == "<Cookies[<Cookie b=3 for one.com />, <Cookie a=2 for two.com />]>"
    cookies.delete("a")
    assert dict(cookies) == {"b": "3"}
    del cookies["not-there"]  # a no-op, as in httpx
    assert dict(cookies) == {"b": "3"}


def test_clear_all_by_domain_and_by_path() -> None:
    cookies = Cookies()
    cookies.set("a", "1", domain="one.com", path="/p")
    cookies.set("b", "2", domain="one.com", path="/q")
    cookies.set("c", "3", domain="two.com")
    cookies.clear("one.com", "/p")
    assert sorted(cookies) == ["b", "c"]
    cookies.clear("one.com")
    assert list(cookies) == ["c"]
    cookies.clear()
    assert not cookies
    with pytest.raises(ValueError, match="needs a domain"):
        cookies.clear(path="/")


def test_update_and_copy_semantics() -> None:
    original = Cookies({"a": "1"})
    copy = Cookies(original)
    copy.update({"b": "2"})
    assert dict(copy) == {"a": "1", "b": "2"}
    assert dict(original) == {"a": "1"}
    jar = CookieJar()
    shared = Cookies(jar)
    shared["x"] = "1"
    assert shared.jar is jar
    assert len(jar) == 1


def test_wrong_type_is_refused() -> None:
    bad: Any = 1
    with pytest.raises(TypeError, match="Cookies must be"):
        Cookies(bad)


def cookies_set_by(url: str, *set_cookie: str) -> Cookies:
    """The cookies a response to GET `url` stores from its Set-Cookie headers."""
    headers = [("set-cookie", value) for value in set_cookie]
    return Response(200, headers=headers, request=Request("GET", url)).cookies


def test_extract_cookies_from_a_response_honours_domain_and_path() -> None:
    cookies = cookies_set_by(
        "https://www.example.com/a/b",
        "s=1; Path=/; Domain=example.com",
        "t=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
        "bad=3; Domain=evil.com",
    )
    assert repr(cookies) == (
        "<Cookies[<Cookie s=1 for .example.com />, <Cookie t=2 for www.example.com />]>"
    )
    assert cookies.get("t") == "2"
    sent = Request("GET", "https://www.example.com/a/x", cookies=cookies)
    assert sent.headers["cookie"] == "t=2; s=1"
    elsewhere = Request("GET", "https://www.example.com/other", cookies=cookies)
    assert elsewhere.headers["cookie"] == "s=1"


def test_secure_and_expired_cookies_are_left_out() -> None:
    cookies = cookies_set_by(
        "https://example.com/", "sec=1; Secure", "old=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )
    assert list(cookies) == ["sec"]
    assert "cookie" not in Request("GET", "http://example.com/", cookies=cookies).headers
    https = Request("GET", "https://example.com/", cookies=cookies)
    assert https.headers["cookie"] == "sec=1"


def test_user_cookie_header_is_not_overwritten() -> None:
    request = Request("GET", "https://x.com/", headers={"cookie": "zz=1"}, cookies={"q": "1"})
    assert request.headers["cookie"] == "zz=1"


@pytest.mark.parametrize(
    "set_cookies",
    [
        [("set-cookie", "a=1")],
        [("set-cookie", "a=1; Path=/p"), ("Set-Cookie", "b=2; Domain=example.com")],
        [("set-cookie", "a=1; Max-Age=100; HttpOnly"), ("set-cookie", "c=3; Path=/a/b")],
    ],
)
def test_same_cookies_as_httpx(set_cookies: list[tuple[str, str]]) -> None:
    url = "https://www.example.com/a/b/c"
    ours = Response(200, headers=set_cookies, request=Request("GET", url)).cookies
    theirs = httpx.Response(200, headers=set_cookies, request=httpx.Request("GET", url)).cookies
    assert repr(ours) == repr(theirs)
    assert dict(ours) == dict(theirs)
    for target in ("https://www.example.com/a/b/x", "https://www.example.com/p/q"):
        assert Request("GET", target, cookies=ours).headers.get("cookie") == httpx.Request(
            "GET", target, cookies=theirs
        ).headers.get("cookie")


# --- the jar's shortcuts against the stdlib's own code ------------------------------------

_DOMAINS = st.sampled_from(
    ["", "example.com", ".example.com", "a.example.com", ".a.example.com", "b.a.example.com",
     "other.org", ".org", "localhost", "127.0.0.1", "com"]
)  # fmt: skip
_HOSTS = st.sampled_from(
    ["example.com", "a.example.com", "b.a.example.com", "x.b.a.example.com", "other.org",
     "localhost", "127.0.0.1", "example.com.evil.net"]
)  # fmt: skip


def _cookie(name: str, value: str, domain: str, path: str, expires: int | None) -> Any:
    from http.cookiejar import Cookie

    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False, domain=domain,
        domain_specified=bool(domain), domain_initial_dot=domain.startswith("."), path=path,
        path_specified=True, secure=False, expires=expires, discard=False, comment=None,
        comment_url=None, rest={},
    )  # fmt: skip


@given(
    cookies=st.lists(
        st.tuples(
            _DOMAINS,
            st.sampled_from(["/", "/a", "/a/b"]),
            st.sampled_from(["s", "t", "u"]),
            st.sampled_from([None, -100.0, 100.0]),  # expired, session, or still valid
        ),
        max_size=12,
    ),
    host=_HOSTS,
    path=st.sampled_from(["/", "/a/b/c", "/x"]),
)
def test_the_cookie_header_is_the_stdlib_jars(
    cookies: list[tuple[str, str, str, float | None]], host: str, path: str
) -> None:
    """The jar that looks up only the domains a host can match, and sweeps only when a cookie
    is due, writes exactly the Cookie header the stdlib `CookieJar` writes."""
    now = time.time()
    ours, stdlib = Cookies(), CookieJar()
    assert type(ours.jar) is not CookieJar
    for number, (domain, cookie_path, name, expires_in) in enumerate(cookies):
        expires = None if expires_in is None else int(now + expires_in)
        for jar in (ours.jar, stdlib):
            jar.set_cookie(_cookie(name, str(number), domain, cookie_path, expires))
    url = f"http://{host}{path}"
    mine = Request("GET", url, cookies=ours)
    theirs = Request("GET", url, cookies=Cookies(stdlib))
    assert mine.headers.get("cookie") == theirs.headers.get("cookie")
    # Expired cookies are gone from both after a request, as the stdlib sweeps them.
    assert sorted((c.domain, c.path, c.name) for c in ours.jar) == sorted(
        (c.domain, c.path, c.name) for c in stdlib
    )


def test_a_domain_keeps_at_most_the_cap_and_loses_its_oldest_cookies_first() -> None:
    """A site setting cookie after cookie cannot grow its Cookie header without bound (curl's
    CVE-2022-32205): past the per-domain cap the longest-stored go; other domains keep theirs."""
    from httplib._cookies import MAX_COOKIES_PER_DOMAIN

    cookies = Cookies()
    cookies.set("keep", "1", domain="other.example")
    for number in range(MAX_COOKIES_PER_DOMAIN + 50):
        cookies.set(f"c{number}", str(number), domain="flood.example")
    names = {c.name for c in cookies.jar if c.domain == "flood.example"}
    assert len(names) == MAX_COOKIES_PER_DOMAIN
    assert names == {f"c{n}" for n in range(50, MAX_COOKIES_PER_DOMAIN + 50)}
    assert cookies.get("keep", domain="other.example") == "1"

    # Setting an existing cookie again makes it the newest: it outlives the next eviction.
    cookies.set("c50", "again", domain="flood.example")
    cookies.set("new", "x", domain="flood.example")
    names = {c.name for c in cookies.jar if c.domain == "flood.example"}
    assert {"c50", "new"} <= names
    assert "c51" not in names

    request = Request("GET", "http://flood.example/", cookies=cookies)
    assert request.headers["cookie"].count("=") == MAX_COOKIES_PER_DOMAIN
