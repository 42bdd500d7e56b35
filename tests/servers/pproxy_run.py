"""Entry point of the pproxy child process that `servers.proxies` starts (not imported by tests).

Runs pproxy's own listeners through its library API (`pproxy.Server(uri).start_server`) on a
plain asyncio loop: pproxy's command line installs uvloop when it can and then asks for the
loop in a way uvloop rejects. Prints one JSON line with the bound port of each listener (the
parent waits for that line instead of sleeping), then serves until stdin closes, so a test run
that dies never leaves the proxy behind.

Usage: python pproxy_run.py '{"listeners": {"name": "uri", ...}, "certfile": path or null}'
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


async def serve(config: dict[str, Any]) -> None:
    import pproxy
    import pproxy.server

    certfile = config.get("certfile")
    servers = {}
    for name, uri in config["listeners"].items():
        listener = pproxy.Server(uri)
        if listener.sslserver is not None:
            listener.sslserver.load_cert_chain(certfile)
        # authtime -1: check the credentials of every request. pproxy otherwise remembers an
        # authenticated client address for 30 days, process-wide, so a later request without
        # (or with wrong) credentials from 127.0.0.1 would pass.
        args = {"rserver": [], "authtime": -1, "verbose": lambda _text: None}
        servers[name] = await listener.start_server(args)
    ports = {name: server.sockets[0].getsockname()[1] for name, server in servers.items()}
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    # The parent closes our stdin to stop us (or dies, which closes it too).
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    for server in servers.values():
        server.close()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
