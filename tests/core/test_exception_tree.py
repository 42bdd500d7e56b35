"""No internal exception class reaches a user: every exception the package raises is one of
httpx's public classes (as `httplib` exports them), a public httplib extension, or a builtin.

The walk reads every `raise` in the package's source: a class raised directly, or a helper
function whose return annotation names the class it builds. A new raise site that cannot be
resolved fails here with its location, so it gets looked at.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import httplib

PACKAGE = Path(httplib.__file__).parent
PUBLIC = {
    name
    for name in httplib.__all__
    if isinstance(getattr(httplib, name), type)
    and issubclass(getattr(httplib, name), BaseException)
}
# Foreign classes raised where their own library's contract wants them, with why they never
# reach a user of the client as such.
FOREIGN = {
    "SSLError",  # _io/tls_bio.py: inside a backend, mapped to ConnectError/ReadError there
    "BadParameter",  # _main.py: click's usage error for the CLI's own arguments
}
BUILTIN = {
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
}


def _builders() -> dict[str, set[str | None]]:
    """What each function of the package (by name, nested ones and methods too) is annotated
    to return: the class a `raise helper(...)` raises."""
    found: dict[str, set[str | None]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, set()).add(_annotation_name(node.returns))
    return found


def _annotation_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.strip("\"'")
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _raised_class(node: ast.Raise, builders: dict[str, set[str | None]]) -> str | None:
    """The class a `raise` statement raises, when the source says; None for a re-raise of a
    caught exception or a stored one."""
    exc = node.exc
    if exc is None:
        return None
    if isinstance(exc, ast.Call):
        func = exc.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name is None:
            return "<unresolved call>"
        if name == "with_traceback":
            return None  # re-raising a stored exception with its traceback
        if name in builders:
            # (a name shared by several functions: the one that builds an exception)
            classes = sorted(c for c in builders[name] if c in PUBLIC | BUILTIN)
            return classes[0] if classes else f"<{name}() returning {builders[name]}>"
        return name
    if isinstance(exc, ast.Name) and exc.id[:1].isupper():
        return exc.id  # `raise SomeClass` without arguments
    return None  # `raise exc`, `raise self.error`, `raise event.error`...


def test_every_raise_site_raises_a_public_or_builtin_exception() -> None:
    offenders: list[str] = []
    checked = 0
    builders = _builders()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise):
                continue
            name = _raised_class(node, builders)
            if name is None:
                continue
            checked += 1
            if name not in PUBLIC and name not in BUILTIN and name not in FOREIGN:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    assert checked > 200  # the walk really read the package
    assert offenders == []


def test_no_exception_class_is_defined_outside_the_public_tree() -> None:
    """Exception classes live in `_exceptions.py` (httpx's tree) or are exported (OAuth2Error);
    an internal subclass would leak its private module path into users' tracebacks and
    `except` clauses would have to name it."""
    defined: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {_annotation_name(base) for base in node.bases}
                if bases & (PUBLIC | BUILTIN) and node.name not in PUBLIC:
                    defined.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.name}")
    assert defined == []
