"""An API client class: one Client with base_url, auth and headers, and errors turned into the
application's own exceptions.

Wrapping `httplib.Client` keeps connection reuse (one pool for every call), puts the token and
headers in one place, and gives callers exceptions that say what went wrong in their terms.

Run: python examples/api_client.py
"""

from __future__ import annotations

import socket
import sys
from types import TracebackType
from typing import Any

from local_server import TOKEN, serve

import httplib


class APIError(Exception):
    """The service could not answer (network trouble, timeouts, server errors)."""


class NotFound(APIError):
    pass


class Unauthorized(APIError):
    pass


class UsersAPI:
    def __init__(self, base_url: str, token: str, *, timeout: float = 5.0) -> None:
        self._client = httplib.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "users-example/1.0"},
            timeout=timeout,
        )

    def user(self, user_id: int) -> dict[str, Any]:
        return self._get(f"/users/{user_id}")

    def _get(self, path: str) -> Any:
        try:
            response = self._client.get(path)
            response.raise_for_status()
        except httplib.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 404:
                raise NotFound(f"{path}: not found") from exc
            if status == 401:
                raise Unauthorized(f"{path}: the token was refused") from exc
            raise APIError(f"{path}: HTTP {status}") from exc
        except httplib.TransportError as exc:  # connect/read errors and timeouts
            raise APIError(f"{path}: {type(exc).__name__}: {exc}") from exc
        return response.json()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> UsersAPI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def main(base_url: str) -> int:
    outcomes = []
    with UsersAPI(base_url, TOKEN) as api:
        print("user 7:", api.user(7))
        try:
            api.user(1000)
        except NotFound as exc:
            outcomes.append("not found")
            print("NotFound:", exc)
    with UsersAPI(base_url, "wrong-token") as api:
        try:
            api.user(7)
        except Unauthorized as exc:
            outcomes.append("unauthorized")
            print("Unauthorized:", exc)
    # A port just released by the OS has no listener: the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with UsersAPI(f"http://127.0.0.1:{free_port}", TOKEN, timeout=2) as api:
        try:
            api.user(7)
        except APIError as exc:
            outcomes.append("unavailable")
            print("APIError:", exc)
    return 0 if outcomes == ["not found", "unauthorized", "unavailable"] else 1


if __name__ == "__main__":
    with serve() as url:
        sys.exit(main(url))
