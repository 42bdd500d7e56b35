"""`Cookies`: a mutable mapping of cookie names to values over a stdlib `CookieJar`.

The jar does the RFC 6265 work (domain and path matching, `Secure`, expiry); this module only
gives it the mapping API httpx users know and the two small adapters the jar needs to read a
response's `Set-Cookie` headers and to write a request's `Cookie` header.

`http.cookiejar` (with the urllib.request, http.client and email modules it pulls in) is about
a quarter of `import httplib`'s time, so it is imported only once cookies are actually used: a
`Cookies` creates its jar on first use, and an empty one (every client's, until a response sets
a cookie) answers `bool()` without it.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from ._exceptions import CookieConflict
from ._types import CookieTypes

if TYPE_CHECKING:  # pragma: no cover
    import email.message
    from http.cookiejar import Cookie, CookieJar

    from ._models import Request, Response

__all__ = ["Cookies"]


class Cookies(MutableMapping[str, str]):
    """Cookie name -> value, backed by `jar`; names may repeat across domains and paths."""

    _jar: CookieJar | None = None  # until the first use of `jar`

    def __init__(self, cookies: CookieTypes | None = None) -> None:
        if isinstance(cookies, Cookies):
            # A fresh jar holding the same cookies, so the two objects do not share state.
            if cookies._jar is not None:
                jar = self.jar
                for cookie in cookies._jar:
                    jar.set_cookie(cookie)
        elif cookies is None or isinstance(cookies, dict | list):
            pairs = cookies.items() if isinstance(cookies, dict) else (cookies or [])
            for name, value in pairs:
                self.set(name, value)
        elif _is_cookie_jar(cookies):
            self.jar = cookies
        else:
            raise TypeError(
                "Cookies must be a dict, a list of (name, value) pairs, a Cookies or a "
                f"CookieJar, not {type(cookies).__name__}: {cookies!r}"
            )

    @property
    def jar(self) -> CookieJar:
        """The stdlib `CookieJar` holding the cookies (created on first use)."""
        jar = self._jar
        if jar is None:
            # setdefault is atomic: threads racing to create the jar all keep the first one.
            jar = self.__dict__.setdefault("_jar", _jar_class()())
        return jar

    @jar.setter
    def jar(self, jar: CookieJar) -> None:
        self._jar = jar

    def extract_cookies(self, response: Response) -> None:
        """Store the cookies set by `response`'s `Set-Cookie` headers, as its request allows."""
        adapter = _request_adapter_class()(response.request)
        self.jar.extract_cookies(_ResponseAdapter(response), adapter)  # type: ignore[arg-type]

    def set_cookie_header(self, request: Request) -> None:
        """Add a `Cookie` header to `request` with the stored cookies that match its URL."""
        self.jar.add_cookie_header(_request_adapter_class()(request))

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Store a cookie; an empty `domain` makes it match any host."""
        from http.cookiejar import Cookie

        cookie = Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=domain,
            domain_specified=bool(domain),
            domain_initial_dot=domain.startswith("."),
            path=path,
            path_specified=bool(path),
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            # Marks the cookie HttpOnly the way httpx does (an attribute without a value).
            rest={"HttpOnly": None},  # type: ignore[dict-item]
            rfc2109=False,
        )
        self.jar.set_cookie(cookie)

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | None:
        """The value of cookie `name`, narrowed by `domain` and `path` when given.

        Raises `CookieConflict` when several cookies match, since picking one would be a guess.
        """
        found = list(self._matching(name, domain, path))
        if len(found) > 1:
            raise CookieConflict(f"Multiple cookies exist with name={name}")
        if not found or found[0].value is None:
            return default
        return found[0].value

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie called `name` (within `domain` and `path` when given)."""
        for cookie in list(self._matching(name, domain, path)):
            self.jar.clear(cookie.domain, cookie.path, cookie.name)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove all cookies, or those of `domain` (and `path`); see `CookieJar.clear`."""
        if domain is None:
            if path is not None:
                raise ValueError("Cookies.clear() needs a domain when a path is given.")
            self.jar.clear()
        elif path is None:
            self.jar.clear(domain)
        else:
            self.jar.clear(domain, path)

    def update(self, cookies: CookieTypes | None = None) -> None:  # type: ignore[override]
        for cookie in Cookies(cookies).jar:
            self.jar.set_cookie(cookie)

    def _matching(self, name: str, domain: str | None, path: str | None) -> Iterator[Cookie]:
        for cookie in self.jar:
            if (
                cookie.name == name
                and (domain is None or cookie.domain == domain)
                and (path is None or cookie.path == path)
            ):
                yield cookie

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __delitem__(self, name: str) -> None:
        # As in httpx, deleting an absent name is a no-op rather than a KeyError.
        self.delete(name)

    def __len__(self) -> int:
        return len(self.jar)

    def __iter__(self) -> Iterator[str]:
        return (cookie.name for cookie in self.jar)

    def __bool__(self) -> bool:
        # An empty jar's domain table is empty (checked per request, so skip iterating it);
        # a cleared one may keep empty tables, so a non-empty table is iterated to be sure.
        jar = self._jar
        if jar is None or not getattr(jar, "_cookies", True):
            return False
        return any(True for _ in jar)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"<Cookie {cookie.name}={cookie.value} for {cookie.domain} />" for cookie in self.jar
        )
        return f"<Cookies[{shown}]>"


def _is_cookie_jar(value: object) -> bool:
    # A CookieJar can only exist once its module was imported, so this never imports it.
    module = sys.modules.get("http.cookiejar")
    return module is not None and isinstance(value, module.CookieJar)


# At most this many cookies per domain: a site (or a sibling host sharing its parent domain)
# that sets more cannot grow every later request's Cookie header without bound; the oldest
# go first. curl's limit, after CVE-2022-32205 (catalogue 2.I #52); browsers keep 150-180.
MAX_COOKIES_PER_DOMAIN = 150


@functools.cache
def _jar_class() -> type[CookieJar]:
    """The stdlib `CookieJar`, made fast for jars holding many domains (defined on first use:
    http.cookiejar is slow to import).

    Per request the stdlib jar asks its policy about every stored domain (a URL parse each) and
    sweeps every cookie for expiry: about 2 ms per request with 1,000 cookies over 500 domains.
    This one asks only about the domains a host can match, and sweeps only once a cookie is due,
    so that case costs what an empty jar does. Both shortcuts hold for the default policy's
    rules only; with any other policy the stdlib code runs.
    """
    import http.cookiejar
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    # (public in the module, missing from typeshed's stub)
    eff_request_host = http.cookiejar.eff_request_host  # type: ignore[attr-defined]

    class _Jar(CookieJar):
        def __init__(self, policy: Any = None) -> None:
            super().__init__(policy)
            self._next_expiry = float("inf")  # the earliest `expires` of a stored cookie
            self._stored = 0  # cookies stored so far: each one's number orders evictions

        def set_cookie(self, cookie: Cookie) -> None:
            with self._cookies_lock:  # type: ignore[attr-defined]  # (an RLock: re-entered)
                super().set_cookie(cookie)
                expires = cookie.expires
                if expires is not None and expires < self._next_expiry:
                    self._next_expiry = expires
                self._stored += 1
                cookie._httplib_stored = self._stored  # type: ignore[attr-defined]
                paths = self._cookies[cookie.domain]  # type: ignore[attr-defined]
                if sum(map(len, paths.values())) > MAX_COOKIES_PER_DOMAIN:
                    self._evict_oldest(cookie.domain, paths)

        def _evict_oldest(self, domain: str, paths: dict[str, dict[str, Cookie]]) -> None:
            """Drop the domain's longest-stored cookie (curl's rule for its per-domain cap)."""
            oldest = min(
                (c for names in paths.values() for c in names.values()),
                key=lambda c: getattr(c, "_httplib_stored", 0),
            )
            self.clear(domain, oldest.path, oldest.name)

        def clear_expired_cookies(self) -> None:
            if time.time() < self._next_expiry:
                return  # nothing stored is due yet
            super().clear_expired_cookies()
            self._next_expiry = min(
                (c.expires for c in self if c.expires is not None), default=float("inf")
            )

        def _cookies_for_request(self, request: Any) -> list[Cookie]:
            if type(self._policy) is not DefaultCookiePolicy:  # type: ignore[attr-defined]
                return super()._cookies_for_request(request)  # type: ignore[misc, no-any-return]
            # DefaultCookiePolicy.domain_return_ok passes a stored domain only when the host
            # (or its effective name) ends with it at a dot: the host's own suffixes, with and
            # without a leading dot, and "" (a cookie set without a domain matches any host).
            # Visited in the order they were stored, as the stdlib does.
            candidates: set[str] = {""}
            for name in eff_request_host(request):
                labels = name.split(".")
                for i in range(len(labels)):
                    suffix = ".".join(labels[i:])
                    candidates.add(suffix)
                    candidates.add("." + suffix)
            table = self._cookies  # type: ignore[attr-defined]
            cookies: list[Cookie] = []
            if len(candidates) < len(table):
                present = [d for d in candidates if d in table]
                if len(present) > 1:
                    order = {d: i for i, d in enumerate(table)}
                    present.sort(key=order.__getitem__)
            else:
                present = list(table)
            for domain in present:
                cookies.extend(self._cookies_for_domain(domain, request))  # type: ignore[attr-defined]
            return cookies

    return _Jar


@functools.cache
def _request_adapter_class() -> type[Any]:
    """The urllib request type the jar reads, defined on first use (urllib.request is slow)."""
    import urllib.request

    class _RequestAdapter(urllib.request.Request):
        """Shows a `Request` to the jar as a urllib request; a header the jar adds lands on it."""

        def __init__(self, request: Request) -> None:
            super().__init__(
                url=str(request.url), headers=dict(request.headers), method=request.method
            )
            self.request = request

        def add_unredirected_header(self, key: str, header: str) -> None:
            super().add_unredirected_header(key, header)
            self.request.headers[key] = header

    return _RequestAdapter


class _ResponseAdapter:
    """Shows a `Response` to the jar: `info()` is all `CookieJar.extract_cookies` reads."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def info(self) -> email.message.Message:
        import email.message

        message = email.message.Message()
        for name, value in self.response.headers.multi_items():
            # Set-Cookie must stay one field per cookie: joining them would corrupt dates.
            message[name] = value
        return message
