"""The sans-I/O core must not reach for sockets, TLS, event loops, threads or the clock.

Every module under `httplib._core` is found on disk at test time, so modules added later are
checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import httplib._core

FORBIDDEN = frozenset(
    {
        "socket",
        "ssl",
        "asyncio",
        "trio",
        "threading",
        "_thread",
        "selectors",
        "time",
        "anyio",
        "sniffio",
    }
)
# The client-level policies that one Client and AsyncClient may share own a C lock, held for a
# few arithmetic steps and never across an effect (a flow's lock otherwise comes from the
# runtime, as the engine's does). Nothing else in the core may reach for threads.
ALLOWED = {("ratelimit.py", "_thread"), ("breaker.py", "_thread"), ("token_auth.py", "_thread")}
CORE_DIR = Path(httplib._core.__file__).parent
CORE_MODULES = sorted(CORE_DIR.rglob("*.py"))


def _dynamic_import_target(node: ast.Call) -> str | None:
    """The module named by `__import__("x")` or `importlib.import_module("x")`, if literal."""
    func = node.func
    is_dunder = isinstance(func, ast.Name) and func.id == "__import__"
    is_importlib = isinstance(func, ast.Attribute) and func.attr == "import_module"
    if (is_dunder or is_importlib) and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def forbidden_imports(source: str) -> list[str]:
    """`line: module` for every forbidden module the source imports, in any spelling."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Call) and (target := _dynamic_import_target(node)):
            modules = [target]
        if modules:
            line = getattr(node, "lineno", 0)
            found.extend(f"{line}: {name}" for name in modules if name.split(".")[0] in FORBIDDEN)
    return found


def test_core_has_modules() -> None:
    names = {path.name for path in CORE_MODULES}
    assert {"__init__.py", "decoders.py"} <= names


@pytest.mark.parametrize(
    "path", CORE_MODULES, ids=lambda path: path.relative_to(CORE_DIR).as_posix()
)
def test_core_module_imports_no_io(path: Path) -> None:
    found = forbidden_imports(path.read_text(encoding="utf-8"))
    assert [f for f in found if (path.name, f.split(": ")[1]) not in ALLOWED] == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import socket", ["1: socket"]),
        ("import os, ssl as _ssl", ["1: ssl"]),
        ("from asyncio import sleep", ["1: asyncio"]),
        ("from time import monotonic", ["1: time"]),
        ("import trio.lowlevel", ["1: trio.lowlevel"]),
        ("def f():\n    import threading", ["2: threading"]),
        ("try:\n    import anyio\nexcept ImportError:\n    pass", ["2: anyio"]),
        ("import sniffio, selectors", ["1: sniffio", "1: selectors"]),
        ("__import__('socket')", ["1: socket"]),
        ("import importlib\nimportlib.import_module('ssl')", ["2: ssl"]),
        ("import zlib, codecs, timeit", []),
        ("from . import time", []),
        ("from .events import socket", []),
    ],
)
def test_checker_catches_every_spelling(source: str, expected: list[str]) -> None:
    assert forbidden_imports(source) == expected
