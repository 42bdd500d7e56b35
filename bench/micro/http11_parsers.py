"""Per-response parse cost of HTTP/1.1 response parsers: httplib's Http11State, httptools, h11.

Each candidate gets connections whose request was already sent (so only parsing is timed),
is fed the same response bytes in the same reads, and produces its head/body/end results in
Python objects. Prints µs per response, best of several repeats, in thread CPU time (a shared
box's waits for a core are not counted). A second table times whole Http11State cycles
(send_request + end_body + receive_data + start_next_cycle, one connection), the cost the
client actually pays per request. Run:

    python bench/micro/http11_parsers.py

httptools and h11 are optional: a missing one is reported and skipped.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

from httplib._core.http11 import Http11State

READ_SIZE = 64 * 1024
REPEATS = 5

_COMMON = b"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: bench\r\nContent-Type: text/plain\r\n"


def _chunked(total: int, chunk: int) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (chunk, b"x" * chunk) for _ in range(total // chunk))
    return (
        b"HTTP/1.1 200 OK\r\n"
        + _COMMON
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + body
        + b"0\r\n\r\n"
    )


def _length(size: int, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\n" + _COMMON + extra + b"Content-Length: %d\r\n\r\n" % size
    return head + b"x" * size


TEN_HEADERS = b"".join(b"X-Header-%d: value number %d\r\n" % (i, i) for i in range(6))
FIXTURES: dict[str, tuple[bytes, int]] = {
    # name: (response bytes, responses timed per repeat)
    "1 KiB Content-Length": (_length(1024), 5000),
    "10 headers": (_length(2, TEN_HEADERS), 5000),
    "chunked 64 KiB / 4 KiB chunks": (_chunked(64 * 1024, 4096), 500),
    "1 MiB body, 64 KiB reads": (_length(1024 * 1024), 300),
}


def _reads(response: bytes) -> list[bytes]:
    return [response[i : i + READ_SIZE] for i in range(0, len(response), READ_SIZE)]


def _time(prepare: Callable[[int], list[Callable[[], object]]], count: int) -> float:
    """Best-of-REPEATS µs per response; `prepare` builds `count` ready-to-run parses."""
    best = float("inf")
    for _ in range(REPEATS):
        runs = prepare(count)
        start = time.thread_time()
        for run in runs:
            run()
        best = min(best, time.thread_time() - start)
    return best / count * 1e6


def bench_httplib(reads: list[bytes], count: int) -> float:
    def prepare(n: int) -> list[Callable[[], object]]:
        runs: list[Callable[[], object]] = []
        for _ in range(n):
            state = Http11State()
            state.send_request(b"GET", b"/", [(b"Host", b"example.com")])

            def run(state: Http11State = state) -> object:
                events = []
                for data in reads:
                    events += state.receive_data(data)
                assert state.is_response_complete
                return events

            runs.append(run)
        return runs

    return _time(prepare, count)


def bench_httptools(reads: list[bytes], count: int) -> float:
    import httptools

    class Collector:
        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body: list[bytes] = []
            self.done = False

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            self.done = True

    def prepare(n: int) -> list[Callable[[], object]]:
        runs: list[Callable[[], object]] = []
        for _ in range(n):
            collector = Collector()
            parser = httptools.HttpResponseParser(collector)

            def run(parser: object = parser, collector: Collector = collector) -> object:
                for data in reads:
                    parser.feed_data(data)  # type: ignore[attr-defined]
                assert collector.done
                return parser.get_status_code()  # type: ignore[attr-defined]

            runs.append(run)
        return runs

    return _time(prepare, count)


def bench_h11(reads: list[bytes], count: int) -> float:
    import h11

    def prepare(n: int) -> list[Callable[[], object]]:
        runs: list[Callable[[], object]] = []
        for _ in range(n):
            conn = h11.Connection(h11.CLIENT)
            conn.send(h11.Request(method="GET", target="/", headers=[("Host", "example.com")]))
            conn.send(h11.EndOfMessage())

            def run(conn: h11.Connection = conn) -> object:
                events = []
                for data in reads:
                    conn.receive_data(data)
                    while True:
                        event = conn.next_event()
                        if event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage):
                            break
                        events.append(event)
                assert isinstance(event, h11.EndOfMessage)
                return events

            runs.append(run)
        return runs

    return _time(prepare, count)


REQUEST_HEADERS = [
    (b"Host", b"example.com"),
    (b"Accept", b"*/*"),
    (b"Accept-Encoding", b"gzip, deflate, br, zstd"),
    (b"Connection", b"keep-alive"),
    (b"User-Agent", b"python-httpx/0.28.1"),
]


def bench_cycle(reads: list[bytes], count: int) -> float:
    """µs per request/response cycle on one kept-alive Http11State (httpx's default headers)."""
    best = float("inf")
    for _ in range(REPEATS):
        state = Http11State()
        start = time.thread_time()
        for _ in range(count):
            state.send_request(b"GET", b"/path", REQUEST_HEADERS)
            state.end_body()
            for data in reads:
                state.receive_data(data)
            state.start_next_cycle()
        best = min(best, time.thread_time() - start)
    return best / count * 1e6


CANDIDATES = {"httplib": bench_httplib, "httptools": bench_httptools, "h11": bench_h11}


def main() -> None:
    names = [name for name in CANDIDATES if name == "httplib" or importlib.util.find_spec(name)]
    for missing in sorted(set(CANDIDATES) - set(names)):
        print(f"{missing}: not installed, skipped")
    print(f"{'µs per response':32}" + "".join(f"{name:>12}" for name in names))
    for label, (response, count) in FIXTURES.items():
        reads = _reads(response)
        cells = [CANDIDATES[name](reads, count) for name in names]
        print(f"{label:32}" + "".join(f"{cell:12.2f}" for cell in cells))
    print(f"\n{'µs per Http11State cycle':32}{'httplib':>12}")
    for label, (response, count) in FIXTURES.items():
        print(f"{label:32}{bench_cycle(_reads(response), count):12.2f}")


if __name__ == "__main__":
    main()
