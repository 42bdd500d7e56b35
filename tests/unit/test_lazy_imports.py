"""Slow stdlib modules load only when the feature needing them is used, not on `import httplib`."""

from __future__ import annotations

import subprocess
import sys
from http.cookiejar import CookieJar

import pytest

from httplib._cookies import Cookies

_LAZY = ("http.cookiejar", "urllib.request", "http.client", "email", "netrc", "hashlib")


def _loaded_after(code: str) -> set[str]:
    script = f"import sys, httplib\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    return set(result.stdout.split())


def test_import_httplib_loads_none_of_the_slow_modules() -> None:
    assert not set(_LAZY) & _loaded_after("")


def test_a_request_without_cookies_does_not_load_the_cookie_jar() -> None:
    loaded = _loaded_after("httplib.Client().build_request('GET', 'http://h/')")
    assert "http.cookiejar" not in loaded


def test_an_empty_cookies_is_falsy_and_fills_on_first_set() -> None:
    cookies = Cookies()
    assert not cookies
    assert len(cookies) == 0
    cookies["a"] = "1"
    assert cookies
    assert cookies["a"] == "1"
    assert isinstance(cookies.jar, CookieJar)


def test_a_given_jar_is_used_as_is_and_other_types_are_refused() -> None:
    jar = CookieJar()
    assert Cookies(jar).jar is jar
    with pytest.raises(TypeError, match="42"):
        Cookies(42)  # type: ignore[arg-type]


def test_import_httplib_does_not_load_asyncio() -> None:
    # A sync-only program pays nothing for the async client.
    assert "asyncio" not in _loaded_after("")
