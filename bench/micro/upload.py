"""MB/s of a 64 MiB sync upload (bytes, an open file, a generator) against a discarding server.

A server in a separate process reads each request's whole body (Content-Length) before it
answers, so the client's write path is timed end to end; raw `sendall` and urllib3 (when
installed) run beside httplib and httpx. `--profile` profiles httplib's file upload with
cProfile. Run:

    python bench/micro/upload.py [--mib 64] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import httpx

import httplib

PIECE = 64 * 1024


def serve(sock: socket.socket) -> None:
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def answer(conn: socket.socket) -> None:
    """Read each request's whole body, then answer with its length (until the client closes)."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    pending = b""
    try:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    raise EOFError
                pending += data
            head, _, rest = pending.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            left = length - len(rest)
            pending = b"" if left >= 0 else rest[length:]
            while left > 0:
                n = conn.recv_into(view, min(left, len(buf)))
                if not n:
                    raise EOFError
                left -= n
            answer = str(length).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
    except EOFError:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    body = os.urandom(args.mib << 20)
    pieces = [body[i : i + PIECE] for i in range(0, len(body), PIECE)]
    fd, path = tempfile.mkstemp()
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    sock = socket.create_server(("127.0.0.1", 0))
    server = multiprocessing.Process(target=serve, args=(sock,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/upload"
    length = {"Content-Length": str(len(body))}
    rows: dict[str, Callable[[], object]] = {}
    ours, theirs = httplib.Client(), httpx.Client()

    def file_post(client: httplib.Client | httpx.Client) -> object:
        with open(path, "rb") as f:
            return client.post(url, content=f).content

    def gen() -> Iterator[bytes]:
        yield from pieces

    for name, client in (("httplib", ours), ("httpx", theirs)):
        rows[f"{name} bytes"] = lambda c=client: c.post(url, content=body).content
        rows[f"{name} file"] = lambda c=client: file_post(c)
        rows[f"{name} gen"] = lambda c=client: c.post(url, content=gen(), headers=length).content
    try:
        import urllib3

        pool = urllib3.PoolManager()
        rows["urllib3 bytes"] = lambda: pool.request("POST", url, body=body).data

        def urllib3_file() -> object:
            with open(path, "rb") as f:
                return pool.request("POST", url, body=f, headers=length).data

        rows["urllib3 file"] = urllib3_file
    except ImportError:
        pass
    raw = socket.create_connection(("127.0.0.1", sock.getsockname()[1]))
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)

    def raw_post() -> object:
        raw.sendall(head)
        raw.sendall(body)
        return raw.recv(65536)

    rows["raw sendall"] = raw_post
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.rounds):
            file_post(ours)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, row in rows.items():
            t0 = time.perf_counter()
            row()
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name:14} {len(body) / statistics.median(ts) / 1e6:8.0f} MB/s")
    server.terminate()
    os.unlink(path)


if __name__ == "__main__":
    main()
