"""Client adapters: one module per library, loaded by name inside the worker's venv."""

from __future__ import annotations

import importlib

from adapters.base import Adapter, Unavailable

# httplib with its resilience policies configured but never acting (adapters/httpx_like.py),
# run beside plain httplib on the 1 KiB GET rows only.
ARMED = "httplib (policies armed)"

# client name -> (module, factory argument)
REGISTRY: dict[str, tuple[str, str]] = {
    "httplib": ("adapters.httpx_like", "httplib"),
    ARMED: ("adapters.httpx_like", "httplib:armed"),
    "httpx": ("adapters.httpx_like", "httpx"),
    "httpx2": ("adapters.httpx_like", "httpx2"),
    "aiohttp": ("adapters.aiohttp_adapter", ""),
    "httplib-uvloop": ("adapters.httpx_like", "httplib:uvloop"),
    "aiohttp-uvloop": ("adapters.aiohttp_adapter", "uvloop"),
    "requests": ("adapters.requests_like", "requests"),
    "niquests": ("adapters.requests_like", "niquests"),
    "urllib3": ("adapters.urllib3_adapter", ""),
    "pycurl": ("adapters.pycurl_adapter", ""),
    "raw-sync": ("adapters.raw", "sync"),
    "raw-asyncio": ("adapters.raw", "asyncio"),
    "raw-uvloop": ("adapters.raw", "uvloop"),
}


def load(client: str) -> Adapter:
    module_name, arg = REGISTRY[client]
    try:
        adapter: Adapter = importlib.import_module(module_name).load(arg)
    except ImportError as exc:
        # Only a missing top-level package means "not installed here"; a broken import inside
        # an installed package is a crash and must fail the run.
        if exc.name is None or "." in exc.name or exc.name.startswith("adapters"):
            raise
        raise Unavailable(f"{exc.name} is not installed") from exc
    return adapter
