"""Token auth end to end: a real token endpoint and protected API on loopback, for `Client`
(8 threads) and `AsyncClient` (50 tasks, asyncio and trio)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
import trio

import httplib
from auth.conftest import (
    BURST,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    OAuth,
    Waiters,
    burst,
    call,
)
from httplib._core.token_auth import MAX_TOKEN_RESPONSE
from servers.asgi_servers import RunningServer
from support.runtimes import run_async


def ok_tokens(results: list[Any]) -> set[str]:
    """The tokens the API saw, asserting every call got a 200."""
    for result in results:
        assert isinstance(result, httplib.Response), result
        assert result.status_code == 200, result
    return {result.json()["token"] for result in results}


def test_burst_makes_one_token_request(oauth: OAuth, waiters: Waiters, runtime: str) -> None:
    n = BURST[runtime]
    waiters.hold_token_until(oauth.app, n - 1)
    results = burst(runtime, oauth.client_credentials(), oauth.url("/api/resource"))
    assert len(oauth.app.token_calls) == 1
    assert waiters.seen == n - 1  # every other flow waited for that one fetch
    assert len(ok_tokens(results)) == 1
    assert len(oauth.app.api_calls) == n


def test_expiry_triggers_exactly_one_refresh(oauth: OAuth, waiters: Waiters, runtime: str) -> None:
    clock = FakeClock()
    auth = oauth.client_credentials(clock=clock, skew=60)
    first = ok_tokens(burst(runtime, auth, oauth.url("/api/resource")))
    assert len(oauth.app.token_calls) == 1
    clock.advance(3600 - 61)  # still before expires_in minus the skew: cached
    assert ok_tokens(burst(runtime, auth, oauth.url("/api/resource"))) == first
    assert len(oauth.app.token_calls) == 1
    clock.advance(2)  # within the skew: one refresh for the whole burst
    waiters.hold_token_until(oauth.app, BURST[runtime] - 1)
    second = ok_tokens(burst(runtime, auth, oauth.url("/api/resource")))
    assert len(oauth.app.token_calls) == 2
    assert len(second) == 1
    assert second != first


def test_401_triggers_one_refresh_and_one_retry(
    oauth: OAuth, waiters: Waiters, runtime: str
) -> None:
    auth = oauth.client_credentials()
    first = ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    oauth.app.revoke_access_tokens()
    oauth.app.api_calls.clear()
    n = BURST[runtime]
    waiters.hold_token_until(oauth.app, n - 1)
    results = burst(runtime, auth, oauth.url("/api/resource"))
    second = ok_tokens(results)
    assert len(oauth.app.token_calls) == 2
    assert len(second) == 1
    assert second != first
    # A request that sent the refused token got its 401 and went once more with the new one
    # (a request that started after the refusal waited for the new token from the start).
    refused = oauth.app.api_calls.count(first.copy().pop())
    assert 1 <= refused <= n
    assert oauth.app.api_calls.count(second.copy().pop()) == n
    assert len(oauth.app.api_calls) == n + refused
    assert sorted(len(r.history) for r in results) == [0] * (n - refused) + [1] * refused
    assert all(h.status_code == 401 for r in results for h in r.history)


def test_second_401_is_returned_not_looped(oauth: OAuth, runtime: str) -> None:
    response = call(runtime, oauth.client_credentials(), "GET", oauth.url("/api/always-401"))
    assert isinstance(response, httplib.Response)
    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [401]
    assert len(oauth.app.token_calls) == 2  # the first token, and one refresh
    assert len(oauth.app.api_calls) == 2
    assert oauth.app.api_calls[0] != oauth.app.api_calls[1]


def test_401_without_a_bearer_error_refreshes_too(oauth: OAuth, runtime: str) -> None:
    # The API answers a request without a token with `Bearer realm="api"` (no error code);
    # a server that forgot the token it issued does the same.
    auth = httplib.OAuth2RefreshToken(
        oauth.token_url, oauth.app.issue_refresh_token(), access_token="unknown-to-the-server"
    )
    response = call(runtime, auth, "GET", oauth.url("/api/resource"))
    assert ok_tokens([response]) != {"unknown-to-the-server"}
    assert len(oauth.app.token_calls) == 1


def test_wrong_secret_is_a_clear_error_shared_by_the_burst(
    oauth: OAuth, waiters: Waiters, runtime: str
) -> None:
    wrong = "not-the-secret-42"
    waiters.hold_token_until(oauth.app, BURST[runtime] - 1)
    results = burst(runtime, oauth.client_credentials(secret=wrong), oauth.url("/api/resource"))
    assert len(oauth.app.token_calls) == 1  # the waiters got the fetch's error, not a retry
    assert oauth.app.api_calls == []
    for error in results:
        assert isinstance(error, httplib.OAuth2Error), error
        assert isinstance(error, httplib.HTTPStatusError)
        assert error.error == "invalid_client"
        assert error.error_description == "Client authentication failed"
        assert error.response.status_code == 401
        assert error.request.url == oauth.token_url
        text = str(error)
        assert "invalid_client: Client authentication failed" in text
        assert "401" in text
        assert oauth.token_url in text
        assert wrong not in text
        assert wrong not in repr(error)


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_client_authentication_bytes(oauth: OAuth, runtime: str, auth_method: str) -> None:
    auth = oauth.client_credentials(auth_method=auth_method, scope=["read", "write"])
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    (sent,) = oauth.app.token_calls
    assert (sent.client_id, sent.client_secret) == (CLIENT_ID, CLIENT_SECRET)
    if auth_method == "client_secret_basic":
        # RFC 6749 section 2.3.1: form-urlencode each part, then Basic (RFC 7617).
        userpass = f"{quote_plus(CLIENT_ID, safe='')}:{quote_plus(CLIENT_SECRET, safe='')}"
        assert sent.authorization == "Basic " + base64.b64encode(userpass.encode()).decode()
        assert sent.form == {"grant_type": "client_credentials", "scope": "read write"}
        assert b"s3cr" not in sent.body
    else:
        assert sent.authorization is None
        assert sent.form == {
            "grant_type": "client_credentials",
            "scope": "read write",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }


def test_cross_origin_redirect_carries_no_token(
    oauth: OAuth, uvicorn_server: RunningServer, runtime: str
) -> None:
    auth = oauth.client_credentials()
    away = oauth.url("/api/redirect?to=" + quote_plus(uvicorn_server.url + "/echo"))
    response = call(runtime, auth, "GET", away, follow_redirects=True)
    assert isinstance(response, httplib.Response)
    assert response.status_code == 200
    names = [name.lower() for name, _ in response.json()["headers"]]
    assert "authorization" not in names
    # The same origin keeps it: the redirect rule, not a lost header, made the difference.
    same = oauth.url("/api/redirect?to=/api/resource")
    assert ok_tokens([call(runtime, auth, "GET", same, follow_redirects=True)])
    assert len(oauth.app.token_calls) == 1


def test_token_endpoint_redirect_is_not_followed(oauth: OAuth, runtime: str) -> None:
    # The client secret (here in the form) would go along with a 307: the token URL only.
    elsewhere = oauth.url("/api/redirect?to=" + quote_plus(oauth.url("/token")))
    auth = httplib.OAuth2ClientCredentials(
        elsewhere, CLIENT_ID, CLIENT_SECRET, auth_method="client_secret_post"
    )
    error = call(
        runtime, auth, "GET", oauth.url("/api/resource"), client={"follow_redirects": True}
    )
    assert isinstance(error, httplib.OAuth2Error)
    assert "redirect" in str(error)
    assert error.response.status_code == 302
    assert oauth.app.token_calls == []


def test_refresh_token_rotates_and_reports_each_new_token(
    oauth: OAuth, waiters: Waiters, runtime: str
) -> None:
    first_refresh = oauth.app.issue_refresh_token()
    saved: list[dict[str, Any]] = []
    clock = FakeClock()
    auth = httplib.OAuth2RefreshToken(
        oauth.token_url, first_refresh, on_token=saved.append, clock=clock
    )
    waiters.hold_token_until(oauth.app, BURST[runtime] - 1)
    first = ok_tokens(burst(runtime, auth, oauth.url("/api/resource")))
    assert [c.form for c in oauth.app.token_calls] == [
        {"grant_type": "refresh_token", "refresh_token": first_refresh}
    ]
    (token,) = saved
    assert token["access_token"] == first.pop()
    assert token["refresh_token"] == auth.refresh_token != first_refresh
    assert token["expires_at"] == clock.now + 3600
    oauth.app.revoke_access_tokens()
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    # The second refresh sent the rotated token (the first is spent at the server).
    assert oauth.app.token_calls[1].form["refresh_token"] == token["refresh_token"]
    assert len(saved) == 2
    assert saved[1]["refresh_token"] == auth.refresh_token


def test_refresh_token_kept_when_the_server_does_not_rotate(oauth: OAuth, runtime: str) -> None:
    oauth.app.rotate = False
    refresh = oauth.app.issue_refresh_token()
    saved: list[dict[str, Any]] = []
    auth = httplib.OAuth2RefreshToken(
        oauth.token_url,
        refresh,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        on_token=saved.append,
    )
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    assert auth.refresh_token == refresh
    assert saved[0]["refresh_token"] == refresh
    assert oauth.app.token_calls[0].method == "basic"


def test_refused_refresh_token_is_invalid_grant(oauth: OAuth, runtime: str) -> None:
    oauth.app.clients["public-app"] = ""  # a public client: no secret (RFC 6749 section 2.1)
    auth = httplib.OAuth2RefreshToken(oauth.token_url, "rt-revoked", client_id="public-app")
    error = call(runtime, auth, "GET", oauth.url("/api/resource"))
    assert isinstance(error, httplib.OAuth2Error)
    assert error.error == "invalid_grant"
    assert error.response.status_code == 400
    assert "rt-revoked" not in str(error)
    assert oauth.app.token_calls[0].form["client_id"] == "public-app"


def test_failed_fetch_shares_its_error_then_the_next_request_fetches_again(
    oauth: OAuth, waiters: Waiters, runtime: str
) -> None:
    auth = oauth.client_credentials()
    oauth.app.broken = ("cut",)  # the token response stops in the middle of its body
    waiters.hold_token_until(oauth.app, BURST[runtime] - 1)
    results = burst(runtime, auth, oauth.url("/api/resource"))
    assert len(oauth.app.token_calls) == 1
    for error in results:
        assert isinstance(error, httplib.RemoteProtocolError), error
        assert any("OAuth2 token" in note for note in getattr(error, "__notes__", []))
    # Nothing is left stuck: the next request fetches a token and gets through.
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    assert len(oauth.app.token_calls) == 2


@pytest.mark.parametrize("announced", [False, True], ids=["streamed", "content-length"])
def test_an_oversized_token_response_is_refused(
    oauth: OAuth, runtime: str, announced: bool
) -> None:
    """A token endpoint answering megabytes (a misdirected token URL, a hostile endpoint) fails
    the request with `ContentTooLarge` naming the token endpoint once `MAX_TOKEN_RESPONSE` is
    read (or at once, when its Content-Length says so), and the client goes on."""
    size = MAX_TOKEN_RESPONSE // 65536 + 2
    body = b" " * (size * 65536) + b"{}"
    oauth.app.broken = (
        ("status", 200, b"application/json", body) if announced else ("endless", size)
    )
    auth = oauth.client_credentials()
    error = call(runtime, auth, "GET", oauth.url("/api/resource"))
    assert isinstance(error, httplib.ContentTooLarge), error
    assert error.limit == MAX_TOKEN_RESPONSE
    assert any("OAuth2 token" in note for note in getattr(error, "__notes__", []))
    assert oauth.app.api_calls == []
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (("status", 200, b"text/html", b"<html>hello</html>"), "not a JSON object (text/html)"),
        (("status", 200, b"application/json", b'{"token_type": "Bearer"}'), "no access_token"),
        (("status", 200, b"application/json", b"[1, 2]"), "not a JSON object"),
        (("status", 502, b"text/plain", b"Bad gateway"), "not a JSON object (text/plain)"),
        (("status", 400, b"application/json", b'{"detail": "no"}'), "not an RFC 6749 error"),
        (
            ("status", 200, b"application/json", b'{"access_token": "x", "token_type": "mac"}'),
            "unsupported token_type 'mac'",
        ),
        (
            ("status", 200, b"application/json", b'{"access_token": "x", "expires_in": "soon"}'),
            "expires_in is not a number",
        ),
    ],
)
def test_malformed_token_responses_are_clear_errors(
    oauth: OAuth, broken: tuple[Any, ...], message: str
) -> None:
    oauth.app.broken = broken
    error = call("sync", oauth.client_credentials(), "GET", oauth.url("/api/resource"))
    assert isinstance(error, httplib.OAuth2Error), error
    assert message in str(error)
    assert error.error is None
    assert error.response.status_code == broken[1]
    assert oauth.app.api_calls == []


def test_streamed_body_is_not_replayed_after_a_401(oauth: OAuth, runtime: str) -> None:
    auth = oauth.client_credentials()
    ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    oauth.app.revoke_access_tokens()
    oauth.app.api_calls.clear()

    def chunks() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    async def achunks() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    body = chunks() if runtime == "sync" else achunks()
    response = call(runtime, auth, "POST", oauth.url("/api/upload"), content=body)
    assert isinstance(response, httplib.Response)
    assert response.status_code == 401
    assert len(oauth.app.api_calls) == 1
    assert len(oauth.app.token_calls) == 1
    # The same upload from memory can go again, and does.
    response = call(runtime, auth, "POST", oauth.url("/api/upload"), content=b"in memory")
    assert ok_tokens([response])


@pytest.mark.parametrize("async_runtime", ["asyncio", "trio"])
def test_cancelled_fetch_hands_over_to_a_waiter(
    oauth: OAuth, waiters: Waiters, async_runtime: str
) -> None:
    # The first task fetches; its token request reaches the server, which never answers it.
    # Then a second task comes and waits for that fetch; the moment it waits, the fetching
    # task is cancelled: the waiter must wake and fetch for itself.
    oauth.app.hold = held = threading.Event()
    arrived = oauth.app.token_arrived
    auth = oauth.client_credentials()
    url = oauth.url("/api/resource")

    async def on_asyncio(client: httplib.AsyncClient) -> list[Any]:
        import asyncio

        fetcher = asyncio.ensure_future(client.get(url))
        assert await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 10)
        waiters.at(1, fetcher.cancel)
        outcomes = await asyncio.gather(fetcher, client.get(url), return_exceptions=True)
        return ["cancelled" if isinstance(o, asyncio.CancelledError) else o for o in outcomes]

    async def on_trio(client: httplib.AsyncClient) -> list[Any]:
        outcomes: list[Any] = []

        async def fetcher(scope: trio.CancelScope) -> None:
            with scope:
                outcomes.append(await client.get(url))
                return
            outcomes.append("cancelled")

        async def waiter() -> None:
            outcomes.append(await client.get(url))

        scope = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher, scope)
            assert await trio.to_thread.run_sync(arrived.wait, 10)
            waiters.at(1, scope.cancel)
            nursery.start_soon(waiter)
        return outcomes

    async def main() -> list[Any]:
        async with httplib.AsyncClient(auth=auth) as client:
            return await (on_trio if async_runtime == "trio" else on_asyncio)(client)

    try:
        outcomes = run_async(async_runtime, main)
    finally:
        held.set()
    assert sorted(outcomes, key=str).count("cancelled") == 1
    assert ok_tokens([o for o in outcomes if o != "cancelled"])
    assert len(oauth.app.token_calls) == 2  # the abandoned fetch, then the waiter's own


def test_token_request_goes_through_the_same_client(oauth: OAuth, runtime: str) -> None:
    seen: list[str] = []

    def record(request: httplib.Request) -> None:
        seen.append(f"{request.method} {request.url.path}")

    async def arecord(request: httplib.Request) -> None:
        record(request)

    hook = record if runtime == "sync" else arecord
    client = {"event_hooks": {"request": [hook]}, "headers": {"User-Agent": "probe/1"}}
    response = call(
        runtime, oauth.client_credentials(), "GET", oauth.url("/api/resource"), client=client
    )
    assert ok_tokens([response])
    assert seen == ["POST /token", "GET /api/resource"]
    assert response.history == []  # the token exchange is not part of the API's history


def test_secrets_never_reach_repr_or_logs(oauth: OAuth, caplog: pytest.LogCaptureFixture) -> None:
    refresh = oauth.app.issue_refresh_token()
    refresh_auth = httplib.OAuth2RefreshToken(
        oauth.token_url,
        refresh,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        access_token="initial-access-token",
    )
    credentials = oauth.client_credentials()
    bearer = httplib.BearerAuth("static-bearer-token")
    with caplog.at_level(logging.DEBUG, logger="httplib"):
        for auth in (refresh_auth, credentials):
            ok_tokens([call("sync", auth, "GET", oauth.url("/api/resource"))])
        call("sync", oauth.client_credentials(secret="wrong"), "GET", oauth.url("/api/resource"))
    assert any("OAuth2 token" in record.getMessage() for record in caplog.records)
    issued = [t for c in oauth.app.token_calls for t in c.form.values()]
    secrets = [
        CLIENT_SECRET,
        refresh,
        refresh_auth.refresh_token,
        "initial-access-token",
        "static-bearer-token",
        *issued,
        *oauth.app.valid_tokens,
    ]
    shown = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [repr(refresh_auth), repr(credentials), repr(bearer)]
    )
    for secret in secrets:
        if secret not in ("refresh_token", "client_credentials"):
            assert secret not in shown
    assert "client_secret='***'" in repr(credentials)
    assert repr(bearer) == "BearerAuth(token='***')"


def test_bearer_auth_sends_the_token(oauth: OAuth, runtime: str) -> None:
    oauth.app.valid_tokens.add("static-token")
    response = call(runtime, httplib.BearerAuth("static-token"), "GET", oauth.url("/api/resource"))
    assert ok_tokens([response]) == {"static-token"}
    # A 401 is the answer: there is nothing to refresh.
    response = call(runtime, httplib.BearerAuth("other"), "GET", oauth.url("/api/resource"))
    assert isinstance(response, httplib.Response)
    assert response.status_code == 401


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="auth_method"):
        httplib.OAuth2ClientCredentials("https://a.test/token", "id", "s", auth_method="jwt")
    with pytest.raises(ValueError, match="absolute http"):
        httplib.OAuth2ClientCredentials("/token", "id", "s")
    with pytest.raises(TypeError, match="non-empty"):
        httplib.BearerAuth("")
    with pytest.raises(ValueError, match="client_id"):
        httplib.OAuth2RefreshToken("https://a.test/token", "rt", client_secret="s")


def test_one_auth_shared_by_a_client_and_async_clients_on_both_loops(
    oauth: OAuth, waiters: Waiters
) -> None:
    # Whoever fetches, the waiters of the other runtimes are woken from its thread.
    auth = oauth.client_credentials()
    sizes = {"sync": 4, "asyncio": 10, "trio": 10}
    waiters.hold_token_until(oauth.app, sum(sizes.values()) - 1)
    results: dict[str, list[Any]] = {}

    def run(runtime: str) -> None:
        results[runtime] = burst(runtime, auth, oauth.url("/api/resource"), sizes[runtime])

    threads = [threading.Thread(target=run, args=(runtime,)) for runtime in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == sorted(sizes)
    assert len(ok_tokens([r for outcomes in results.values() for r in outcomes])) == 1
    assert len(oauth.app.token_calls) == 1
    assert waiters.seen == sum(sizes.values()) - 1


def test_on_token_error_fails_only_the_refreshing_request(oauth: OAuth, runtime: str) -> None:
    def refuse(token: dict[str, Any]) -> None:
        raise OSError("disk full")

    auth = httplib.OAuth2RefreshToken(
        oauth.token_url, oauth.app.issue_refresh_token(), on_token=refuse
    )
    error = call(runtime, auth, "GET", oauth.url("/api/resource"))
    assert isinstance(error, OSError)
    assert str(error) == "disk full"
    # The token was cached before on_token ran: the next request uses it, no new refresh.
    assert ok_tokens([call(runtime, auth, "GET", oauth.url("/api/resource"))])
    assert len(oauth.app.token_calls) == 1
