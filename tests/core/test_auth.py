"""Auth flows: Basic, Function, NetRC, Digest (RFC 7616), and the sync/async drivers."""

from __future__ import annotations

import asyncio
import hashlib
import netrc
import string
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._auth_netrc import NetRCAuth
from httplib._core.auth import (
    Auth,
    BasicAuth,
    Challenge,
    DigestAuth,
    DigestChallenge,
    FunctionAuth,
    parse_www_authenticate,
)
from httplib._exceptions import ProtocolError, RequestNotRead, ResponseNotRead
from httplib._models import Request, Response

# --- WWW-Authenticate parsing ------------------------------------------------------------------

RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def rfc7616_challenge(algorithm: str) -> str:
    """The challenge of RFC 7616 section 3.9.1 for one algorithm."""
    return (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    )


def test_parse_rfc7616_challenge() -> None:
    [challenge] = parse_www_authenticate(rfc7616_challenge("SHA-256"))
    assert challenge == Challenge(
        "digest",
        {
            "realm": "http-auth@example.org",
            "qop": "auth, auth-int",
            "algorithm": "SHA-256",
            "nonce": RFC7616_NONCE,
            "opaque": RFC7616_OPAQUE,
        },
    )


def test_parse_several_challenges_in_one_value() -> None:
    # The example of RFC 7235 section 4.1, with escapes and commas inside a quoted-string.
    value = (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\", please", '
        'Basic realm="simple", Bearer abc+/def==, Digest Realm="r", NONCE="n"'
    )
    assert parse_www_authenticate(value) == [
        Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps", please'}),
        Challenge("basic", {"realm": "simple"}),
        Challenge("bearer", token68="abc+/def=="),
        Challenge("digest", {"realm": "r", "nonce": "n"}),
    ]


def test_parse_tolerates_whitespace_and_empty_list_elements() -> None:
    value = ' ,  DIGEST  realm = "r" ,, nonce=abc ,\t, Negotiate '
    assert parse_www_authenticate(value) == [
        Challenge("digest", {"realm": "r", "nonce": "abc"}),
        Challenge("negotiate"),
    ]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ('Digest realm="unterminated', "unterminated quoted-string for 'realm'"),
        ('Digest nonce="n", realm=@x', "missing value for parameter 'realm'"),
        # "realm=" before a comma is a token68, so "nonce" reads as a scheme followed by "=".
        ("Digest realm=, nonce=x", "unexpected '=' at position 20"),
        ('Digest realm="a" nonce="b"', "unexpected 'n' at position 17"),
        ('Digest realm="a", realm="b"', "duplicate parameter 'realm'"),
        ('Digest realm="a", REALM="b"', "duplicate parameter 'realm'"),
        ('="a"', "expected an auth-scheme at position 0"),
        ('Digest"realm"', "unexpected '\"' at position 6"),
    ],
)
def test_parse_rejects_malformed_values(value: str, complaint: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_www_authenticate(value)
    assert complaint in str(info.value)
    assert repr(value) in str(info.value)


TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
# Any text a quoted-string can carry: visible ASCII, space, tab, and obs-text.
quotable = st.text(
    st.characters(codec="latin-1", categories=("L", "M", "N", "P", "S", "Zs")), max_size=30
)


def render(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@settings(max_examples=150)
@given(
    scheme=tokens,
    params=st.dictionaries(tokens.map(str.lower), quotable | tokens, min_size=1, max_size=6),
    quote_all=st.booleans(),
)
def test_parse_round_trips_quoted_and_token_values(
    scheme: str, params: dict[str, str], quote_all: bool
) -> None:
    def as_param(name: str, value: str) -> str:
        bare = value and not quote_all and all(c in TOKEN_CHARS for c in value)
        return f"{name}={value if bare else render(value)}"

    value = f"{scheme} " + ", ".join(as_param(k, v) for k, v in params.items())
    assert parse_www_authenticate(value + ", Basic realm=x") == [
        Challenge(scheme.lower(), params),
        Challenge("basic", {"realm": "x"}),
    ]


# --- Digest computations against published vectors --------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_response_matches_rfc7616_example(algorithm: str, expected: str) -> None:
    [parsed] = parse_www_authenticate(rfc7616_challenge(algorithm))
    challenge = DigestChallenge.from_params(parsed.params)
    response = challenge.response(
        username=b"Mufasa",
        password=b"Circle of Life",
        method=b"GET",
        uri=b"/dir/index.html",
        nc_value=b"00000001",
        cnonce=RFC7616_CNONCE.encode(),
        qop=b"auth",
    )
    assert response.decode() == expected


def test_digest_response_matches_rfc2617_example() -> None:
    challenge = DigestChallenge(
        realm=b"testrealm@host.com",
        nonce=b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop=b"auth,auth-int",
        opaque=b"5ccc069c403ebaf9f0171e9517f40e41",
    )
    response = challenge.response(
        username=b"Mufasa",
        password=b"Circle Of Life",
        method=b"GET",
        uri=b"/dir/index.html",
        nc_value=b"00000001",
        cnonce=b"0a4f113b",
        qop=b"auth",
    )
    assert response == b"6629fae49393a05397450978507c4ef1"


def test_digest_challenge_defaults_and_requirements() -> None:
    challenge = DigestChallenge.from_params({"realm": "r", "nonce": "n"})
    assert challenge == DigestChallenge(realm=b"r", nonce=b"n", algorithm="MD5")
    assert challenge.is_supported
    assert not DigestChallenge(b"r", b"n", algorithm="SHA-512-256").is_supported
    assert DigestChallenge(b"r", b"n", algorithm="sha-256-sess").is_supported
    with pytest.raises(ValueError, match="missing realm and nonce"):
        DigestChallenge.from_params({"opaque": "o"})
    with pytest.raises(ValueError, match="missing nonce"):
        DigestChallenge.from_params({"realm": "r"})


# --- Flows over real requests and responses ----------------------------------------------------

URL = "https://example.org/dir/index.html?q=1"
SHA_CHALLENGE = rfc7616_challenge("SHA-256")


class PinnedDigestAuth(DigestAuth):
    """Digest auth whose client nonce depends only on the count, so runs are comparable."""

    def _get_client_nonce(self, nonce_count: int, nonce: bytes) -> bytes:
        return b"cnonce-%d" % nonce_count


class PinnedHttpxDigestAuth(httpx.DigestAuth):
    def _get_client_nonce(self, nonce_count: int, nonce: bytes) -> bytes:
        return b"cnonce-%d" % nonce_count


class Server:
    """A scripted server: 401 with the current challenge unless the request carries its nonce."""

    def __init__(self, challenges: list[str], make_response: Callable[..., Any]) -> None:
        self.challenges = challenges
        self.make_response = make_response
        self.authorizations: list[str | None] = []

    def __call__(self, request: Any) -> Any:
        """Answer `request` with a response of the library under test (httplib or httpx)."""
        authorization = request.headers.get("Authorization")
        self.authorizations.append(authorization)
        challenges = parse_www_authenticate(self.challenges[0])
        nonces = [c.params["nonce"] for c in challenges if "nonce" in c.params]
        if authorization is not None and f'nonce="{nonces[0]}"' in authorization:
            return self.make_response(200, request=request)
        headers = [("WWW-Authenticate", value) for value in self.challenges]
        return self.make_response(401, headers=headers, request=request)


def drive_sync(auth: Any, request: Any, server: Server) -> int:
    """Run one auth flow as a client does; return the status of the response the client keeps."""
    flow = auth.sync_auth_flow(request)
    outgoing = next(flow)
    while True:
        response = server(outgoing)
        try:
            outgoing = flow.send(response)
        except StopIteration:
            return int(response.status_code)


def digest_fields(authorization: str | None) -> dict[str, str]:
    """Parse an Authorization header with the stdlib, independently of our own parser."""
    assert authorization is not None
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "Digest"
    return parse_keqv_list(parse_http_list(rest))


def run_both(challenges: list[str], requests: int = 1) -> tuple[Server, Server]:
    """The same sequence of requests through httplib and httpx Digest flows."""
    ours, theirs = Server(challenges, Response), Server(challenges, httpx.Response)
    our_auth, their_auth = (
        PinnedDigestAuth("Mufasa", "Circle of Life"),
        PinnedHttpxDigestAuth("Mufasa", "Circle of Life"),
    )
    for _ in range(requests):
        assert drive_sync(our_auth, Request("GET", URL), ours) == drive_sync(
            their_auth, httpx.Request("GET", URL), theirs
        )
    return ours, theirs


ALGORITHMS = ["MD5", "MD5-SESS", "SHA", "SHA-SESS", "SHA-256", "SHA-256-SESS", "SHA-512"]


@pytest.mark.parametrize("algorithm", [*ALGORITHMS, "SHA-512-SESS", "sha-256"])
@pytest.mark.parametrize("qop", [None, "auth", "auth,auth-int", "auth-int, auth"])
@pytest.mark.parametrize("opaque", [None, "FQhe/qaU925"])
def test_digest_matches_httpx_field_by_field(
    algorithm: str, qop: str | None, opaque: str | None
) -> None:
    challenge = f'Digest realm="me@example.org", nonce="abc123", algorithm={algorithm}'
    challenge += "" if qop is None else f', qop="{qop}"'
    challenge += "" if opaque is None else f', opaque="{opaque}"'
    ours, theirs = run_both([challenge], requests=3)
    assert len(ours.authorizations) == len(theirs.authorizations) == 4
    assert ours.authorizations[0] is None
    assert [digest_fields(header) for header in ours.authorizations[1:]] == [
        digest_fields(header) for header in theirs.authorizations[1:]
    ]


def test_digest_rfc7616_exchange_end_to_end() -> None:
    class RfcDigestAuth(DigestAuth):
        def _get_client_nonce(self, nonce_count: int, nonce: bytes) -> bytes:
            return RFC7616_CNONCE.encode()

    server = Server([SHA_CHALLENGE, rfc7616_challenge("MD5")], Response)
    auth = RfcDigestAuth("Mufasa", "Circle of Life")
    assert drive_sync(auth, Request("GET", "http://example.org/dir/index.html"), server) == 200
    assert digest_fields(server.authorizations[1]) == {
        "username": "Mufasa",
        "realm": "http-auth@example.org",
        "uri": "/dir/index.html",
        "algorithm": "SHA-256",
        "nonce": RFC7616_NONCE,
        "nc": "00000001",
        "cnonce": RFC7616_CNONCE,
        "qop": "auth",
        "response": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        "opaque": RFC7616_OPAQUE,
    }


def test_digest_counts_nonce_uses_and_resets_for_a_new_nonce() -> None:
    server = Server(['Digest realm="r", nonce="first", qop="auth"'], Response)
    auth = PinnedDigestAuth("user", "pass")
    for _ in range(3):
        assert drive_sync(auth, Request("GET", URL), server) == 200
    # The first request is challenged; later ones reuse the challenge pre-emptively.
    assert server.authorizations[0] is None
    sent = [digest_fields(header) for header in server.authorizations[1:]]
    assert [(f["nonce"], f["nc"], f["cnonce"]) for f in sent] == [
        ("first", "00000001", "cnonce-1"),
        ("first", "00000002", "cnonce-2"),
        ("first", "00000003", "cnonce-3"),
    ]
    # The server rotates its nonce (stale=true): one 401, then the count restarts.
    server.challenges = ['Digest realm="r", nonce="second", qop="auth", stale=true']
    assert drive_sync(auth, Request("GET", URL), server) == 200
    stale, retried = (digest_fields(h) for h in server.authorizations[4:])
    assert (stale["nonce"], stale["nc"]) == ("first", "00000004")
    assert (retried["nonce"], retried["nc"]) == ("second", "00000001")


def test_digest_keeps_counting_when_rechallenged_with_the_same_nonce() -> None:
    # RFC 7616 section 3.4: nc counts every request sent with this nonce, so a repeated
    # challenge for the same nonce must not replay nc=00000001.
    challenge = {"WWW-Authenticate": 'Digest realm="r", nonce="same", qop=auth'}
    auth = PinnedDigestAuth("user", "pass")
    sent_nc: list[str | None] = []
    for _ in range(2):
        flow = auth.sync_auth_flow(Request("GET", URL))
        request = next(flow)
        pre_emptive = request.headers.get("Authorization")
        sent_nc.append(None if pre_emptive is None else digest_fields(pre_emptive)["nc"])
        retried = flow.send(Response(401, headers=challenge, request=request))
        sent_nc.append(digest_fields(retried.headers["Authorization"])["nc"])
    assert sent_nc == [None, "00000001", "00000002", "00000003"]


def test_digest_default_client_nonce_is_fresh_per_request() -> None:
    server = Server(['Digest realm="r", nonce="n", qop=auth'], Response)
    auth = DigestAuth("user", "pass")
    for _ in range(3):
        drive_sync(auth, Request("GET", URL), server)
    cnonces = [digest_fields(header)["cnonce"] for header in server.authorizations[1:]]
    assert len(set(cnonces)) == 3
    assert all(len(c) == 16 and set(c) <= set(string.hexdigits) for c in cnonces)


def test_digest_stops_after_a_second_401() -> None:
    challenge = {"WWW-Authenticate": 'Digest realm="r", nonce="n"'}
    flow = DigestAuth("user", "wrong").sync_auth_flow(Request("GET", URL))
    first = next(flow)
    retried = flow.send(Response(401, headers=challenge, request=first))
    assert retried.headers["Authorization"].startswith('Digest username="user", realm="r"')
    with pytest.raises(StopIteration):
        flow.send(Response(401, headers=challenge, request=retried))


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("WWW-Authenticate", 'Basic realm="r"')],
        [("WWW-Authenticate", 'Bearer realm="unterminated')],
    ],
)
def test_digest_returns_a_401_without_a_digest_challenge(headers: list[tuple[str, str]]) -> None:
    flow = DigestAuth("user", "pass").sync_auth_flow(Request("GET", URL))
    request = next(flow)
    with pytest.raises(StopIteration):
        flow.send(Response(401, headers=headers, request=request))
    assert "Authorization" not in request.headers


def test_digest_sends_nothing_extra_on_success() -> None:
    flow = DigestAuth("user", "pass").sync_auth_flow(Request("GET", URL))
    request = next(flow)
    response = Response(200, headers={"WWW-Authenticate": SHA_CHALLENGE}, request=request)
    with pytest.raises(StopIteration):
        flow.send(response)


def test_digest_finds_its_challenge_among_other_schemes() -> None:
    # One header holding several challenges: the Digest one after Basic is still found.
    mixed = f'Basic realm="x", {SHA_CHALLENGE.replace("Digest", "DIGEST")}, Negotiate'
    server = Server([mixed], Response)
    assert drive_sync(PinnedDigestAuth("u", "p"), Request("GET", URL), server) == 200
    assert digest_fields(server.authorizations[1])["algorithm"] == "SHA-256"


def test_digest_prefers_the_first_supported_algorithm() -> None:
    unsupported = SHA_CHALLENGE.replace("SHA-256", "SHA-512-256")
    server = Server([unsupported, rfc7616_challenge("MD5")], Response)
    assert drive_sync(PinnedDigestAuth("u", "p"), Request("GET", URL), server) == 200
    assert digest_fields(server.authorizations[1])["algorithm"] == "MD5"


def challenged(challenge: str) -> tuple[Generator[Request, Response, None], Response]:
    flow = DigestAuth("user", "pass").sync_auth_flow(Request("GET", URL))
    request = next(flow)
    return flow, Response(401, headers={"WWW-Authenticate": challenge}, request=request)


@pytest.mark.parametrize(
    ("challenge", "detail"),
    [
        ('Digest nonce="n"', "missing realm"),
        ('Digest realm="r", opaque="o"', "missing nonce"),
        ('Digest realm="r", nonce="n', "unterminated quoted-string for 'nonce'"),
        ('Digest realm="r", nonce="n", realm="s"', "duplicate parameter 'realm'"),
        ("Digest abc", "missing realm and nonce"),
    ],
)
def test_digest_malformed_challenge_is_a_protocol_error(challenge: str, detail: str) -> None:
    flow, response = challenged(challenge)
    with pytest.raises(ProtocolError) as info:
        flow.send(response)
    assert str(info.value).startswith("Malformed Digest WWW-Authenticate header: ")
    assert detail in str(info.value)
    assert info.value.request is response.request


def test_digest_unsupported_algorithm_is_a_protocol_error() -> None:
    flow, response = challenged('Digest realm="r", nonce="n", algorithm=SHA-512-256')
    with pytest.raises(ProtocolError, match="Unsupported Digest algorithm 'SHA-512-256'"):
        flow.send(response)


@pytest.mark.parametrize(
    ("qop", "error", "their_error", "message"),
    [
        (
            "auth-int",
            NotImplementedError,
            NotImplementedError,
            "Digest auth-int support is not yet implemented",
        ),
        (
            "token",
            ProtocolError,
            httpx.ProtocolError,
            "Unexpected qop value \"b'token'\" in digest auth",
        ),
    ],
)
def test_digest_qop_errors_match_httpx(
    qop: str, error: type[Exception], their_error: type[Exception], message: str
) -> None:
    challenge = f'Digest realm="r", nonce="n", qop="{qop}"'
    flow, response = challenged(challenge)
    with pytest.raises(error) as ours:
        flow.send(response)
    their_flow = httpx.DigestAuth("user", "pass").sync_auth_flow(httpx.Request("GET", URL))
    request = next(their_flow)
    with pytest.raises(their_error) as theirs:
        their_flow.send(
            httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=request)
        )
    assert str(ours.value) == str(theirs.value) == message


@pytest.mark.parametrize(
    ("auth", "request_class", "response_class"),
    [
        (PinnedDigestAuth("u", "p"), Request, Response),
        (PinnedHttpxDigestAuth("u", "p"), httpx.Request, httpx.Response),
    ],
    ids=["httplib", "httpx"],
)
def test_digest_carries_challenge_cookies_onto_the_retry(
    auth: Any, request_class: Any, response_class: Any
) -> None:
    headers = [("WWW-Authenticate", SHA_CHALLENGE), ("Set-Cookie", "session=abc; Path=/")]
    flow = auth.sync_auth_flow(request_class("GET", URL))
    first = next(flow)
    assert "Cookie" not in first.headers
    retried = flow.send(response_class(401, headers=headers, request=first))
    assert retried.headers["Cookie"] == "session=abc"


# --- Basic, Function, NetRC ----------------------------------------------------------------------


def authorization_after(auth: Any, request: Any) -> str | None:
    """Run a single-step flow (httplib or httpx); return the Authorization header it sent."""
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    response_class = httpx.Response if isinstance(request, httpx.Request) else Response
    with pytest.raises(StopIteration):
        flow.send(response_class(200, request=sent))
    authorization: str | None = sent.headers.get("Authorization")
    return authorization


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("user", "pass", "Basic dXNlcjpwYXNz"),
        (b"user", b"pass", "Basic dXNlcjpwYXNz"),
        ("us\u00e9r", "p\u00e4ss\u2603", "Basic dXPDqXI6cMOkc3PimIM="),
        (b"us\xe9r", b"", "Basic dXPpcjo="),
        ("", "colon:in:password", "Basic OmNvbG9uOmluOnBhc3N3b3Jk"),
    ],
)
def test_basic_auth_header(username: str | bytes, password: str | bytes, expected: str) -> None:
    ours = authorization_after(BasicAuth(username, password), Request("GET", URL))
    theirs = authorization_after(httpx.BasicAuth(username, password), httpx.Request("GET", URL))
    assert ours == theirs == expected


def test_basic_auth_replaces_an_existing_authorization() -> None:
    request = Request("GET", URL, headers={"Authorization": "Bearer old"})
    assert authorization_after(BasicAuth("user", "pass"), request) == "Basic dXNlcjpwYXNz"
    assert request.headers.get_list("Authorization") == ["Basic dXNlcjpwYXNz"]


def test_function_auth_sends_what_the_function_returns() -> None:
    replacement = Request("GET", "https://other.example/")

    def sign(request: Request) -> Request:
        request.headers["X-Signature"] = f"signed {request.method} {request.url.path}"
        return replacement if request.url.host == "example.org" else request

    flow = FunctionAuth(sign).sync_auth_flow(Request("POST", URL))
    assert next(flow) is replacement
    with pytest.raises(StopIteration):
        flow.send(Response(200, request=replacement))
    own = Request("GET", "https://example.com/x")
    assert next(FunctionAuth(sign).sync_auth_flow(own)) is own
    assert own.headers["X-Signature"] == "signed GET /x"


NETRC = """\
machine example.org login alice password s3cret
machine nopass.example login bob
default login anon password guest
"""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/x", "Basic YWxpY2U6czNjcmV0"),
        ("https://example.org:8443/x", "Basic YWxpY2U6czNjcmV0"),
        ("http://elsewhere.example/", "Basic YW5vbjpndWVzdA=="),
    ],
)
def test_netrc_auth_looks_up_the_host(tmp_path: Path, url: str, expected: str) -> None:
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(NETRC)
    ours = authorization_after(NetRCAuth(str(netrc_file)), Request("GET", url))
    theirs = authorization_after(httpx.NetRCAuth(str(netrc_file)), httpx.Request("GET", url))
    assert ours == theirs == expected


def test_netrc_auth_without_usable_entry_leaves_the_request_alone(tmp_path: Path) -> None:
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine example.org login alice password s3cret\n")
    auth = NetRCAuth(str(netrc_file))
    assert authorization_after(auth, Request("GET", "https://unknown.example/")) is None
    netrc_file.write_text("machine nopass.example login bob\n")
    auth = NetRCAuth(str(netrc_file))
    assert authorization_after(auth, Request("GET", "https://nopass.example/")) is None


def test_netrc_auth_missing_or_invalid_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        NetRCAuth(str(tmp_path / "absent"))
    bad = tmp_path / "bad"
    bad.write_text("machine example.org login alice password\nbogus-token here\n")
    with pytest.raises(netrc.NetrcParseError):
        NetRCAuth(str(bad))
    with pytest.raises(netrc.NetrcParseError):
        httpx.NetRCAuth(str(bad))


# --- Custom multi-step flows through both drivers ------------------------------------------------


class TokenAuth(Auth):
    """Two steps: sign the body, then answer the server's 401 body with a token header."""

    requires_request_body = True
    requires_response_body = True

    def __init__(self) -> None:
        self.closed = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        try:
            request.headers["X-Body-Digest"] = hashlib.sha256(request.content).hexdigest()
            response = yield request
            if response.status_code == 401:
                request.headers["X-Token"] = response.text
                yield request
        finally:
            self.closed = True


class PeekAuth(TokenAuth):
    """The same flow without asking for bodies: touching them must then fail."""

    requires_request_body = False
    requires_response_body = False


def sync_chunks(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks


async def async_chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def token_server(request: Request, *, asynchronous: bool) -> Response:
    """401 with a token body (streamed, unread) until the request carries the token."""
    if request.headers.get("X-Token") == "tok-1":
        return Response(200, request=request)
    stream = async_chunks(b"tok", b"-1") if asynchronous else sync_chunks(b"tok", b"-1")
    return Response(401, content=stream, request=request)


def run_token_flow_sync(auth: Auth, request: Request) -> list[Request]:
    sent: list[Request] = []
    flow = auth.sync_auth_flow(request)
    outgoing = next(flow)
    while True:
        sent.append(outgoing)
        try:
            outgoing = flow.send(token_server(outgoing, asynchronous=False))
        except StopIteration:
            return sent


async def run_token_flow_async(auth: Auth, request: Request) -> list[Request]:
    sent: list[Request] = []
    flow = auth.async_auth_flow(request)
    outgoing = await flow.__anext__()
    while True:
        sent.append(outgoing)
        try:
            outgoing = await flow.asend(token_server(outgoing, asynchronous=True))
        except StopAsyncIteration:
            return sent


def test_custom_flow_sync_reads_bodies_when_asked() -> None:
    auth = TokenAuth()
    request = Request("POST", URL, content=sync_chunks(b"hello ", b"world"))
    sent = run_token_flow_sync(auth, request)
    assert len(sent) == 2
    assert sent[1].headers["X-Body-Digest"] == hashlib.sha256(b"hello world").hexdigest()
    assert sent[1].headers["X-Token"] == "tok-1"
    assert auth.closed


def test_custom_flow_async_reads_bodies_when_asked() -> None:
    auth = TokenAuth()
    request = Request("POST", URL, content=async_chunks(b"hello ", b"world"))
    sent = asyncio.run(run_token_flow_async(auth, request))
    assert len(sent) == 2
    assert sent[1].headers["X-Body-Digest"] == hashlib.sha256(b"hello world").hexdigest()
    assert sent[1].headers["X-Token"] == "tok-1"
    assert auth.closed


def test_custom_flow_without_flags_does_not_read_bodies() -> None:
    request = Request("POST", URL, content=sync_chunks(b"hello"))
    with pytest.raises(RequestNotRead):
        run_token_flow_sync(PeekAuth(), request)
    flow = PeekAuth().sync_auth_flow(Request("POST", URL, content=b"in memory"))
    sent = next(flow)
    with pytest.raises(ResponseNotRead):
        flow.send(token_server(sent, asynchronous=False))


def test_closing_the_sync_driver_closes_the_flow() -> None:
    auth = TokenAuth()
    flow = auth.sync_auth_flow(Request("POST", URL, content=b"body"))
    next(flow)
    assert not auth.closed
    flow.close()
    assert auth.closed


def test_closing_the_async_driver_closes_the_flow() -> None:
    auth = TokenAuth()

    async def start_and_close() -> None:
        flow = auth.async_auth_flow(Request("POST", URL, content=b"body"))
        await flow.__anext__()
        assert not auth.closed
        await flow.aclose()

    asyncio.run(start_and_close())
    assert auth.closed


def test_base_auth_sends_the_request_unchanged() -> None:
    request = Request("GET", URL)
    flow = Auth().sync_auth_flow(request)
    assert next(flow) is request
    with pytest.raises(StopIteration):
        flow.send(Response(401, request=request))
    assert "Authorization" not in request.headers
