"""Testing code that uses httplib without a network: `MockTransport` answers every request with
a handler you write, so a test decides what the "server" says and checks what was sent.

The code under test takes a client as an argument; the test passes one built on a
MockTransport. These checks use plain asserts; under pytest they would be test functions.

Run: python examples/testing_with_mock_transport.py
"""

from __future__ import annotations

import json
import sys

import httplib

# --- the code under test --------------------------------------------------------------------


def latest_release(client: httplib.Client, project: str) -> str | None:
    """The newest version string of `project`, or None if the service does not know it."""
    response = client.get(f"/projects/{project}/releases", params={"limit": 1})
    if response.status_code == 404:
        return None
    response.raise_for_status()
    releases = response.json()["releases"]
    return releases[0]["version"] if releases else None


# --- the tests ------------------------------------------------------------------------------


def test_returns_the_newest_version_and_asks_for_one() -> None:
    seen: list[httplib.Request] = []

    def handler(request: httplib.Request) -> httplib.Response:
        seen.append(request)
        return httplib.Response(200, json={"releases": [{"version": "2.1.0"}]})

    with httplib.Client(
        transport=httplib.MockTransport(handler), base_url="https://api.test"
    ) as client:
        assert latest_release(client, "httplib") == "2.1.0"
    assert len(seen) == 1
    assert seen[0].url == "https://api.test/projects/httplib/releases?limit=1"


def test_unknown_project_is_none() -> None:
    transport = httplib.MockTransport(lambda request: httplib.Response(404))
    with httplib.Client(transport=transport, base_url="https://api.test") as client:
        assert latest_release(client, "nope") is None


def test_server_error_raises() -> None:
    transport = httplib.MockTransport(lambda request: httplib.Response(503, text="busy"))
    with httplib.Client(transport=transport, base_url="https://api.test") as client:
        try:
            latest_release(client, "httplib")
        except httplib.HTTPStatusError as exc:
            status = exc.response.status_code
        else:
            raise AssertionError("a 503 must raise HTTPStatusError")
    assert status == 503


def test_network_failure_surfaces_as_httplib_error() -> None:
    def handler(request: httplib.Request) -> httplib.Response:
        raise httplib.ConnectError("connection refused", request=request)

    with httplib.Client(
        transport=httplib.MockTransport(handler), base_url="https://api.test"
    ) as client:
        try:
            latest_release(client, "httplib")
        except httplib.ConnectError:
            pass
        else:
            raise AssertionError("a transport error must propagate")


def test_request_body_is_checked() -> None:
    def handler(request: httplib.Request) -> httplib.Response:
        body = json.loads(request.content)
        return httplib.Response(201 if body == {"name": "x"} else 400)

    with httplib.Client(transport=httplib.MockTransport(handler)) as client:
        assert client.post("https://api.test/items", json={"name": "x"}).status_code == 201
        assert client.post("https://api.test/items", json={"name": "y"}).status_code == 400


def main() -> int:
    tests = [value for name, value in globals().items() if name.startswith("test_")]
    for test in tests:
        test()
        print(f"passed: {test.__name__}")
    print(f"{len(tests)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
