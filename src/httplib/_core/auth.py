"""Authentication flows: the `Auth` base class and Basic, Function, NetRC and Digest schemes.

Theory of operation: an `Auth` is a generator (`auth_flow`) that yields requests and receives
responses; it never touches the network. `_auth_steps` turns that flow into a list of effects
(read this body, send this request), so the sync and async drivers below only perform effects
and hold no stepping logic of their own. The Digest scheme (RFC 7616) is split into a pure
challenge parser (RFC 7235 section 2.1 grammar), a pure response computation, and a small
stateful flow that remembers the last challenge and counts nonce uses.
"""

from __future__ import annotations

import os
import re
from base64 import b64encode
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._cookies import Cookies
from .._exceptions import ProtocolError
from .._utils import to_bytes

if TYPE_CHECKING:  # pragma: no cover
    import hashlib

    from .._models import Request, Response

__all__ = [
    "Auth",
    "AuthEffect",
    "BasicAuth",
    "Challenge",
    "DigestAuth",
    "DigestChallenge",
    "FunctionAuth",
    "parse_www_authenticate",
]


class AuthEffect:
    """A step an auth flow asks the client to perform besides sending a request (a token
    flow's wait, clock read or token exchange, `_core/token_auth.py`); `send_flow` performs
    it and sends the answer back in. The sync and async wrappers below pass it through."""

    __slots__ = ()


@dataclass(frozen=True)
class _ReadBody:
    """Effect: load this message's body into memory before the flow continues."""

    message: Request | Response


class Auth:
    """Base class for authentication schemes.

    Subclasses override `auth_flow`; schemes that do I/O or need locks override
    `sync_auth_flow` and/or `async_auth_flow` instead, as with httpx.
    """

    requires_request_body = False
    requires_response_body = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield each request to send; the client sends each response back in.

        When the flow ends, the client returns the last response it received.
        """
        yield request

    def _auth_steps(
        self, request: Request
    ) -> Generator[Request | AuthEffect | _ReadBody | None, Any, None]:
        """Drive `auth_flow`, interleaving the body reads the flags ask for; `None` ends it.

        An `AuthEffect` the flow yields goes out as is, and its answer comes back in."""
        if self.requires_request_body:
            yield _ReadBody(request)
        flow = self.auth_flow(request)
        try:
            outgoing = next(flow)
            while True:
                answer = yield outgoing
                if self.requires_response_body and not isinstance(outgoing, AuthEffect):
                    yield _ReadBody(answer)
                try:
                    outgoing = flow.send(answer)
                except StopIteration:
                    break
        finally:
            flow.close()
        yield None

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Run `auth_flow` for the blocking client, reading bodies with `.read()`."""
        steps = self._auth_steps(request)
        try:
            step = next(steps)
            while step is not None:
                if isinstance(step, _ReadBody):
                    step.message.read()
                    step = next(steps)
                else:
                    # (typed as httpx types it; a token flow's AuthEffect passes through too)
                    step = steps.send((yield step))  # type: ignore[misc]
        finally:
            steps.close()

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """Run `auth_flow` for the async client, reading bodies with `await .aread()`."""
        steps = self._auth_steps(request)
        try:
            step = next(steps)
            while step is not None:
                if isinstance(step, _ReadBody):
                    await step.message.aread()
                    step = next(steps)
                else:
                    # (typed as httpx types it; a token flow's AuthEffect passes through too)
                    step = steps.send((yield step))  # type: ignore[misc]
        finally:
            steps.close()


class FunctionAuth(Auth):
    """Wrap a plain callable `Request -> Request` (the `auth=callable` form) as an `Auth`."""

    def __init__(self, func: Callable[[Request], Request]) -> None:
        self._func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield self._func(request)


def basic_auth_header(username: str | bytes, password: str | bytes) -> str:
    """`Basic base64(user:pass)` (RFC 7617 section 2); str credentials are encoded as UTF-8."""
    userpass = to_bytes(username) + b":" + to_bytes(password)
    return "Basic " + b64encode(userpass).decode("ascii")


class BasicAuth(Auth):
    """HTTP Basic authentication from a (username, password) pair."""

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._auth_header = basic_auth_header(username, password)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = self._auth_header
        yield request


# --- WWW-Authenticate parsing (RFC 7235 sections 2.1 and 4.1) -----------------------------------

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# token68 only when it is the whole of the challenge's data, i.e. followed by "," or the end.
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))")
_PARAM_NAME_RE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*")
_QUOTED_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_SEPARATORS_RE = re.compile(r"[ \t,]*")
_OWS_RE = re.compile(r"[ \t]*")


@dataclass
class Challenge:
    """One challenge from a WWW-Authenticate value: lowercased scheme, then its data."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None


def _skip(pattern: re.Pattern[str], value: str, pos: int) -> int:
    """Position after the (possibly empty) run of `pattern` at `pos`."""
    match = pattern.match(value, pos)
    return pos if match is None else match.end()


def parse_www_authenticate(value: str) -> list[Challenge]:
    """Split a WWW-Authenticate value into challenges; raise ValueError naming the bad spot.

    Parameter names are lowercased (they are case-insensitive); quoted values are unescaped.
    """
    challenges: list[Challenge] = []
    pos = _skip(_SEPARATORS_RE, value, 0)
    while pos < len(value):
        scheme = _TOKEN_RE.match(value, pos)
        if scheme is None:
            raise ValueError(f"expected an auth-scheme at position {pos} in {value!r}")
        pos = scheme.end()
        if pos < len(value) and value[pos] not in " \t,":
            raise ValueError(f"unexpected {value[pos]!r} at position {pos} in {value!r}")
        challenge = Challenge(scheme.group().lower())
        challenges.append(challenge)
        pos = _skip(_OWS_RE, value, pos)
        token68 = _TOKEN68_RE.match(value, pos)
        if token68 is not None:
            challenge.token68 = token68.group()
            pos = token68.end()
        else:
            pos = _parse_params(value, pos, challenge.params)
        pos = _skip(_SEPARATORS_RE, value, pos)
    return challenges


def _parse_params(value: str, pos: int, params: dict[str, str]) -> int:
    """Read `name=value` pairs from `pos` until the next challenge's scheme or the end."""
    while (name_match := _PARAM_NAME_RE.match(value, pos)) is not None:
        name = name_match.group(1).lower()
        if name in params:
            # RFC 7235 section 2.1: each parameter name MUST only occur once per challenge.
            raise ValueError(f"duplicate parameter {name!r} in {value!r}")
        params[name], pos = _parse_param_value(value, name_match.end(), name)
        pos = _skip(_OWS_RE, value, pos)
        if pos < len(value) and value[pos] != ",":
            raise ValueError(f"unexpected {value[pos]!r} at position {pos} in {value!r}")
        pos = _skip(_SEPARATORS_RE, value, pos)
    return pos


def _parse_param_value(value: str, pos: int, name: str) -> tuple[str, int]:
    """A parameter value is a token or a quoted-string (RFC 7230 section 3.2.6)."""
    if value.startswith('"', pos):
        quoted = _QUOTED_STRING_RE.match(value, pos)
        if quoted is None:
            raise ValueError(f"unterminated quoted-string for {name!r} in {value!r}")
        return _QUOTED_PAIR_RE.sub(r"\1", quoted.group(1)), quoted.end()
    token = _TOKEN_RE.match(value, pos)
    if token is None:
        raise ValueError(f"missing value for parameter {name!r} in {value!r}")
    return token.group(), token.end()


def _quote(value: str) -> str:
    """Render a quoted-string, escaping the two characters that need it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- Digest (RFC 7616) ---------------------------------------------------------------------------

# The hashlib constructor of each algorithm (hashlib is imported once Digest auth is used).
_HASHES = {"MD5": "md5", "SHA": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
_SESS_SUFFIX = "-SESS"
_MALFORMED = "Malformed Digest WWW-Authenticate header"


def _hash_for(algorithm: str) -> Callable[[bytes], hashlib._Hash] | None:
    """The hash for `MD5`, `SHA-256-sess` and friends (case-insensitive), or None."""
    import hashlib

    constructor = _HASHES.get(algorithm.upper().removesuffix(_SESS_SUFFIX))
    return None if constructor is None else getattr(hashlib, constructor)


@dataclass(frozen=True)
class DigestChallenge:
    """The parts of a Digest challenge that feed the response (RFC 7616 section 3.3)."""

    realm: bytes
    nonce: bytes
    algorithm: str = "MD5"
    opaque: bytes | None = None
    qop: bytes | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> DigestChallenge:
        """Build from parsed parameters; raise ValueError when realm or nonce is missing."""
        missing = [name for name in ("realm", "nonce") if name not in params]
        if missing:
            raise ValueError(f"missing {' and '.join(missing)} in Digest challenge {params!r}")
        opaque, qop = params.get("opaque"), params.get("qop")
        return cls(
            realm=params["realm"].encode(),
            nonce=params["nonce"].encode(),
            algorithm=params.get("algorithm", "MD5"),
            opaque=None if opaque is None else opaque.encode(),
            qop=None if qop is None else qop.encode(),
        )

    @property
    def is_supported(self) -> bool:
        return _hash_for(self.algorithm) is not None

    def response(
        self,
        *,
        username: bytes,
        password: bytes,
        method: bytes,
        uri: bytes,
        nc_value: bytes,
        cnonce: bytes,
        qop: bytes | None,
    ) -> bytes:
        """The hex `response` value (RFC 7616 section 3.4.1; RFC 2069 when qop is None)."""
        hash_func = _hash_for(self.algorithm)
        if hash_func is None:
            raise ValueError(f"unsupported Digest algorithm {self.algorithm!r}")

        def hex_digest(*parts: bytes) -> bytes:
            return hash_func(b":".join(parts)).hexdigest().encode()

        ha1 = hex_digest(username, self.realm, password)
        if self.algorithm.upper().endswith(_SESS_SUFFIX):
            # RFC 7616 section 3.4.2: the session variants fold both nonces into A1.
            ha1 = hex_digest(ha1, self.nonce, cnonce)
        ha2 = hex_digest(method, uri)
        if qop is None:
            return hex_digest(ha1, self.nonce, ha2)
        return hex_digest(ha1, self.nonce, nc_value, cnonce, qop, ha2)


def _resolve_qop(challenge: DigestChallenge, request: Request) -> bytes | None:
    """Pick `auth` from the offered qop options; `auth-int` alone is not supported."""
    if challenge.qop is None:
        return None
    options = [option.strip() for option in challenge.qop.split(b",")]
    if b"auth" in options:
        return b"auth"
    if options == [b"auth-int"]:
        raise NotImplementedError("Digest auth-int support is not yet implemented")
    message = f'Unexpected qop value "{challenge.qop!r}" in digest auth'
    raise ProtocolError(message, request=request)


def _select_challenge(request: Request, response: Response) -> DigestChallenge | None:
    """The first supported Digest challenge in a 401's WWW-Authenticate headers, if any.

    Values that cannot hold a Digest challenge are not parsed, so a sloppy `Bearer` header
    beside a good Digest one does not fail the exchange.
    """
    digest_params: list[dict[str, str]] = []
    for value in response.headers.get_list("www-authenticate"):
        if "digest" not in value.lower():
            continue
        try:
            challenges = parse_www_authenticate(value)
        except ValueError as exc:
            raise ProtocolError(f"{_MALFORMED}: {exc}", request=request) from exc
        digest_params += [c.params for c in challenges if c.scheme == "digest"]
    offered: list[DigestChallenge] = []
    for params in digest_params:
        try:
            offered.append(DigestChallenge.from_params(params))
        except ValueError as exc:
            raise ProtocolError(f"{_MALFORMED}: {exc}", request=request) from exc
    if not offered:
        return None
    for challenge in offered:
        if challenge.is_supported:
            return challenge
    algorithms = ", ".join(repr(c.algorithm) for c in offered)
    raise ProtocolError(f"Unsupported Digest algorithm {algorithms}", request=request)


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616), with qop `auth` or the RFC 2069 legacy mode.

    After one challenge, later requests through the same instance carry credentials up front,
    counting nonce uses in `nc` (RFC 7616 section 3.4).
    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._username = to_bytes(username)
        self._password = to_bytes(password)
        self._last_challenge: DigestChallenge | None = None
        self._nonce_count = 1

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if self._last_challenge is not None:
            request.headers["Authorization"] = self._build_auth_header(
                request, self._last_challenge
            )
        response = yield request
        if response.status_code != 401:
            return
        challenge = _select_challenge(request, response)
        if challenge is None:
            return
        if self._last_challenge is None or challenge.nonce != self._last_challenge.nonce:
            self._nonce_count = 1
        self._last_challenge = challenge
        request.headers["Authorization"] = self._build_auth_header(request, challenge)
        _carry_cookies(response, request)
        yield request

    def _get_client_nonce(self, nonce_count: int, nonce: bytes) -> bytes:
        """A fresh client nonce; tests override this method to pin the value."""
        return os.urandom(8).hex().encode()

    def _build_auth_header(self, request: Request, challenge: DigestChallenge) -> str:
        qop = _resolve_qop(challenge, request)
        uri = request.url.raw_path
        nc_value = b"%08x" % self._nonce_count
        cnonce = self._get_client_nonce(self._nonce_count, challenge.nonce)
        self._nonce_count += 1
        digest = challenge.response(
            username=self._username,
            password=self._password,
            method=request.method.encode(),
            uri=uri,
            nc_value=nc_value,
            cnonce=cnonce,
            qop=qop,
        )
        # (name, value, quoted): the unquoted ones are tokens in RFC 7616 section 3.4.
        fields: list[tuple[str, bytes, bool]] = [
            ("username", self._username, True),
            ("realm", challenge.realm, True),
            ("nonce", challenge.nonce, True),
            ("uri", uri, True),
            ("response", digest, True),
            ("algorithm", challenge.algorithm.encode(), False),
        ]
        if challenge.opaque:
            fields.append(("opaque", challenge.opaque, True))
        if qop is not None:
            fields += [("qop", qop, False), ("nc", nc_value, False), ("cnonce", cnonce, True)]
        rendered = (
            f"{name}={_quote(value.decode()) if quoted else value.decode()}"
            for name, value, quoted in fields
        )
        return "Digest " + ", ".join(rendered)


def _carry_cookies(response: Response, request: Request) -> None:
    """Cookies set on the challenge carry over to the retry: some servers tie the nonce to them."""
    cookies = Cookies()
    cookies.extract_cookies(response)
    if cookies:
        cookies.set_cookie_header(request)
