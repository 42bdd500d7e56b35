"""`httplib.main`, the name users and httpx's CLI tests drive with click's `CliRunner`, and the
installed command's behaviour without the `cli` extra."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

import httplib
from servers.asgi_servers import RunningServer

pytestmark = pytest.mark.network


def test_httplib_main_runs_under_click_runner(uvicorn_server: RunningServer) -> None:
    result = CliRunner().invoke(httplib.main, [f"{uvicorn_server.url}/json"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("HTTP/1.1 200 OK\n")


def test_httplib_main_reports_usage_errors_as_click_does() -> None:
    result = CliRunner().invoke(httplib.main, [])
    assert result.exit_code == 2
    assert "Missing argument 'URL'" in result.output


def test_http2_reports_the_negotiated_version(
    hypercorn_tls_server: RunningServer, tls_ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    url = f"{hypercorn_tls_server.url}/json"
    env = {"SSL_CERT_FILE": str(ca_file)}
    result = CliRunner().invoke(httplib.main, [url, "--http2", "-v"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "* Selected ALPN protocol: 'h2'" in lines
    assert "GET /json HTTP/2" in lines
    assert any(line.startswith("HTTP/2 200") for line in lines), lines
    plain = CliRunner().invoke(httplib.main, [url], env=env)
    assert plain.output.startswith("HTTP/1.1 200")  # hypercorn sends no reason phrase


def test_download_progress_shows_size_speed_and_time_left(
    uvicorn_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        httplib.main,
        [f"{uvicorn_server.url}/bytes/300000", "--download", "out.bin"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.bin").stat().st_size == 300000
    progress = result.output.rsplit("Downloading", 1)[1]
    assert "300.0/300.0 kB" in progress
    assert re.search(r"[\d.]+ [kMG]?B/s", progress), progress
    assert re.search(r"\d:\d\d:\d\d", progress), progress


def test_without_the_cli_extra_one_line_names_the_extra() -> None:
    """click (or rich) not installed: simulated by blocking its import in a fresh interpreter,
    which then runs what the `httplib` console script runs."""
    for missing in ("click", "rich"):
        script = f"import sys; sys.modules[{missing!r}] = None; import httplib; httplib.main()"
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 1
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert 'pip install "httplib[cli]"' in lines[0]
        assert missing in lines[0]


def test_importing_httplib_does_not_import_the_cli() -> None:
    script = "import sys, httplib; print(sorted({'click', 'rich', 'pygments'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "[]"


def test_upload_from_a_file_shows_a_progress_bar_on_a_terminal(
    uvicorn_server: RunningServer, tmp_path: Path
) -> None:
    upload = tmp_path / "big.bin"
    payload = bytes(range(256)) * 1024  # 256 KiB
    upload.write_bytes(payload)
    url = f"{uvicorn_server.url}/echo"
    args = [url, "-f", "upload", str(upload)]
    env = {"FORCE_COLOR": "1", "NO_COLOR": None, "COLUMNS": "200"}
    result = CliRunner().invoke(httplib.main, args, env=env)
    assert result.exit_code == 0, result.output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)
    bar, _, rest = plain.partition("HTTP/1.1 200 OK")
    # The finished bar comes before the response head: the whole file went out first.
    assert "Uploading big.bin" in bar
    assert "100%" in bar
    assert "262.1/262.1 kB" in bar
    assert 'filename=\\"big.bin\\"' in rest  # the echoed body (JSON-escaped) names the file
    # Piped output (not a terminal) keeps httpx's shape: no bar at all.
    piped_env = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None}
    piped = CliRunner().invoke(httplib.main, args, env=piped_env)
    assert piped.exit_code == 0
    assert piped.output.startswith("HTTP/1.1 200 OK\n")
    assert "Uploading" not in piped.output
