"""Token refresh: `OAuth2RefreshToken` trades a refresh token for access tokens as they expire
(or when the API rejects one with 401 invalid_token), retries the request once with the new
token, and reports every new token to `on_token` so the application can store it.

The authorization server and the API are one MockTransport handler here, so the script runs
without a network; against real services only `token_url` and the base URL change.

Run: python examples/token_refresh.py
"""

from __future__ import annotations

import itertools
import sys
from urllib.parse import parse_qs

import httplib


class FakeServices:
    """A token endpoint that rotates refresh tokens, and an API that accepts only the newest
    access token."""

    def __init__(self) -> None:
        self.serial = itertools.count(1)
        self.refresh_token = "refresh-0"
        self.access_token = "never-issued"
        self.token_requests = 0

    def __call__(self, request: httplib.Request) -> httplib.Response:
        if request.url.path == "/oauth/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if form.get("grant_type") != "refresh_token":
                return httplib.Response(400, json={"error": "unsupported_grant_type"})
            if form.get("refresh_token") != self.refresh_token:
                return httplib.Response(400, json={"error": "invalid_grant"})
            self.token_requests += 1
            n = next(self.serial)
            self.access_token, self.refresh_token = f"access-{n}", f"refresh-{n}"
            return httplib.Response(
                200,
                json={
                    "access_token": self.access_token,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "refresh_token": self.refresh_token,
                },
            )
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return httplib.Response(
                401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return httplib.Response(200, json={"path": request.url.path, "ok": True})

    def revoke_access_token(self) -> None:
        self.access_token = "revoked"


def main() -> int:
    services = FakeServices()
    saved: list[dict[str, object]] = []  # an application would write these to its store

    auth = httplib.OAuth2RefreshToken(
        "https://auth.example/oauth/token",
        refresh_token="refresh-0",
        client_id="example-app",
        on_token=saved.append,
    )
    transport = httplib.MockTransport(services)
    with httplib.Client(transport=transport, base_url="https://api.example", auth=auth) as client:
        print("first call:", client.get("/me").json(), "(refreshed before it was sent)")
        print("second call:", client.get("/me").json(), "(same token, no refresh)")
        services.revoke_access_token()
        print("after revocation:", client.get("/me").json(), "(401, refreshed, retried)")

    print("tokens saved:", [token["access_token"] for token in saved])
    print("refresh token now:", saved[-1]["refresh_token"])
    ok = services.token_requests == 2 and [t["access_token"] for t in saved] == [
        "access-1",
        "access-2",
    ]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
