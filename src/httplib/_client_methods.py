"""`request`, `stream` and the method shortcuts (`get`, `post`, ...), written once.

`Client` and `AsyncClient` inherit them; only `send` and `_stream` differ between the two.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._client_base import USE_CLIENT_DEFAULT, UseClientDefault
from ._models import Request
from ._types import (
    AuthTypes,
    CookieTypes,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
)
from ._urls import URL

__all__ = ["Methods"]

R = TypeVar("R")  # what the request methods return: a Response, or a coroutine of one
S = TypeVar("S")  # what `stream()` returns: a sync or async context manager

_COOKIES_DEPRECATED = (
    "Setting per-request cookies=<...> is being deprecated, because the expected behaviour on "
    "cookie persistence is ambiguous. Set cookies directly on the client instance instead."
)

# httplib's own source files: a warning is reported at the first frame outside them.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_level() -> int:
    """The `stacklevel` of the first frame outside httplib, for a warning raised by the
    function calling this: the user's line, whichever entry point (a shortcut, `request`,
    `stream`, a sync or async client, a subclass's override of ours) led there."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


class Methods(Generic[R, S]):
    """`request`, `stream` and the method shortcuts, written once for both clients.

    Each builds a request and hands it to `send` (or `_stream`), which return a `Response`
    in `Client` and a coroutine of one in `AsyncClient`.
    """

    build_request: Callable[..., Request]

    def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> R:
        raise NotImplementedError  # pragma: no cover

    def _stream(
        self,
        request: Request,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
    ) -> S:
        raise NotImplementedError  # pragma: no cover

    def request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Build a request from the arguments merged with the client's settings, and send it."""
        request = self._build_call(
            (method, url, content, data, files, json, params, headers, cookies, timeout,
             extensions),
        )  # fmt: skip
        return self.send(request, auth=auth, follow_redirects=follow_redirects)

    def _build_call(self, unbuilt: tuple[Any, ...]) -> Request:
        """The request of a call's arguments (method, url, content, data, files, json, params,
        headers, cookies, timeout, extensions), for `request` and AsyncClient's shortcuts;
        per-request cookies warn as in httpx, at the caller's line."""
        method, url, content, data, files, json, params, headers, cookies, timeout, extensions = (
            unbuilt
        )
        if cookies is not None:
            warnings.warn(_COOKIES_DEPRECATED, DeprecationWarning, stacklevel=_caller_level())
        return self.build_request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, timeout=timeout, extensions=extensions,
        )  # fmt: skip

    def _shortcut(
        self,
        method: str,
        url: URL | str,
        content: RequestContent | None,
        data: RequestData | None,
        files: RequestFiles | None,
        json: Any | None,
        params: QueryParamTypes | None,
        headers: HeaderTypes | None,
        cookies: CookieTypes | None,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
        timeout: TimeoutTypes | UseClientDefault,
        extensions: RequestExtensions | None,
    ) -> R:
        """What a method shortcut (`get`, `post`, ...) does with its arguments, in `request`'s
        order: call `request`, as httpx's shortcuts do, so a subclass's or a test's `request`
        sees every call."""
        return self.request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, auth=auth, follow_redirects=follow_redirects,
            timeout=timeout, extensions=extensions,
        )  # fmt: skip

    def stream(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> S:
        """Like `request`, but a context manager whose response body is read on demand."""
        request = self.build_request(
            method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, timeout=timeout, extensions=extensions,
        )  # fmt: skip
        return self._stream(request, auth, follow_redirects)

    def get(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a GET request (no body arguments: GET requests carry none)."""
        return self._shortcut(
            "GET", url, None, None, None, None, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def options(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send an OPTIONS request."""
        return self._shortcut(
            "OPTIONS", url, None, None, None, None, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def head(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a HEAD request."""
        return self._shortcut(
            "HEAD", url, None, None, None, None, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def delete(
        self,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a DELETE request."""
        return self._shortcut(
            "DELETE", url, None, None, None, None, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def post(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a POST request."""
        return self._shortcut(
            "POST", url, content, data, files, json, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def put(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a PUT request."""
        return self._shortcut(
            "PUT", url, content, data, files, json, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip

    def patch(
        self,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> R:
        """Send a PATCH request."""
        return self._shortcut(
            "PATCH", url, content, data, files, json, params, headers, cookies, auth,
            follow_redirects, timeout, extensions,
        )  # fmt: skip


def drop_method(arguments: dict[str, Any]) -> dict[str, Any]:
    """A method shortcut's own arguments, minus `self` and `url`, to pass on to `request`."""
    return {k: v for k, v in arguments.items() if k not in ("self", "url")}
