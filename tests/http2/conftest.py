"""The runtime fixtures of the transport tests (sync, asyncio, uvloop, trio), for the HTTP/2
cases."""

from __future__ import annotations

from transport.conftest import run, run_all, run_async

__all__ = ["run", "run_all", "run_async"]
