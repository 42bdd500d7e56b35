"""Orchestrator: start nginx, run every (client, scenario) in interleaved rounds, report medians.

Usage (from the repository root; `make bench` / `make bench-smoke` do this):
    bench/.venv-peers/bin/python bench/run.py [--smoke] [--rounds N] [--duration S]
        [--scenarios ID,...] [--clients NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters import ARMED
from report import add_ratios, render_table, write_chart
from scenarios import SCENARIOS, Scenario
from server import NginxServer

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENVS = {
    "project": ROOT / ".venv",
    "peers": BENCH / ".venv-peers",
    "niquests": BENCH / ".venv-niquests",
}
DONE = ("not yet", "unsupported", "unavailable")  # answers that later rounds cannot change


@dataclass(frozen=True)
class ClientSpec:
    name: str
    venv: str
    modules: tuple[str, ...]  # imported by the import-time scenario; () for the ceilings
    sync: bool
    asyncio: bool
    ceiling: bool = False
    only: tuple[str, ...] = ()  # the scenario ids it runs (empty: every scenario)

    def python(self) -> str:
        return str(VENVS[self.venv] / "bin" / "python")


UVLOOP_ROWS = (
    "get_1k_async_c1",
    "get_1k_async_c16",
    "get_1k_async_c100",
    "get_1k_async_c128",
    "https_async_c16",
    "h1_tls_c100",
)
CLIENTS: list[ClientSpec] = [
    ClientSpec("httplib", "project", ("httplib",), sync=True, asyncio=True),
    # The same client with retries, a total deadline, a rate limit and a circuit breaker
    # configured, none of them acting: what the policies cost when unused (issue 11: at most
    # 5% over plain on these two rows, read in the "x httplib" column).
    ClientSpec(
        ARMED,
        "project",
        (),
        sync=True,
        asyncio=True,
        only=("get_1k_sync", "get_1k_async_c1"),
    ),
    # httplib and aiohttp on uvloop (what uvicorn[standard] turns on), beside raw-uvloop, on
    # the async rows of one or many requests in flight (issue 15).
    ClientSpec("httplib-uvloop", "project", (), sync=False, asyncio=True, only=UVLOOP_ROWS),
    ClientSpec("aiohttp-uvloop", "peers", (), sync=False, asyncio=True, only=UVLOOP_ROWS),
    ClientSpec("httpx", "peers", ("httpx",), sync=True, asyncio=True),
    ClientSpec("httpx2", "peers", ("httpx2",), sync=True, asyncio=True),
    ClientSpec("aiohttp", "peers", ("aiohttp",), sync=False, asyncio=True),
    ClientSpec("requests", "peers", ("requests",), sync=True, asyncio=False),
    ClientSpec("urllib3", "peers", ("urllib3",), sync=True, asyncio=False),
    ClientSpec("niquests", "niquests", ("niquests",), sync=True, asyncio=True),
    ClientSpec("pycurl", "peers", ("pycurl",), sync=True, asyncio=False),
    ClientSpec("raw-sync", "peers", (), sync=True, asyncio=False, ceiling=True),
    ClientSpec("raw-asyncio", "peers", (), sync=False, asyncio=True, ceiling=True),
    ClientSpec("raw-uvloop", "peers", (), sync=False, asyncio=True, ceiling=True),
]
SYNC_MODES = ("sync", "threads")
# Trust settings from the environment would override the bench CA in some clients (requests
# prefers REQUESTS_CA_BUNDLE over Session.verify): every client gets the CA explicitly instead.
TRUST_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
WORKER_ENV = {k: v for k, v in os.environ.items() if k not in TRUST_VARS}


def static_answer(client: ClientSpec, sc: Scenario) -> dict[str, Any] | None:
    """The answer known without running anything, or None when the pair must be measured."""
    if client.only and sc.id not in client.only:
        return {"status": "skip"}
    if sc.clients and client.name not in sc.clients:
        return {"status": "skip"}
    if sc.mode == "import":
        return None if client.modules else {"status": "skip"}
    if client.ceiling and sc.mode == "create":
        return {"status": "skip"}
    wants_sync = sc.mode in SYNC_MODES
    if wants_sync and not client.sync:
        return (
            {"status": "skip"}
            if client.ceiling
            else {"status": "unsupported", "note": "asyncio only"}
        )
    if sc.mode in ("async", "burst", "scale") and not client.asyncio:
        return (
            {"status": "skip"}
            if client.ceiling
            else {"status": "unsupported", "note": "no asyncio API"}
        )
    return None


@dataclass
class Settings:
    smoke: bool
    rounds: int
    warmup: float
    duration: float
    create_count: int
    import_reps: int
    client_cpu: int | None
    parallel: int  # workers at once: 1 when timing, 2 in smoke runs (only correctness counts)
    create_rounds: int  # scenario 9 is long (1,000 clients) and steady: fewer rounds
    scenarios: list[Scenario]  # all of them unless filtered
    clients: list[ClientSpec]


def run_worker(
    client: ClientSpec, sc: Scenario, env: dict[str, Any], cfg: Settings
) -> dict[str, Any]:
    job = {
        **env,
        "client": client.name,
        "scenario": sc.id,
        "warmup": cfg.warmup,
        "duration": cfg.duration,
        "create_count": cfg.create_count,
        "smoke": cfg.smoke,
    }
    cmd = [*pin(cfg.client_cpu), client.python(), str(BENCH / "worker.py"), json.dumps(job)]
    if not Path(client.python()).exists():
        return {"status": "unavailable", "note": f"venv {client.venv} missing: run bootstrap"}
    timeout = cfg.warmup + cfg.duration + 90
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=BENCH,
            env=WORKER_ENV,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        if sc.mode == "scale" and client.name != "httplib":
            # A peer that cannot finish the fan-out in time is a result, not a broken bench
            # (httpx2 at 100,000 in flight); httplib timing out still fails the run.
            return {"status": "unsupported", "note": f"did not finish within {timeout:.0f} s"}
        return {"status": "error", "note": "worker timed out"}
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"status": "error", "note": f"worker exit {proc.returncode}: {' | '.join(tail)}"}
    if result["status"] == "error":
        sys.stderr.write(proc.stderr[-3000:])
    return result


def measure_import(client: ClientSpec, cfg: Settings) -> dict[str, Any]:
    """Import time in a fresh interpreter: nothing of the harness is imported beforehand."""
    mods = ", ".join(client.modules)
    code = f"import time; t = time.perf_counter(); import {mods}; print(time.perf_counter() - t)"
    times = []
    # Every package is timed with its bytecode cached, as an installed package is: without this,
    # an environment with PYTHONDONTWRITEBYTECODE makes the editable httplib recompile on each
    # import while the peers load the bytecode pip compiled. The first run only warms the cache.
    env = {k: v for k, v in WORKER_ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(ROOT / "bench" / "results" / "tmp" / "pycache")
    for rep in range(cfg.import_reps + 1):
        proc = subprocess.run(
            [*pin(cfg.client_cpu), client.python(), "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        if rep == 0 and proc.returncode == 0:
            continue
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            status = "error" if client.name == "httplib" else "unavailable"
            return {"status": status, "note": last[:200]}
        times.append(float(proc.stdout) * 1e3)
    return {"status": "ok", "note": "", "import_ms": statistics.median(times)}


def pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def run_one(client: ClientSpec, sc: Scenario, env: dict[str, Any], cfg: Settings) -> dict[str, Any]:
    answer = static_answer(client, sc)
    if answer is not None:
        return answer
    return measure_import(client, cfg) if sc.mode == "import" else run_worker(client, sc, env, cfg)


def run_all(env: dict[str, Any], cfg: Settings) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every round runs every scenario for every client; client order rotates per round."""
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with ThreadPoolExecutor(cfg.parallel) as pool:
        for rnd in range(cfg.rounds):
            for sc in cfg.scenarios:
                if sc.mode == "create" and rnd >= cfg.create_rounds:
                    continue
                clients = cfg.clients
                shift = rnd % len(clients)
                todo = []
                for client in clients[shift:] + clients[:shift]:
                    past = results.setdefault((client.name, sc.id), [])
                    if not past or past[-1]["status"] not in (*DONE, "skip"):
                        todo.append((client, pool.submit(run_one, client, sc, env, cfg)))
                marks = []
                for client, future in todo:
                    answer = future.result()
                    results[(client.name, sc.id)].append(answer)
                    if answer["status"] != "skip":
                        marks.append(f"{client.name}:{answer['status']}")
                print(
                    f"[round {rnd + 1}/{cfg.rounds}] {sc.id}: {' '.join(marks)}",
                    file=sys.stderr,
                    flush=True,
                )
    return results


METRICS = (
    "req_per_s",
    "mb_per_s",
    "cpu_us_per_req",
    "p50_ms",
    "p99_ms",
    "peak_rss_mib",
    "import_ms",
)


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each metric over the ok rounds; any failed round marks the row as an error."""
    errors = [r for r in runs if r["status"] == "error"]
    if errors:
        return {"status": "error", "note": errors[0]["note"], "rounds": runs}
    oks = [r for r in runs if r["status"] == "ok"]
    if not oks:
        return {"status": runs[-1]["status"], "note": runs[-1].get("note", ""), "rounds": runs}
    row: dict[str, Any] = {"status": "ok", "note": oks[-1].get("note", ""), "rounds": runs}
    for key in METRICS:
        values = [r[key] for r in oks if key in r]
        if values:
            row[key] = statistics.median(values)
    return row


def machine_info(server: NginxServer, cfg: Settings) -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    if cfg.client_cpu is not None:
        pinning = f"nginx on core 0, clients on core {cfg.client_cpu} (taskset)"
    else:
        pinning = "not pinned (" + ("smoke run" if cfg.smoke else "fewer than 2 cores") + ")"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": model,
        "cores": os.cpu_count(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "nginx": server.version,
        "pinning": pinning,
        "rounds": cfg.rounds,
        "warmup_s": cfg.warmup,
        "duration_s": cfg.duration,
        "smoke": cfg.smoke,
        "load_before": os.getloadavg()[0],
    }


def parse_args(argv: list[str]) -> tuple[Settings, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="brief runs that check correctness")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; smoke 1)")
    parser.add_argument("--duration", type=float, help="measured seconds per run")
    parser.add_argument("--out", type=Path, help="directory for latest.json and latest.png")
    parser.add_argument("--scenarios", help="only these scenario ids, comma-separated")
    parser.add_argument("--clients", help="only these clients, comma-separated")
    args = parser.parse_args(argv)
    scenarios, clients = SCENARIOS, CLIENTS
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        scenarios = [sc for sc in SCENARIOS if sc.id in wanted]
        if unknown := wanted - {sc.id for sc in scenarios}:
            parser.error(f"unknown scenario ids: {', '.join(sorted(unknown))}")
    if args.clients:
        names = set(args.clients.split(","))
        clients = [c for c in CLIENTS if c.name in names]
        if unknown := names - {c.name for c in clients}:
            parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    filtered = bool(args.scenarios or args.clients)
    two_cores = (os.cpu_count() or 1) >= 2
    cfg = Settings(
        smoke=args.smoke,
        rounds=args.rounds or (1 if args.smoke else 3),
        warmup=0.05 if args.smoke else 0.25,
        duration=args.duration or (0.15 if args.smoke else 0.75),
        create_count=20 if args.smoke else 1000,
        import_reps=1 if args.smoke else 3,
        # Smoke runs two workers at once on both cores (timing is not the point); timed runs
        # pin nginx and the client to different cores.
        client_cpu=1 if two_cores and not args.smoke else None,
        parallel=2 if args.smoke else 1,
        create_rounds=1,
        scenarios=scenarios,
        clients=clients,
    )
    # Only a full timed run replaces the committed results.
    out = args.out or (BENCH / "results" / ("tmp" if args.smoke or filtered else ""))
    return cfg, out


def main(argv: list[str]) -> int:
    cfg, out = parse_args(argv)
    # SIGTERM takes the same way out as Ctrl-C, so nginx is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="httplib-bench-") as tmp,
        NginxServer(Path(tmp), cpu=None if cfg.client_cpu is None else 0) as server,
    ):
        meta = machine_info(server, cfg)
        print(
            f"bench: nginx {server.version}; {meta['pinning']}; {cfg.rounds} round(s) of "
            f"{cfg.duration}s after {cfg.warmup}s warm-up",
            file=sys.stderr,
        )
        env = {
            "urls": server.ports.urls(),
            "ca_file": str(server.ca_file),
            "payloads": server.payloads,
        }
        raw = run_all(env, cfg)
    meta["wall_s"] = round(time.monotonic() - started, 1)
    rows = {key: aggregate(runs) for key, runs in raw.items()}
    doc = build_doc(meta, rows)
    add_ratios(doc)
    print(render_table(doc))
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_chart(doc, out / "latest.png")
    print(
        f"bench: wrote {out / 'latest.json'} and {out / 'latest.png'} in {meta['wall_s']}s",
        file=sys.stderr,
    )
    failed = [f"{c} / {s}: {r['note']}" for (c, s), r in rows.items() if r["status"] == "error"]
    for line in failed:
        print(f"bench: FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


def build_doc(meta: dict[str, Any], rows: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    scenarios = []
    for sc in SCENARIOS:
        entries = []
        for client in CLIENTS:
            row = rows.get((client.name, sc.id))
            if row is None or row["status"] == "skip":
                continue
            entries.append({"client": client.name, "ceiling": client.ceiling, **row})
        if not entries:
            continue  # (filtered out)
        scenarios.append(
            {
                "id": sc.id,
                "group": sc.group,
                "title": sc.title,
                "unit": sc.unit,
                "mode": sc.mode,
                "rows": entries,
            }
        )
    return {"meta": meta, "scenarios": scenarios}


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("bench: interrupted; nginx stopped", file=sys.stderr)
        sys.exit(130)
