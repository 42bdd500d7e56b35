"""Every script in examples/ runs as a user would run it (`python examples/NAME.py`, in a fresh
interpreter, from the repository root), exits 0 and prints what it promises. Each script checks
its own results and exits non-zero when they are wrong."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Script name -> lines its output must contain (each script asserts the details itself).
EXPECTED = {
    "demo.py": ["GET /json -> 200", "GET /redirect -> 302 -> 200 at /json", "speedup:"],
    "fan_out.py": ["succeeded: 10", "failed: /status/503: HTTPStatusError", "failed: /users/1:"],
    "streamed_download.py": ["100%", "saved 8,388,608 bytes"],
    "api_client.py": ["user 7: {'id': 7", "NotFound:", "Unauthorized:", "APIError:"],
    "event_hooks_metrics.py": ["responses by status: {200: 3, 302: 1, 404: 1}"],
    "testing_with_mock_transport.py": ["5 checks passed"],
    "as_completed.py": ["/delay/0.1 -> 200", "/delay/0.9 -> 200"],
    "token_refresh.py": ["tokens saved: ['access-1', 'access-2']", "refresh token now: refresh-2"],
}
HELPERS = {"local_server.py"}


def test_every_example_is_run_here() -> None:
    scripts = {path.name for path in EXAMPLES.glob("*.py")} - HELPERS
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_its_result(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    for expected in EXPECTED[name]:
        assert expected in done.stdout, done.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED | dict.fromkeys(HELPERS)))
def test_example_imports_nothing_from_the_tests(name: str) -> None:
    """Examples are copied into other projects: only httplib, the standard library and their
    own local server helper."""
    tree = ast.parse((EXAMPLES / name).read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    allowed = set(sys.stdlib_module_names) | {"httplib", "local_server", "__future__"}
    assert modules <= allowed, modules - allowed
    assert "sys.path" not in (EXAMPLES / name).read_text()
