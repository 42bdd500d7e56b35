"""The benchmark server: nginx from the OS packages, run from a generated config in a temp dir.

It never touches the system service: its own pid, logs and temp paths live in the work dir, it
binds only 127.0.0.1 on ports free at start, and `NginxServer` always stops it on exit.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from scenarios import NDJSON_LINE, PAYLOADS, TEXT_PAYLOADS

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


def find_nginx() -> str:
    for name in NGINX_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("nginx not found: run bench/bootstrap.sh (make bench does) first")


def nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"cannot parse nginx version from {out!r}")
    return tuple(int(part) for part in match.groups())


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; all sockets stay open until every port is picked."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def write_payloads(www: Path) -> dict[str, dict[str, object]]:
    """Pseudo-random files from a fixed seed; returns name -> size and sha256."""
    www.mkdir(parents=True, exist_ok=True)
    meta: dict[str, dict[str, object]] = {}
    for name, size in PAYLOADS.items():
        data = random.Random(f"httplib-bench-{name}").randbytes(size)
        (www / name).write_bytes(data)
        meta[name] = {"size": size, "sha256": hashlib.sha256(data).hexdigest()}
    for name, size in TEXT_PAYLOADS.items():
        data = ndjson(size)
        (www / name).write_bytes(data)
        meta[name] = {"size": size, "sha256": hashlib.sha256(data).hexdigest()}
    return meta


def ndjson(size: int) -> bytes:
    """`size` bytes of distinct JSON objects, one per `NDJSON_LINE`-byte line."""
    assert size % NDJSON_LINE == 0, size
    lines = (
        (b'{"seq":%d,"event":"delta","text":"token %d"}' % (i, i % 997)).ljust(NDJSON_LINE - 1)
        + b"\n"
        for i in range(size // NDJSON_LINE)
    )
    return b"".join(lines)


def make_certs(workdir: Path) -> tuple[Path, Path, Path]:
    """A local CA and a server certificate for 127.0.0.1/localhost, made with trustme."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, chain, key = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return ca_file, chain, key


@dataclass
class Ports:
    http: int
    https: int
    h2: int
    h2c: int
    proxy: int  # a forward proxy to the `http` server (nginx again)

    def urls(self) -> dict[str, str]:
        return {
            "http": f"http://127.0.0.1:{self.http}",
            "https": f"https://127.0.0.1:{self.https}",
            "h2": f"https://127.0.0.1:{self.h2}",
            "h2c": f"http://127.0.0.1:{self.h2c}",
            "proxy": f"http://127.0.0.1:{self.proxy}",
        }


def render_config(
    workdir: Path, ports: Ports, version: tuple[int, ...], cert: Path, key: Path
) -> str:
    # `http2 on;` replaced the `listen ... http2` flag in nginx 1.25.1.
    new_h2 = version >= (1, 25, 1)
    h2_flag, h2_directive = ("", "http2 on;") if new_h2 else (" http2", "")
    user = "user root;" if os.geteuid() == 0 else ""
    common = f"""
        root {workdir}/www;
        location = /upload {{
            client_max_body_size 0;
            client_body_buffer_size 1m;
            default_type text/plain;
            return 200 "$content_length";
        }}
    """
    return f"""
{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 1000000000;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    default_type application/octet-stream;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    http2_max_concurrent_streams 256;
    server {{ listen 127.0.0.1:{ports.http}; {common} }}
    server {{ listen 127.0.0.1:{ports.https} ssl; {common} }}
    server {{ listen 127.0.0.1:{ports.h2} ssl{h2_flag}; {h2_directive} {common} }}
    server {{ listen 127.0.0.1:{ports.h2c}{h2_flag}; {h2_directive} {common} }}
    # The forward proxy: requests in absolute form (`GET http://127.0.0.1:<http>/1k`) passed
    # on to the plain server over kept-alive upstream connections, as a caching-off corporate
    # proxy would. Every client goes through this same proxy.
    upstream bench_origin {{ server 127.0.0.1:{ports.http}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{ports.proxy};
        location / {{
            proxy_pass http://bench_origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass
class NginxServer:
    """Context manager: writes payloads, certs and config into `workdir`, runs nginx, stops it."""

    workdir: Path
    cpu: int | None = None  # pin nginx (master and its one worker) to this core
    ports: Ports = field(init=False)
    payloads: dict[str, dict[str, object]] = field(init=False)
    ca_file: Path = field(init=False)
    version: str = field(init=False)
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None)

    def __enter__(self) -> NginxServer:
        binary = find_nginx()
        version = nginx_version(binary)
        self.version = ".".join(map(str, version))
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.payloads = write_payloads(self.workdir / "www")
        self.ca_file, chain, key = make_certs(self.workdir)
        self.ports = Ports(*free_ports(5))
        conf = self.workdir / "nginx.conf"
        conf.write_text(render_config(self.workdir, self.ports, version, chain, key))
        cmd = [binary, "-p", str(self.workdir), "-c", str(conf)]
        if self.cpu is not None:
            cmd = ["taskset", "-c", str(self.cpu), *cmd]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        ports = self.ports
        for port in (ports.http, ports.https, ports.h2, ports.h2c, ports.proxy):
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    log = (self.workdir / "error.log").read_text(errors="replace")
                    raise RuntimeError(f"nginx exited with {self._proc.returncode}: {log}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not listen on port {port}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: nginx's fast shutdown, workers included
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
