"""`httplib.alias_httpx()`: after one call, `import httpx` anywhere in the process gives httplib.

Most httpx traffic comes from libraries (test clients, API SDKs, SSE and OAuth helpers) whose
imports a user cannot change. The alias answers every `httpx` and `httpx.<private module>` import
with a view of the httplib module that plays that part, so the classes and exceptions those
libraries see are httplib's own objects: `isinstance`, subclassing and `except` all agree.

A view, not httplib's module itself: a library that patches `httpx.<name>` changes its own view
(as it would change httpx), and `httpx.__name__` stays `httpx`. The objects behind the names are
shared, so a patch on a class (`httpx.Client.send`, as tracing SDKs do) reaches httplib's.
Loaded only by `alias_httpx()`: `import httplib` never imports this module, nor httpx.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

# The httpx release whose public API httplib follows: `httpx.__version__` under the alias, for
# libraries that compare it to pick an API (say, `proxies=` against `proxy=`).
HTTPX_API_VERSION = "0.28.1"

# Each module httpx 0.28 ships, to the httplib module holding the same objects. httplib keeps the
# auth flows and decoders in its sans-I/O core; every other module has httpx's name. A name a
# module here lacks is looked up in httplib's public names next (httpx defines every public name
# in one of these modules, httplib sometimes in another one: `httpx._models.Headers`).
MODULES: dict[str, str] = {
    "httpx": "httplib",
    "httpx._api": "httplib._api",
    "httpx._auth": "httplib._core.auth",
    "httpx._client": "httplib._client",
    "httpx._config": "httplib._config",
    "httpx._content": "httplib._content",
    "httpx._decoders": "httplib._core.decoders",
    "httpx._exceptions": "httplib._exceptions",
    "httpx._main": "httplib._main",
    "httpx._models": "httplib._models",
    "httpx._multipart": "httplib._multipart",
    "httpx._status_codes": "httplib._status_codes",
    "httpx._transports": "httplib._transports",
    "httpx._transports.asgi": "httplib._transports.asgi",
    "httpx._transports.base": "httplib._transports.base",
    "httpx._transports.default": "httplib._transports.default",
    "httpx._transports.mock": "httplib._transports.mock",
    "httpx._transports.wsgi": "httplib._transports.wsgi",
    "httpx._types": "httplib._types",
    "httpx._urlparse": "httplib._urlparse",
    "httpx._urls": "httplib._urls",
    "httpx._utils": "httplib._utils",
}
PACKAGES = frozenset({"httpx", "httpx._transports"})
# Loaded at the first import that names it: the CLI's module imports click and rich (~45 ms).
LAZY = frozenset({"httpx._main"})

# Set on every view, so a second call (and the error for a foreign httpx) can tell ours apart.
MARKER = "__httplib_alias__"

# httplib's own public names, which httpx does not have: they keep reporting `httplib`.
HTTPLIB_ONLY = frozenset(
    {
        "alias_httpx", "BearerAuth", "CircuitBreaker", "CircuitOpenError", "ContentTooLarge",
        "OAuth2ClientCredentials", "OAuth2Error", "OAuth2RefreshToken", "RateLimit",
        "RateLimitTimeout", "Retry", "RetryBudget",
    }
)  # fmt: skip

_lock = threading.Lock()


class AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """First on `sys.meta_path`: answers `httpx` and its modules before any installed httpx
    could, including after a library deletes them from `sys.modules` to import them afresh."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            # An `httpx.<name>` httpx does not have either: under the alias the view of
            # the package has an empty `__path__`, so the import fails with ModuleNotFoundError.
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname in PACKAGES)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _view(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        # The view is complete when made; its names resolve on access.
        return None


def _view(name: str) -> types.ModuleType:
    """The module `name` (`httpx` or `httpx._<module>`) as a view of its httplib counterpart."""
    target = importlib.import_module(MODULES[name])
    public = importlib.import_module("httplib")
    module = types.ModuleType(name, target.__doc__)
    namespace = vars(module)
    namespace[MARKER] = MODULES[name]
    if name == "httpx":
        # Eager for the public names, so `dir(httpx)` and `from httpx import *` list them.
        namespace.update({attr: getattr(public, attr) for attr in public.__all__})
        namespace.update(__all__=list(public.__all__), __version__=HTTPX_API_VERSION)
        namespace["__title__"] = "httpx"
    elif hasattr(target, "__all__"):
        namespace["__all__"] = list(target.__all__)

    def __getattr__(attr: str) -> Any:
        # PEP 562: only for names the view does not hold itself.
        child = f"{name}.{attr}"
        if child in MODULES:
            # httpx's `__init__` imports all its modules, so `httpx._client.X` works after a
            # bare `import httpx`; importing sets the attribute on the view for next time.
            return importlib.import_module(child)
        if hasattr(target, attr):
            return getattr(target, attr)
        if attr in public.__all__:
            return getattr(public, attr)
        raise AttributeError(
            f"module {name!r} (httplib's alias of httpx, via {MODULES[name]}) has no attribute"
            f" {attr!r}"
        )

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = lambda: sorted(
        set(namespace) | {n for n in dir(target) if not n.startswith("__")}
    )
    return module


def _report_as_httpx() -> None:
    """httpx's names report `httpx` as their module, as under httpx: a traceback reads
    `httpx.ReadTimeout: ...`, which pytest-httpx's tests (and log filters) match on. Pickles
    name `httpx.URL`, which the alias resolves."""
    public = importlib.import_module("httplib")
    for name in public.__all__:
        obj = getattr(public, name)
        if name not in HTTPLIB_ONLY and isinstance(obj, type | types.FunctionType):
            obj.__module__ = "httpx"


def _is_view(module: object) -> bool:
    return isinstance(module, types.ModuleType) and MARKER in vars(module)


def alias_httpx() -> None:
    """Make `import httpx` (and `import httpx._client`, `from httpx import Client`, ...) give
    httplib's objects everywhere in this process, from now on.

    Call it once at start-up, before anything imports httpx (or set `HTTPLIB_ALIAS_HTTPX=1` for
    the interpreter to call it at start-up). A second call does nothing. It cannot be undone.

    Raises:
        RuntimeError: httpx itself was imported before the call. The objects it made (clients,
            exception classes that code already caught by) would then be a second, different
            set from the aliased names, so the alias refuses rather than mix them.
    """
    with _lock:
        current = sys.modules.get("httpx")
        if current is not None and not _is_view(current):
            where = getattr(current, "__file__", None) or repr(current)
            raise RuntimeError(
                f"httplib.alias_httpx(): httpx was already imported (from {where}), so modules"
                " that imported it hold httpx's own classes and the alias cannot replace them."
                " Call httplib.alias_httpx() before anything imports httpx (first thing in the"
                " program's entry point), or set HTTPLIB_ALIAS_HTTPX=1 in the environment."
            )
        if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, AliasFinder())
            _report_as_httpx()
        for name in MODULES:
            if name not in LAZY:
                importlib.import_module(name)
