"""Run the ASGI test app under uvicorn (HTTP/1.1) or hypercorn (HTTP/1.1 and HTTP/2) in a thread.

Each server binds 127.0.0.1 on a free port chosen by the kernel, runs its own event loop in a
daemon thread, and is shut down and joined by the context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import trustme


@dataclass
class RunningServer:
    host: str
    port: int
    scheme: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def run_uvicorn(app: Any, cert: trustme.LeafCert | None = None) -> Iterator[RunningServer]:
    """uvicorn with its httptools parser; TLS when `cert` is given."""
    import uvicorn

    sock = _bound_socket()
    with contextlib.ExitStack() as stack:
        tls: dict[str, Any] = {}
        if cert is not None:
            key_and_chain = stack.enter_context(cert.private_key_and_cert_chain_pem.tempfile())
            tls = {"ssl_certfile": key_and_chain, "ssl_keyfile": key_and_chain}
        config = uvicorn.Config(
            app, log_level="error", lifespan="off", timeout_keep_alive=30, **tls
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            for _ in range(500):
                if server.started:
                    break
                thread.join(0.01)
            if not server.started:
                raise RuntimeError("uvicorn did not start within 5 s")
            port = sock.getsockname()[1]
            yield RunningServer("127.0.0.1", port, "https" if cert else "http")
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


@contextlib.contextmanager
def run_hypercorn(app: Any, cert: trustme.LeafCert | None = None) -> Iterator[RunningServer]:
    """hypercorn: HTTP/1.1 and h2c in clear text, or HTTP/2 (ALPN h2, http/1.1) with TLS."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = _bound_socket()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    with contextlib.ExitStack() as stack:
        config = Config()
        # hypercorn closes the descriptor it serves on; give it its own duplicate.
        config.bind = [f"fd://{os.dup(sock.fileno())}"]
        config.loglevel = "ERROR"
        config.accesslog = None
        config.errorlog = None
        config.keep_alive_timeout = 30
        if cert is not None:
            key_and_chain = stack.enter_context(cert.private_key_and_cert_chain_pem.tempfile())
            config.certfile = key_and_chain
            config.keyfile = key_and_chain

        async def main() -> None:
            started.set()
            await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        try:
            if not started.wait(5):
                raise RuntimeError("hypercorn did not start within 5 s")
            yield RunningServer("127.0.0.1", sock.getsockname()[1], "https" if cert else "http")
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(10)
            loop.close()
            sock.close()
