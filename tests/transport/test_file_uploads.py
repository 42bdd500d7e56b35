"""A regular file as a sync request body: over a plain socket the kernel sends it (sendfile),
over TLS it is read and written in pieces; either way the server gets the file from where it
stood, a redirect sends it again, a file that changed size since the request was built fails
as its read would, and a server that stops reading is a write timeout."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from httplib import Client, LocalProtocolError, Timeout, WriteTimeout
from servers.raw import scripted_server
from transport.transport_harness import reset_the_first_upload

SIZE = 3 * 1024 * 1024 + 17  # several socket buffers, not a multiple of any read size
START = 1000  # the file's position when it is given: the body starts there


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture(params=["plain", "tls"])
def echo_url(request: pytest.FixtureRequest, uvicorn_server: Any, uvicorn_tls_server: Any) -> str:
    server = uvicorn_server if request.param == "plain" else uvicorn_tls_server
    return str(server.url)


@pytest.fixture
def client(client_ssl_context: Any) -> Iterator[Client]:
    with Client(verify=client_ssl_context) as client:
        yield client


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts os.sendfile was called with (it still sends them)."""
    calls: list[int] = []
    real: Callable[..., int] = os.sendfile

    def counted(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counted)
    return calls


def _echoed_body(response: Any) -> bytes:
    return str(json.loads(response.content)["body"]).encode("latin-1")


def test_the_server_gets_the_file_from_where_it_stood(
    client: Client, echo_url: str, body_file: Path, sendfile_calls: list[int]
) -> None:
    data = body_file.read_bytes()
    with body_file.open("rb") as f:
        f.seek(START)
        response = client.post(echo_url + "/echo", content=f)
        assert f.tell() == SIZE  # read to its end, as the read loop leaves it
    assert response.status_code == 200
    assert _echoed_body(response) == data[START:]
    # The kernel sent it over the plain socket; TLS encrypts in user space.
    assert bool(sendfile_calls) is echo_url.startswith("http:")
    assert client.get(echo_url + "/json").status_code == 200


def test_a_redirect_sends_the_file_again(client: Client, echo_url: str, body_file: Path) -> None:
    data = body_file.read_bytes()
    with body_file.open("rb") as f:
        f.seek(START)
        response = client.put(echo_url + "/redirect/307?to=/echo", content=f, follow_redirects=True)
    assert [r.status_code for r in response.history] == [307]
    assert _echoed_body(response) == data[START:]


@pytest.mark.parametrize(
    ("change", "message"),
    [(b"more", "Too much data"), (None, "Too little data")],
    ids=["grown", "shrunk"],
)
def test_a_file_that_changed_size_fails_as_its_read_would(
    client: Client, echo_url: str, body_file: Path, change: bytes | None, message: str
) -> None:
    """The Content-Length was taken when the request was built; a file that is longer or
    shorter when it is sent is refused, and the client goes on."""
    with body_file.open("rb") as f:
        request = client.build_request("POST", echo_url + "/echo", content=f)
        if change is None:
            os.truncate(body_file, SIZE - 5)
        else:
            with body_file.open("ab") as more:
                more.write(change)
        with pytest.raises(LocalProtocolError, match=message):
            client.send(request)
    assert client.get(echo_url + "/json").status_code == 200


def test_a_server_that_stops_reading_the_file_is_a_write_timeout(
    body_file: Path, uvicorn_server: Any
) -> None:
    """The server takes the head and then reads nothing: the kernel's send waits, and the
    write timeout ends it; the connection is not reused."""
    big = body_file.parent / "big.bin"
    with big.open("wb") as out:
        out.truncate(64 << 20)  # more than both ends' socket buffers hold
    release = threading.Event()

    def never_reads(conn: socket.socket) -> None:
        release.wait(10)

    with scripted_server(never_reads) as server, Client(timeout=Timeout(10, write=0.2)) as c:
        try:
            with big.open("rb") as f, pytest.raises(WriteTimeout):
                c.post(server.url + "/up", content=f)
        finally:
            release.set()
        assert c.get(uvicorn_server.url + "/json").status_code == 200


def test_a_file_upload_cut_by_a_reset_goes_again_from_where_the_file_stood(
    body_file: Path,
) -> None:
    """The first connection is reset under the kernel's send: an idempotent PUT goes again on
    a new connection, and the file is sent again from the position it was given at."""
    big = body_file.parent / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 24)  # more than both ends' socket buffers hold
    data = big.read_bytes()
    state = {"n": 0}

    def reset_the_first(conn: socket.socket) -> None:
        reset_the_first_upload(
            conn, state, lambda body: b"%d %d" % (len(body), body == data[START:])
        )

    with scripted_server(reset_the_first) as server, Client() as client:
        with big.open("rb") as f:
            f.seek(START)
            response = client.put(server.url + "/file", content=f)
        assert response.content == b"%d 1" % (len(data) - START)
        assert server.connections_accepted == 2
