"""HTTP/2 over TLS against a real server: nginx, where the test set-up installed it.

nginx runs from a config generated in `tmp_path` on a free loopback port with a trustme
certificate, and is always stopped. Skipped (with the reason) when nginx is not on PATH.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from httplib._client import AsyncClient, Client
from transport.transport_harness import Mode, Runner

NGINX = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (CI installs it)")

FILES = {"1k": 1024, "1m": 1 << 20}


def _config(workdir: Path, port: int, version: tuple[int, ...]) -> str:
    # `http2 on;` replaced the `listen ... http2` flag in nginx 1.25.1.
    flag, directive = ("", "http2 on;") if version >= (1, 25, 1) else (" http2", "")
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp;
    proxy_temp_path {workdir}/tmp;
    fastcgi_temp_path {workdir}/tmp;
    uwsgi_temp_path {workdir}/tmp;
    scgi_temp_path {workdir}/tmp;
    server {{
        listen 127.0.0.1:{port} ssl{flag};
        {directive}
        ssl_certificate {workdir}/server.pem;
        ssl_certificate_key {workdir}/server.key;
        root {workdir}/www;
    }}
}}
"""


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    """(base URL, client SSL context) of an nginx serving `FILES` over h2."""
    assert NGINX is not None
    workdir = tmp_path_factory.mktemp("nginx")
    (workdir / "tmp").mkdir()
    www = workdir / "www"
    www.mkdir()
    for name, size in FILES.items():
        (www / name).write_bytes(random.Random(name).randbytes(size))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(workdir / "server.key"))
    (workdir / "server.pem").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    version = tuple(int(p) for p in match.groups()) if match else (0, 0, 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = workdir / "nginx.conf"
    conf.write_text(_config(workdir, port, version))
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf)], stdin=subprocess.DEVNULL)
    try:
        _wait_listening(proc, port, workdir / "error.log")
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)
        yield f"https://127.0.0.1:{port}", ctx
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("name", list(FILES))
def test_sync_get_over_h2(nginx: tuple[str, ssl.SSLContext], name: str) -> None:
    base, ctx = nginx
    with Client(http2=True, verify=ctx) as client:
        response = client.get(f"{base}/{name}")
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"
    assert response.content == random.Random(name).randbytes(FILES[name])


@pytest.mark.parametrize("name", list(FILES))
def test_async_concurrent_gets_over_one_h2_connection(
    run_async: Runner, nginx: tuple[str, ssl.SSLContext], name: str
) -> None:
    base, ctx = nginx
    expected = random.Random(name).randbytes(FILES[name])

    async def case(mode: Mode) -> None:
        async with AsyncClient(http2=True, verify=ctx) as client:
            responses = await mode.gather([lambda: client.get(f"{base}/{name}")] * 8)
        results = [(response.http_version, response.content) for response in responses]
        assert results == [("HTTP/2", expected)] * 8

    run_async(case)


def test_expect_100_continue_refused_by_nginx_keeps_the_connection(
    nginx: tuple[str, ssl.SSLContext],
) -> None:
    """nginx answers a POST to a static file (405) without asking for its body: the request
    held back for `Expect: 100-continue` ends with that answer, and the next one goes on the
    same connection. (That no byte of the body goes out is checked against the scripted peer,
    in test_h2_expect.py.)"""
    base, ctx = nginx
    with Client(http2=True, verify=ctx) as client:
        response = client.post(
            f"{base}/1k", content=b"x" * (1 << 20), headers={"Expect": "100-continue"}
        )
        assert (response.status_code, response.http_version) == (405, "HTTP/2")
        after = client.get(f"{base}/1k")
        assert after.content == random.Random("1k").randbytes(FILES["1k"])
        assert after.extensions["stream_id"] == response.extensions["stream_id"] + 2
