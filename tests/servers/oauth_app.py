"""An OAuth2 token endpoint (RFC 6749) and a protected API beside it, as one ASGI app.

Run under uvicorn by `tests/auth/conftest.py`. The test thread reads its counters and flips
its controls between requests; the server's loop only appends and reads (the GIL orders them).

Endpoints:
  POST /token            client_credentials and refresh_token grants; client authentication by
                         HTTP Basic (RFC 6749 section 2.3.1: each part form-urlencoded) or in
                         the form; RFC 6749 section 5.2 JSON errors; refresh tokens rotate
                         when `rotate` is set
  GET  /api/resource     200 with the token it saw, or 401 with a Bearer challenge
                         (`error="invalid_token"` for a token it does not know, none for a
                         request without one: RFC 6750 section 3)
  GET  /api/always-401   401 `invalid_token` whatever the token (a server that never accepts)
  GET  /api/redirect?to= 302 to `to`, for any caller
  POST /api/upload       like /api/resource, after reading the body
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class TokenCall:
    """One request the token endpoint received, as it arrived."""

    authorization: str | None
    form: dict[str, str]
    body: bytes
    client_id: str | None = None
    client_secret: str | None = None
    method: str = "none"  # "basic", "post" or "none": how the client authenticated


@dataclass
class OAuthApp:
    """The server's state and controls; an ASGI callable."""

    clients: dict[str, str] = field(default_factory=dict)
    expires_in: int | None = 3600
    rotate: bool = True
    token_calls: list[TokenCall] = field(default_factory=list)
    api_calls: list[str | None] = field(default_factory=list)  # the bearer token of each
    valid_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    # Controls: the next token request waits for `hold` (at most 10 s) when it is set (and
    # `token_arrived` is set when a token request comes in); a
    # `broken` answer replaces the next token response: ("status", code, content_type, body)
    # or ("cut",) to close the connection in the middle of the body, or ("endless", chunks) for
    # a JSON body of that many 64 KiB chunks, without Content-Length.
    hold: threading.Event | None = None
    token_arrived: threading.Event = field(default_factory=threading.Event)
    broken: tuple[Any, ...] | None = None
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.clients = {}
        self.expires_in = 3600
        self.rotate = True
        self.token_calls.clear()
        self.api_calls.clear()
        self.valid_tokens.clear()
        self.refresh_tokens.clear()
        self.hold = None
        self.token_arrived = threading.Event()
        self.broken = None

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far stops working (as an expiry would)."""
        self.valid_tokens.clear()

    def issue_refresh_token(self) -> str:
        token = f"rt-{next(self._serial)}"
        self.refresh_tokens.add(token)
        return token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if path == "/token" and scope["method"] == "POST":
            await self._token(headers, body, send)
        elif path in ("/api/resource", "/api/upload"):
            await self._api(headers, send)
        elif path == "/api/always-401":
            self.api_calls.append(_bearer(headers))
            await _respond(send, 401, b"", [(b"www-authenticate", b'Bearer error="invalid_token"')])
        elif path == "/api/redirect":
            target = dict(parse_qsl(scope["query_string"].decode()))["to"]
            await _respond(send, 302, b"", [(b"location", target.encode())])
        else:
            await _respond(send, 404, b"")

    async def _api(self, headers: dict[str, str], send: Send) -> None:
        token = _bearer(headers)
        self.api_calls.append(token)
        if token is None:
            await _respond(send, 401, b"", [(b"www-authenticate", b'Bearer realm="api"')])
        elif token not in self.valid_tokens:
            challenge = b'Bearer realm="api", error="invalid_token"'
            await _respond(send, 401, b"", [(b"www-authenticate", challenge)])
        else:
            await _respond(send, 200, json.dumps({"token": token}).encode(), json_type=True)

    async def _token(self, headers: dict[str, str], body: bytes, send: Send) -> None:
        call = TokenCall(headers.get("authorization"), dict(parse_qsl(body.decode())), body)
        self.token_calls.append(call)
        self.token_arrived.set()
        hold, self.hold = self.hold, None
        if hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 10)
        broken, self.broken = self.broken, None
        if broken is not None:
            await _broken(send, broken)
            return
        _identify(call)
        if call.client_id is not None and call.client_id not in self.clients:
            return await _error(send, 401, "invalid_client", "Unknown client")
        if call.client_secret is not None and self.clients[call.client_id or ""] != (
            call.client_secret
        ):
            return await _error(send, 401, "invalid_client", "Client authentication failed")
        grant = call.form.get("grant_type")
        answer: dict[str, Any] = {"token_type": "Bearer"}
        if grant == "client_credentials":
            if call.client_secret is None:
                return await _error(send, 401, "invalid_client", "Client authentication needed")
            if "scope" in call.form:
                answer["scope"] = call.form["scope"]
        elif grant == "refresh_token":
            refresh = call.form.get("refresh_token", "")
            if refresh not in self.refresh_tokens:
                return await _error(send, 400, "invalid_grant", "The refresh token is not valid")
            if self.rotate:
                self.refresh_tokens.discard(refresh)
                answer["refresh_token"] = self.issue_refresh_token()
        else:
            return await _error(send, 400, "unsupported_grant_type", f"grant {grant!r}")
        access = f"at-{next(self._serial)}"
        self.valid_tokens.add(access)
        answer["access_token"] = access
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        await _respond(send, 200, json.dumps(answer).encode(), json_type=True)


def _identify(call: TokenCall) -> None:
    """Find the client's credentials (RFC 6749 section 2.3.1) and how they came."""
    if call.authorization and call.authorization.lower().startswith("basic "):
        decoded = base64.b64decode(call.authorization[6:]).decode()
        client_id, _, secret = decoded.partition(":")
        call.client_id, call.client_secret = unquote_plus(client_id), unquote_plus(secret)
        call.method = "basic"
    elif "client_id" in call.form:
        call.client_id = call.form["client_id"]
        call.client_secret = call.form.get("client_secret")
        call.method = "post"


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    json_type: bool = False,
) -> None:
    content_type = b"application/json" if json_type else b"text/plain"
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + (headers or [])})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, error: str, description: str) -> None:
    """An RFC 6749 section 5.2 error document."""
    body = json.dumps({"error": error, "error_description": description}).encode()
    extra = [(b"www-authenticate", b'Basic realm="token"')] if status == 401 else []
    await _respond(send, status, body, extra, json_type=True)


async def _broken(send: Send, how: tuple[Any, ...]) -> None:
    if how[0] == "cut":
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send({**start, "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b'{"access', "more_body": True})
        raise ConnectionAbortedError("the test cut this token response short")
    if how[0] == "endless":
        raw = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        for _ in range(how[1]):
            await send({"type": "http.response.body", "body": b" " * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    _, status, content_type, body = how
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
