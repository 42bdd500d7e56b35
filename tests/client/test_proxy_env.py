"""Proxies from the environment, pure: `environment_proxies(environ)` and where its mounts send
each URL. httpx 0.28's `get_environment_proxies` is the reference (compared directly where we
agree); the documented departures (CIDR ranges, bracketed IPv6, entries httpx cannot parse) are
tested on their own."""

from __future__ import annotations

import os
import re

import httpx
import pytest
from httpx._utils import URLPattern as HttpxPattern
from httpx._utils import get_environment_proxies

from httplib._core.mounts import Mounts, URLPattern
from httplib._exceptions import InvalidURL
from httplib._proxy_env import environment_proxies
from httplib._urls import URL

PROXY = "http://proxy.internal:3128"


def route(environ: dict[str, str], url: str) -> str | None:
    """The proxy URL a request to `url` goes through under `environ`, or None for direct."""
    mounts: Mounts[str] = Mounts(environment_proxies(environ))
    chosen = mounts.route(URL(url), "direct")
    return None if chosen == "direct" else chosen


def no_proxy(entries: str) -> dict[str, str]:
    return {"ALL_PROXY": PROXY, "NO_PROXY": entries}


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without any proxy variable (or CGI marker) of the host's."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    return monkeypatch


# --- the proxy variables ------------------------------------------------------------------------


def test_each_scheme_variable_mounts_its_scheme() -> None:
    environ = {
        "HTTP_PROXY": "http://h:1",
        "HTTPS_PROXY": "http://s:2",
        "ALL_PROXY": "socks5://a:3",
    }
    assert environment_proxies(environ) == {
        "http://": "http://h:1",
        "https://": "http://s:2",
        "all://": "socks5://a:3",
    }
    assert route(environ, "http://example.com/") == "http://h:1"
    assert route(environ, "https://example.com/") == "http://s:2"
    assert route(environ, "ws://example.com/") == "socks5://a:3"


def test_a_value_without_scheme_is_an_http_proxy() -> None:
    environ = {"HTTPS_PROXY": "proxy.internal:3128", "HTTP_PROXY": "10.0.0.1"}
    assert environment_proxies(environ) == {
        "http://": "http://10.0.0.1",
        "https://": "http://proxy.internal:3128",
    }


def test_lowercase_names_work_and_win_over_uppercase() -> None:
    assert environment_proxies({"https_proxy": "http://low"}) == {"https://": "http://low"}
    both = {"HTTPS_PROXY": "http://UP", "https_proxy": "http://low"}
    assert environment_proxies(both) == {"https://": "http://low"}
    reversed_order = {"https_proxy": "http://low", "HTTPS_PROXY": "http://UP"}
    assert environment_proxies(reversed_order) == {"https://": "http://low"}


def test_mixed_case_names_count_as_lowercase_when_the_suffix_is() -> None:
    # urllib's rule: the second pass, which wins, looks at names ending in lowercase `_proxy`.
    assert environment_proxies({"Http_Proxy": "x"}) == {"http://": "http://x"}
    environ = {"HTTP_proxy": "http://second-pass", "http_PROXY": "http://first-pass"}
    assert environment_proxies(environ) == {"http://": "http://second-pass"}


def test_empty_values_set_nothing_and_an_empty_lowercase_one_unsets() -> None:
    assert environment_proxies({"HTTP_PROXY": "", "HTTPS_PROXY": ""}) == {}
    assert environment_proxies({"HTTP_PROXY": "http://up", "http_proxy": ""}) == {}
    assert environment_proxies({"NO_PROXY": "", "ALL_PROXY": PROXY}) == {"all://": PROXY}


def test_other_proxy_variables_are_ignored() -> None:
    environ = {"FTP_PROXY": "http://f", "TRAVIS_APT_PROXY": "http://t", "PROXY": "http://p"}
    assert environment_proxies(environ) == {}


def test_cgi_scripts_ignore_uppercase_http_proxy() -> None:
    # CVE-2016-1000110 ("httpoxy"): under CGI, HTTP_PROXY can be a client's `Proxy:` header.
    cgi = {"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://attacker", "HTTPS_PROXY": "http://s"}
    assert environment_proxies(cgi) == {"https://": "http://s"}
    assert environment_proxies({**cgi, "http_proxy": "http://mine"})["http://"] == "http://mine"


def test_the_process_environment_is_read_by_default(clean_environ: pytest.MonkeyPatch) -> None:
    assert environment_proxies() == {}
    clean_environ.setenv("HTTPS_PROXY", "proxy.internal:3128")
    clean_environ.setenv("NO_PROXY", "localhost")
    assert environment_proxies() == {
        "https://": "http://proxy.internal:3128",
        "all://localhost": None,
    }


def test_every_look_sees_the_environment_as_it_is_now(clean_environ: pytest.MonkeyPatch) -> None:
    # (the names seen last are remembered to skip the scan: any change must still show)
    assert environment_proxies() == {}
    clean_environ.setenv("ALL_PROXY", "http://first:1")
    assert environment_proxies() == {"all://": "http://first:1"}
    clean_environ.setenv("ALL_PROXY", "http://second:2")  # same names, another value
    assert environment_proxies() == {"all://": "http://second:2"}
    clean_environ.delenv("ALL_PROXY")
    assert environment_proxies() == {}


# --- NO_PROXY -----------------------------------------------------------------------------------


def test_star_disables_every_proxy_wherever_it_is_listed() -> None:
    assert environment_proxies(no_proxy("*")) == {}
    assert environment_proxies(no_proxy("example.com, *")) == {}
    assert route(no_proxy(" * "), "http://anything/") is None


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [
        ("localhost", "all://localhost"),
        ("LOCALHOST", "all://LOCALHOST"),
        ("127.0.0.1", "all://127.0.0.1"),
        ("::1", "all://[::1]"),
        ("example.com", "all://*example.com"),
        (".example.com", "all://*.example.com"),
        ("example.com:8080", "all://*example.com:8080"),
        ("127.0.0.1:8080", "all://*127.0.0.1:8080"),
        ("http://example.com", "http://example.com"),
        ("10.0.0.0/8", "all://10.0.0.0/8"),
    ],
)
def test_entries_become_httpx_patterns(entry: str, pattern: str) -> None:
    assert environment_proxies(no_proxy(entry)) == {"all://": PROXY, pattern: None}


@pytest.mark.parametrize(
    ("entries", "direct", "proxied"),
    [
        ("localhost", ["http://localhost:8000/", "https://LOCALHOST/"], ["http://127.0.0.1/"]),
        ("127.0.0.1", ["http://127.0.0.1:8000/"], ["http://127.0.0.2/", "http://localhost/"]),
        # A domain: itself and its subdomains, never a name that merely ends the same way.
        (
            "example.com",
            ["https://example.com/", "http://www.example.com/", "http://a.b.example.com:81/"],
            ["http://notexample.com/", "http://example.com.evil/"],
        ),
        ("EXAMPLE.com", ["https://example.com/", "http://www.example.com/"], []),
        # A leading dot: subdomains only (httpx; curl would bypass the domain too).
        (".example.com", ["http://www.example.com/"], ["http://example.com/"]),
        # `*.example.com` is not a NO_PROXY form to httpx, curl or urllib: it matches nothing.
        ("*.example.com", [], ["http://www.example.com/", "http://example.com/"]),
        # With a port: that port only.
        (
            "example.com:8080",
            ["http://example.com:8080/", "http://www.example.com:8080/"],
            ["http://example.com/", "https://example.com:8443/"],
        ),
        ("127.0.0.1:8080", ["http://127.0.0.1:8080/"], ["http://127.0.0.1:8081/"]),
        # A full URL: that scheme only.
        ("http://example.com", ["http://example.com/"], ["https://example.com/"]),
        # IPv6, as written or bracketed; with a port only when bracketed.
        ("::1", ["http://[::1]:8000/", "https://[::1]/"], ["http://[::2]/"]),
        ("[::1]", ["http://[::1]:8000/"], ["http://[::2]/"]),
        ("[::1]:8080", ["http://[::1]:8080/"], ["http://[::1]:8081/"]),
        # Several entries, spaces around them, empty ones.
        (
            " a.test ,, b.test , ",
            ["http://a.test/", "http://x.b.test/"],
            ["http://c.test/"],
        ),
    ],
)
def test_no_proxy_entries_route_direct(entries: str, direct: list[str], proxied: list[str]) -> None:
    for url in direct:
        assert route(no_proxy(entries), url) is None, url
    for url in proxied:
        assert route(no_proxy(entries), url) == PROXY, url


def test_no_proxy_is_read_in_lowercase_too_and_lowercase_wins() -> None:
    assert route({"ALL_PROXY": PROXY, "no_proxy": "a.test"}, "http://a.test/") is None
    environ = {"ALL_PROXY": PROXY, "NO_PROXY": "a.test", "no_proxy": "b.test"}
    assert route(environ, "http://b.test/") is None
    assert route(environ, "http://a.test/") == PROXY


def test_no_proxy_alone_mounts_only_exclusions() -> None:
    assert environment_proxies({"NO_PROXY": "a.test"}) == {"all://*a.test": None}


# --- where we follow curl: CIDR ranges ----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "direct", "proxied"),
    [
        (
            "10.0.0.0/8",
            ["http://10.0.0.0/", "http://10.1.2.3:8080/", "https://10.255.255.255/"],
            ["http://11.0.0.1/", "http://9.255.255.255/", "http://10.example/"],
        ),
        ("192.168.1.0/24", ["http://192.168.1.77/"], ["http://192.168.2.1/"]),
        ("10.1.2.3/8", ["http://10.200.0.1/"], ["http://11.1.2.3/"]),  # host bits ignored
        ("127.0.0.1/32", ["http://127.0.0.1/"], ["http://127.0.0.2/"]),
        ("0.0.0.0/0", ["http://8.8.8.8/"], ["http://localhost/", "http://[::1]/"]),
        ("fd00::/8", ["http://[fd12:3456::1]/", "https://[fdff::]:8443/"], ["http://[fe80::1]/"]),
        ("[fd00::]/8", ["http://[fd12::1]/"], ["http://[fc00::1]/"]),
        ("::1/128", ["http://[::1]/", "http://[0:0::1]/"], ["http://[::2]/"]),
    ],
)
def test_cidr_ranges_cover_every_ip_literal_inside(
    entry: str, direct: list[str], proxied: list[str]
) -> None:
    for url in direct:
        assert route(no_proxy(entry), url) is None, url
    for url in proxied:
        assert route(no_proxy(entry), url) == PROXY, url


def test_httpx_reads_an_ipv4_range_as_its_network_address_only() -> None:
    """The departure itself: httpx's pattern for `10.0.0.0/8` matches only `10.0.0.0`."""
    key = "all://10.0.0.0/8"
    assert environment_proxies(no_proxy("10.0.0.0/8")) == {"all://": PROXY, key: None}
    assert HttpxPattern(key).matches(httpx.URL("http://10.0.0.0/"))
    assert not HttpxPattern(key).matches(httpx.URL("http://10.1.2.3/"))
    assert route(no_proxy("10.0.0.0/8"), "http://10.1.2.3/") is None


# --- entries httpx cannot parse -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "httpx_pattern", "direct"),
    [
        ("[::1]", "all://*[::1]", "http://[::1]/"),
        ("[::1]:8080", "all://*[::1]:8080", "http://[::1]:8080/"),
        ("fd00::/8", "all://[fd00::/8]", "http://[fd00::1]/"),
    ],
)
def test_entries_that_break_httpx_work_here(entry: str, httpx_pattern: str, direct: str) -> None:
    # httpx builds this pattern from the entry, then fails on it (so does every Client()).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("httpx._utils.getproxies", lambda: {"all": PROXY, "no": entry})
        assert httpx_pattern in get_environment_proxies()
    with pytest.raises(httpx.InvalidURL):
        HttpxPattern(httpx_pattern)
    assert route(no_proxy(entry), direct) is None


@pytest.mark.parametrize("entry", ["a.test:port", "[nonsense]", "10.0.0.0/33", "[fd00::]/129"])
def test_an_unusable_entry_is_skipped_and_the_others_still_apply(entry: str) -> None:
    environ = no_proxy(f"{entry},b.test")
    assert environment_proxies(environ) == {"all://": PROXY, "all://*b.test": None}
    assert route(environ, "http://b.test/") is None
    assert route(environ, "http://a.test/") == PROXY


def test_an_invalid_range_as_a_mount_key_is_invalid_url() -> None:
    with pytest.raises(InvalidURL, match=re.escape("Invalid IP range in URL pattern 'all://10.0")):
        URLPattern("all://10.0.0.0/33")


# --- the same answers as httpx ------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_PROXY": "p:3128", "NO_PROXY": "localhost,127.0.0.1,::1,.a.test,b.test:81"},
        {"https_proxy": "http://low", "HTTPS_PROXY": "http://up", "no_proxy": "http://x.test"},
        {"HTTP_PROXY": "http://up", "http_proxy": ""},
        {"ALL_PROXY": "socks5://s:1080", "NO_PROXY": "a.test, *"},
        {"HTTP_PROXY": "http://b", "REQUEST_METHOD": "GET", "HTTPS_PROXY": "https://s"},
        {"FTP_PROXY": "http://f", "NO_PROXY": "10.0.0.0/8"},
    ],
)
def test_mounts_match_httpx(clean_environ: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    for name, value in environ.items():
        clean_environ.setenv(name, value)
    assert environment_proxies() == get_environment_proxies()
    assert environment_proxies(environ) == get_environment_proxies()
