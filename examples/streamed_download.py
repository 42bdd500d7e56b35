"""A streamed download to a file with a progress line: the body never sits whole in memory.

`client.stream()` returns once the head arrives; `iter_bytes()` yields the body as it comes, and
`response.num_bytes_downloaded` counts what has arrived on the wire (before any decompression),
which matches Content-Length for the progress fraction.

Run: python examples/streamed_download.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from local_server import serve

import httplib

SIZE = 8 * 1024 * 1024


def download(client: httplib.Client, url: str, target: Path) -> int:
    with client.stream("GET", url) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length", 0)) or None
        start = time.perf_counter()
        shown = -1
        tty = sys.stdout.isatty()
        with target.open("wb") as file:
            for chunk in response.iter_bytes(chunk_size=64 * 1024):
                file.write(chunk)
                done = response.num_bytes_downloaded
                percent = 100 * done // total if total else 0
                if percent // 10 != shown:  # one update per 10%, not per chunk
                    shown = percent // 10
                    speed = done / max(time.perf_counter() - start, 1e-6) / 1e6
                    line = f"{done / 1e6:6.1f} MB  {percent:3d}%  {speed:7.1f} MB/s"
                    # On a terminal the line redraws in place; in a log, one line per update.
                    print(f"\r{line}" if tty else line, end="" if tty else "\n", flush=True)
        if tty:
            print()
        return response.num_bytes_downloaded


def main(base_url: str) -> int:
    with tempfile.TemporaryDirectory() as folder, httplib.Client(base_url=base_url) as client:
        target = Path(folder) / "download.bin"
        received = download(client, f"/bytes/{SIZE}", target)
        written = target.stat().st_size
        print(f"saved {written:,} bytes to {target.name}")
        return 0 if received == written == SIZE else 1


if __name__ == "__main__":
    with serve() as url:
        sys.exit(main(url))
