"""Scenario and payload definitions shared by the orchestrator and the workers (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

# Served files: name -> size. The bytes are pseudo-random from a fixed seed (see server.py), so
# compression cannot flatter anyone and checksums are stable across runs.
PAYLOADS: dict[str, int] = {"1k": KIB, "100k": 100 * KIB, "1m": MIB, "64m": 64 * MIB}
# Text payloads: name -> size. NDJSON of 90-byte lines (89 characters and a newline), the shape
# of event and LLM token streams read with `iter_lines()`.
NDJSON_LINE = 90
TEXT_PAYLOADS: dict[str, int] = {"50m.ndjson": NDJSON_LINE * 555_556}  # 50 MB
# Requests in flight in a scale row during a smoke run (a full run uses the row's own number).
SMOKE_SCALE = 1000


@dataclass(frozen=True)
class Scenario:
    """One measured situation; `mode` decides which adapter (sync/async) and which loop runs."""

    id: str
    group: int  # the scenario's number in the bench issue
    title: str
    mode: str  # "sync" | "async" | "threads" | "burst" | "scale" | "create" | "import"
    # "get" (read whole) | "stream" | "lines" (iter_lines) | "post" (bytes) | "post_file" (an
    # open file) | "post_gen" (a generator of 64 KiB pieces, with Content-Length set)
    op: str = "get"
    # "http" | "https" (HTTP/1.1 over TLS) | "h2" (HTTP/2 over TLS) | "h2c" (HTTP/2 in clear
    # text with prior knowledge, RFC 9113 section 3.3)
    scheme: str = "http"
    path: str = "/1k"
    upload: int = 0  # bytes POSTed by op == "post"
    concurrency: int = 1
    max_connections: int | None = None  # None: the client's own default limits
    unit: str = "req/s"  # "req/s" | "MB/s" | "clients/s" | "ms"
    proxy: bool = False  # through the local forward proxy (nginx, the same for every client)
    clients: tuple[str, ...] = ()  # the only clients that run it (empty: every client)

    @property
    def http2(self) -> bool:
        return self.scheme in ("h2", "h2c")


def _downloads() -> list[Scenario]:
    out: list[Scenario] = []
    for mode in ("sync", "async"):
        for name, op in (("100k", "get"), ("100k", "stream"), ("1m", "get"), ("1m", "stream")):
            verb = "read whole" if op == "get" else "streamed"
            out.append(
                Scenario(
                    f"{op}_{name}_{mode}",
                    3,
                    f"{mode} GET {name} body, {verb}",
                    mode,
                    op,
                    path=f"/{name}",
                    unit="MB/s",
                )
            )
        out.append(
            Scenario(
                f"stream_64m_{mode}",
                3,
                f"{mode} GET 64 MiB, streamed",
                mode,
                "stream",
                path="/64m",
                unit="MB/s",
            )
        )
    return out


def _uploads() -> list[Scenario]:
    out: list[Scenario] = []
    for mode in ("sync", "async"):
        out.append(
            Scenario(
                f"post_1k_{mode}", 4, f"{mode} POST 1 KiB", mode, "post", path="/upload", upload=KIB
            )
        )
        out.append(
            Scenario(
                f"post_10m_{mode}",
                4,
                f"{mode} POST 10 MiB",
                mode,
                "post",
                path="/upload",
                upload=10 * MIB,
                unit="MB/s",
            )
        )
    return out


def _big_uploads() -> list[Scenario]:
    """64 MiB uploads from an open file and from a generator, sync and async."""
    out: list[Scenario] = []
    for mode in ("sync", "async"):
        for op, source in (("post_file", "from a file object"), ("post_gen", "from a generator")):
            if mode == "async" and op == "post_file":
                source += " (read in 64 KiB pieces by an async generator where not supported)"
            out.append(
                Scenario(
                    f"{op}_64m_{mode}",
                    4,
                    f"{mode} POST 64 MiB {source}",
                    mode,
                    op,
                    path="/upload",
                    upload=64 * MIB,
                    unit="MB/s",
                )
            )
    return out


def _lines() -> list[Scenario]:
    return [
        Scenario(
            f"lines_ndjson_{mode}",
            3,
            f"{mode} GET 50 MB NDJSON (90-byte lines), read with iter_lines",
            mode,
            "lines",
            path="/50m.ndjson",
            unit="MB/s",
        )
        for mode in ("sync", "async")
    ]


# httpx cannot finish 2,000 in flight within a minute (issue 15): the scale rows run the clients
# that can, every one with its timeouts off (a request queues for a slot far longer than a
# default pool timeout).
SCALE_CLIENTS = ("httplib", "aiohttp", "httpx2")


def _scale() -> list[Scenario]:
    out: list[Scenario] = []
    for n, label in ((10_000, "10k"), (100_000, "100k")):
        for limit in (None, 1000):
            out.append(
                Scenario(
                    f"scale_{label}_" + ("default" if limit is None else f"c{limit}"),
                    12,
                    f"{n:,} GET 1 KiB in flight at once on one async client, "
                    + ("default limits" if limit is None else f"max_connections={limit}"),
                    "scale",
                    concurrency=n,
                    max_connections=limit,
                    clients=SCALE_CLIENTS,
                )
            )
    return out


def _async_get() -> list[Scenario]:
    out = [Scenario("get_1k_async_c1", 2, "async GET 1 KiB, 1 in flight", "async")]
    for n in (16, 100, 128):
        out.append(
            Scenario(
                f"get_1k_async_c{n}_default",
                2,
                f"async GET 1 KiB, {n} in flight, default limits",
                "async",
                concurrency=n,
            )
        )
        out.append(
            Scenario(
                f"get_1k_async_c{n}",
                2,
                f"async GET 1 KiB, {n} in flight, max_connections={n}",
                "async",
                concurrency=n,
                max_connections=n,
            )
        )
    return out


SCENARIOS: list[Scenario] = [
    Scenario("get_1k_sync", 1, "sync sequential GET 1 KiB, one kept-alive connection", "sync"),
    *_async_get(),
    *_downloads(),
    *_uploads(),
    *_big_uploads(),
    *_lines(),
    Scenario(
        "pool_pressure",
        5,
        "200 concurrent GET 1 KiB bursts, max_connections=100",
        "burst",
        concurrency=200,
        max_connections=100,
    ),
    Scenario(
        "threads_8",
        6,
        "one sync client shared by 8 threads, GET 1 KiB",
        "threads",
        concurrency=8,
        max_connections=8,
    ),
    Scenario(
        "h2_c100",
        7,
        "HTTP/2 over TLS: 100 concurrent streams, one connection",
        "async",
        scheme="h2",
        concurrency=100,
    ),
    Scenario(
        "h2c_c100",
        7,
        "HTTP/2 cleartext (h2c, prior knowledge): 100 concurrent streams, one connection",
        "async",
        scheme="h2c",
        concurrency=100,
    ),
    Scenario(
        "h1_tls_c100",
        7,
        "HTTP/1.1 over TLS: 100 concurrent, max_connections=100",
        "async",
        scheme="https",
        concurrency=100,
        max_connections=100,
    ),
    Scenario(
        "https_sync", 8, "HTTPS keep-alive: sync sequential GET 1 KiB", "sync", scheme="https"
    ),
    Scenario(
        "https_async_c16",
        8,
        "HTTPS keep-alive: async GET 1 KiB, 16 in flight",
        "async",
        scheme="https",
        concurrency=16,
        max_connections=16,
    ),
    Scenario(
        "proxy_get_1k_sync",
        11,
        "through a forward proxy: sync sequential GET 1 KiB",
        "sync",
        proxy=True,
    ),
    Scenario(
        "proxy_get_1k_async_c16",
        11,
        "through a forward proxy: async GET 1 KiB, 16 in flight, max_connections=16",
        "async",
        concurrency=16,
        max_connections=16,
        proxy=True,
    ),
    *_scale(),
    Scenario("create_1000", 9, "create and close 1,000 clients", "create", unit="clients/s"),
    Scenario("import", 10, "import time of the package", "import", unit="ms"),
]

BY_ID: dict[str, Scenario] = {s.id: s for s in SCENARIOS}
