"""Run real libraries' own test suites on httpx, then on httplib through `alias_httpx()`.

`make compat` runs this. Each library's source distribution (pinned below) is fetched once into
`thirdparty/.cache`, installed with the pinned test tools of `requirements.txt` into
`thirdparty/.venv`, and its tests run twice: as shipped (httpx), then with
`HTTPLIB_ALIAS_HTTPX=1`, which the wheel's `.pth` hook turns into `httplib.alias_httpx()` at
interpreter start-up. httplib is built from this checkout and reinstalled on every run.

A test that passes on httpx and does not pass on httplib fails the run, beyond a suite's count
of known differences (none, except pytest-httpx's 54, the documented gaps: httpx's User-Agent
string, httpcore's pool); so does a suite that ran no test. The suites need no network:
starlette's TestClient runs the app in process, ollama's tests serve on loopback
(pytest-httpserver), httpx-sse's and pytest-httpx's answer from mock transports.
Per-suite counts go to stdout and `thirdparty/.work/results.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import venv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
CACHE = HERE / ".cache"
WORK = HERE / ".work"
PY = VENV / "bin" / "python"
# One suite's run on one library; ~10 s each here, so this only stops a hang.
RUN_TIMEOUT = 300


@dataclass(frozen=True)
class Suite:
    name: str  # the distribution's name on the index
    version: str
    why: str  # what kind of httpx user it stands for
    tests: str = "tests"
    pytest_args: list[str] = field(default_factory=list)
    # How many tests may pass on httpx and not on httplib: differences that are known and
    # documented (docs/alias.md). More than that fails the run.
    known_differences: int = 0


SUITES = [
    Suite("starlette", "0.52.1", "web framework test client (TestClient subclasses httpx.Client)"),
    Suite("ollama", "0.6.3", "API SDK (Client wraps httpx.Client, tests on a loopback server)"),
    # Its setup.cfg adds coverage options needing pytest-cov; the report flags are kept.
    Suite("httpx-sse", "0.4.3", "SSE helper", pytest_args=["-o", "addopts=-rxXs"]),
    # Its tests compare the default User-Agent (`python-httpx/0.28.1`, httplib keeps its own)
    # and read proxy URLs out of httpcore's pool; both are documented gaps.
    # 44 + 10: lower this when a gap closes.
    Suite("pytest-httpx", "0.35.0", "mocking helper (patches HTTPTransport)", known_differences=54),
]


def sh(*args: str | Path, **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # type: ignore[call-overload]


def sdist(suite: Suite) -> Path:
    """The suite's source distribution (with its tests), downloaded once."""
    prefix = f"{suite.name.replace('-', '_')}-{suite.version}"
    found = [p for p in CACHE.glob("*.tar.gz") if p.name.lower().startswith(prefix.lower())]
    if not found:
        CACHE.mkdir(exist_ok=True)
        sh(
            PY,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            CACHE,
            f"{suite.name}=={suite.version}",
        )
        found = [p for p in CACHE.glob("*.tar.gz") if p.name.lower().startswith(prefix.lower())]
    return found[0]


def ensure_venv() -> None:
    """thirdparty/.venv with the pins installed; rebuilt when the pins change."""
    requirements = HERE / "requirements.txt"
    pins = requirements.read_text() + repr([(s.name, s.version) for s in SUITES])
    stamp = VENV / ".pins"
    digest = hashlib.sha256(pins.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    venv.create(VENV, with_pip=True, clear=True)
    sh(PY, "-m", "pip", "install", "--quiet", "-r", requirements)
    sh(PY, "-m", "pip", "install", "--quiet", "-r", requirements, *(sdist(s) for s in SUITES))
    sh(PY, "-m", "pip", "install", "--quiet", "--no-build-isolation", REPO)
    stamp.write_text(digest)


def install_httplib() -> None:
    """This checkout's httplib, as a wheel (so its `.pth` hook is the one users get)."""
    sh(
        PY,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--force-reinstall",
        REPO,
    )


def environment(alias: bool) -> dict[str, str]:
    drop = {"HTTPLIB_ALIAS_HTTPX", "OLLAMA_HOST", "PYTHONPATH"}
    env = {
        k: v for k, v in os.environ.items() if k not in drop and not k.lower().endswith("_proxy")
    }
    if alias:
        env["HTTPLIB_ALIAS_HTTPX"] = "1"
    return env


def check_alias_switch() -> None:
    """The variable must be what decides: httpx without it, httplib with it."""
    probe = "import httpx, httplib; print(httpx.Client is httplib.Client)"
    for alias, expected in ((False, "False"), (True, "True")):
        out = subprocess.run(
            [PY, "-c", probe], env=environment(alias), capture_output=True, text=True, check=True
        ).stdout.strip()
        if out != expected:
            sys.exit(
                f"compat: HTTPLIB_ALIAS_HTTPX={int(alias)} gave httpx.Client is httplib"
                f".Client == {out}; the .pth hook is not doing its job"
            )


def outcomes(report: Path) -> dict[str, str]:
    """Test id to passed / failed / skipped, from a JUnit XML report."""
    result: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result[test_id] = "failed"
        elif case.find("skipped") is not None:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def run_suite(suite: Suite, source: Path, alias: bool) -> tuple[dict[str, str], float]:
    label = "httplib" if alias else "httpx"
    report = WORK / f"{suite.name}-{label}.xml"
    report.unlink(missing_ok=True)
    started = time.monotonic()
    subprocess.run(
        [
            PY,
            "-m",
            "pytest",
            suite.tests,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *suite.pytest_args,
        ],
        cwd=source,
        env=environment(alias),
        timeout=RUN_TIMEOUT,
        stdout=subprocess.DEVNULL,
        check=False,  # failures are counted from the report
    )
    elapsed = time.monotonic() - started
    if not report.exists():
        sys.exit(f"compat: {suite.name} on {label} wrote no report (pytest did not start)")
    return outcomes(report), elapsed


def count(results: dict[str, str]) -> dict[str, int]:
    return {
        kind: sum(1 for v in results.values() if v == kind)
        for kind in ("passed", "failed", "skipped")
    }


def main() -> int:
    started = time.monotonic()
    ensure_venv()
    install_httplib()
    check_alias_switch()
    WORK.mkdir(exist_ok=True)
    summary: list[dict[str, Any]] = []
    regressions: list[str] = []
    for suite in SUITES:
        with tarfile.open(sdist(suite)) as archive:
            source = WORK / archive.getnames()[0].split("/")[0]
            shutil.rmtree(source, ignore_errors=True)  # a fresh tree: no files of a past run
            archive.extractall(WORK, filter="data")
        on_httpx, t_httpx = run_suite(suite, source, alias=False)
        on_httplib, t_httplib = run_suite(suite, source, alias=True)
        c_httpx, c_httplib = count(on_httpx), count(on_httplib)
        lost = sorted(
            t for t, v in on_httpx.items() if v == "passed" and on_httplib.get(t) != "passed"
        )
        lines = [f"{suite.name}: {t} ({on_httplib.get(t, 'missing')})" for t in lost]
        if len(lines) > suite.known_differences:
            regressions += lines
        elif lines:
            print(f"compat: {suite.name}: {len(lines)} known differences (docs/alias.md), e.g.")
            print("\n".join(f"  {line}" for line in lines[:3]))
        if c_httpx["passed"] == 0:
            regressions.append(f"{suite.name}: no test passed on httpx; the suite did not run")
        row = {
            "suite": f"{suite.name}=={suite.version}",
            "kind": suite.why,
            "known_differences": suite.known_differences,
            "httpx": c_httpx,
            "httplib": c_httplib,
            "seconds": {"httpx": round(t_httpx, 1), "httplib": round(t_httplib, 1)},
            "passes_only_on_httplib": sorted(
                t for t, v in on_httplib.items() if v == "passed" and on_httpx.get(t) != "passed"
            ),
        }
        summary.append(row)
        print(
            f"compat: {row['suite']:<20} httpx {_fmt(c_httpx)} ({t_httpx:.1f} s)"
            f" | httplib {_fmt(c_httplib)} ({t_httplib:.1f} s)"
        )
    (WORK / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"compat: {time.monotonic() - started:.0f} s in all")
    if regressions:
        print("compat: passes on httpx but not on httplib:")
        for line in regressions:
            print(f"  {line}")
        return 1
    return 0


def _fmt(counts: dict[str, int]) -> str:
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


if __name__ == "__main__":
    sys.exit(main())
