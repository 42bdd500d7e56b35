"""The ASGI test application every loopback server runs (uvicorn and hypercorn).

A plain ASGI callable, no framework: every endpoint is a few lines and its bytes are exact.

Endpoints:
  /echo                  JSON of method, path, query, headers, body (base64-free: latin-1 text)
  /status/{code}         empty body with that status
  /delay/{seconds}       waits, then "ok"
  /bytes/{n}             n bytes of a repeating pattern, with Content-Length
  /stream/{n}/{size}     n chunks of `size` bytes, no Content-Length (chunked in HTTP/1.1)
  /json                  a fixed JSON document
  /gzip                  a gzip-encoded JSON document
  /redirect/{code}?to=   redirect with that status to `to`
  /set-cookie?name=value sets the given cookies
  /cookies               JSON of the cookies received
  /basic-auth/{u}/{p}    200 with the user when Basic credentials match, else 401
  /digest-auth/{u}/{p}   a real RFC 7616 Digest challenge and check (MD5, qop=auth)
  /trailers              a body followed by trailers (HTTP/2 only; HTTP/1.1 sends the body)
  anything else          404
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATTERN = bytes(range(256)) * 256  # 64 KiB of a pattern users can check by position


def pattern_bytes(n: int) -> bytes:
    """The body /bytes/{n} sends: the pattern repeated to length n."""
    repeats, rest = divmod(n, len(PATTERN))
    return PATTERN * repeats + PATTERN[:rest]


async def read_body(receive: Receive) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_type: bytes = b"text/plain",
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + (headers or [])})
    await send({"type": "http.response.body", "body": body})


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


async def echo(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    body = await read_body(receive)
    document = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
        "http_version": scope.get("http_version"),
    }
    await respond(send, 200, _json(document), content_type=b"application/json")


async def status(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    await read_body(receive)
    code = int(parts[1])
    if code in (204, 304) or code < 200:
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await respond(send, code)


async def delay(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    await asyncio.sleep(float(parts[1]))
    await respond(send, 200, b"ok")


async def some_bytes(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    await respond(send, 200, pattern_bytes(int(parts[1])), content_type=b"application/octet-stream")


async def stream(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    count, size = int(parts[1]), int(parts[2])
    chunk = pattern_bytes(size)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(count):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


DOCUMENT = {"name": "httplib", "fast": True, "numbers": [1, 2, 3], "nested": {"unicode": "ünï"}}


async def json_document(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    await respond(send, 200, _json(DOCUMENT), content_type=b"application/json")


async def gzipped(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    body = gzip.compress(_json(DOCUMENT))
    await respond(
        send, 200, body, [(b"content-encoding", b"gzip")], content_type=b"application/json"
    )


async def redirect(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    await read_body(receive)
    query = dict(parse_qsl(scope["query_string"].decode()))
    location = query.get("to", "/echo").encode()
    await respond(send, int(parts[1]), b"", [(b"location", location)])


async def set_cookie(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    pairs = parse_qsl(scope["query_string"].decode())
    headers = [(b"set-cookie", f"{k}={v}; Path=/".encode()) for k, v in pairs]
    await respond(send, 200, b"cookies set", headers)


async def cookies(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    raw = (_header(scope, b"cookie") or b"").decode("latin-1")
    jar = dict(item.strip().split("=", 1) for item in raw.split(";") if "=" in item)
    await respond(send, 200, _json(jar), content_type=b"application/json")


async def basic_auth(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    user, password = parts[1], parts[2]
    expected = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
    if _header(scope, b"authorization") == expected:
        await respond(send, 200, _json({"user": user}), content_type=b"application/json")
    else:
        await respond(send, 401, b"", [(b"www-authenticate", b'Basic realm="test"')])


def _digest_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in value.split(","):
        if "=" in item:
            key, raw = item.strip().split("=", 1)
            params[key.lower()] = raw.strip().strip('"')
    return params


async def digest_auth(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    user, password, realm = parts[1], parts[2], "test@httplib"
    await read_body(receive)
    header = (_header(scope, b"authorization") or b"").decode()
    if header.lower().startswith("digest "):
        params = _digest_params(header[7:])

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{user}:{realm}:{password}")
        ha2 = md5(f"{scope['method']}:{params.get('uri', '')}")
        expected = md5(
            f"{ha1}:{params.get('nonce')}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}"
        )
        if params.get("username") == user and params.get("response") == expected:
            await respond(send, 200, _json({"user": user}), content_type=b"application/json")
            return
    nonce = os.urandom(8).hex()
    challenge = f'Digest realm="{realm}", qop="auth", nonce="{nonce}", opaque="xyz"'
    await respond(send, 401, b"", [(b"www-authenticate", challenge.encode())])


async def trailers(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
    supports = "http.response.trailers" in scope.get("extensions", {})
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"trailer", b"x-checksum")] if supports else [],
            "trailers": supports,
        }
    )
    await send({"type": "http.response.body", "body": b"body"})
    if supports:
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})


ROUTES: dict[str, Callable[[Scope, Receive, Send, list[str]], Awaitable[None]]] = {
    "echo": echo,
    "status": status,
    "delay": delay,
    "bytes": some_bytes,
    "stream": stream,
    "json": json_document,
    "gzip": gzipped,
    "redirect": redirect,
    "set-cookie": set_cookie,
    "cookies": cookies,
    "basic-auth": basic_auth,
    "digest-auth": digest_auth,
    "trailers": trailers,
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point: dispatches on the first path segment."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    parts = [part for part in scope["path"].split("/") if part]
    handler = ROUTES.get(parts[0]) if parts else None
    if handler is None:
        await read_body(receive)
        await respond(send, 404, b"not found")
        return
    await handler(scope, receive, send, parts)
