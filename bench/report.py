"""Turn aggregated results into ratios, an aligned text table and a matplotlib chart."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

RATE_KEY = {"req/s": "req_per_s", "MB/s": "mb_per_s", "clients/s": "req_per_s", "ms": "import_ms"}
# The ceiling each mode is compared with: the raw client running on the same kind of loop.
CEILING = {
    "sync": "raw-sync",
    "threads": "raw-sync",
    "async": "raw-asyncio",
    "burst": "raw-asyncio",
}

# A client named "<name>-uvloop" runs on uvloop: its ceiling is the raw client on uvloop.
UVLOOP_SUFFIX = "-uvloop"
UVLOOP_CEILING = "raw-uvloop"


def rate(row: dict[str, Any], unit: str) -> float | None:
    value = row.get(RATE_KEY[unit]) if row["status"] == "ok" else None
    return float(value) if value else None


def speed_ratio(value: float | None, ref: float | None, unit: str) -> float | None:
    """How much faster than `ref` (above 1: faster); for times, the inverse of the ratio."""
    if value is None or ref is None:
        return None
    return ref / value if unit == "ms" else value / ref


def add_ratios(doc: dict[str, Any]) -> None:
    for sc in doc["scenarios"]:
        by_client = {row["client"]: row for row in sc["rows"]}
        unit = sc["unit"]
        ours = by_client.get("httplib")
        ours_rate = rate(ours, unit) if ours else None
        ceiling_row = by_client.get(CEILING.get(sc["mode"], ""))
        ceiling_rate = rate(ceiling_row, unit) if ceiling_row else None
        uvloop_row = by_client.get(UVLOOP_CEILING)
        uvloop_rate = rate(uvloop_row, unit) if uvloop_row else None
        for row in sc["rows"]:
            value = rate(row, unit)
            row["rate"] = value
            row["vs_httplib"] = speed_ratio(value, ours_rate, unit)
            on_uvloop = row["client"].endswith(UVLOOP_SUFFIX)
            row["of_ceiling"] = speed_ratio(value, uvloop_rate if on_uvloop else ceiling_rate, unit)


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{places}f}"


def _note(row: dict[str, Any]) -> str:
    if row["status"] == "ok":
        return str(row.get("note", ""))
    note = row.get("note", "")
    return f"{row['status']}: {note}" if note else str(row["status"])


HEADER = (
    "client",
    "rate",
    "CPU us/req",
    "p50 ms",
    "p99 ms",
    "peak RSS MiB",
    "x httplib",
    "of ceiling",
    "notes",
)


def _cells(row: dict[str, Any], unit: str) -> tuple[str, ...]:
    ok = row["status"] == "ok"
    if unit == "ms":  # import time: only the time itself
        return (
            row["client"],
            _num(row.get("import_ms")) if ok else "-",
            "-",
            "-",
            "-",
            "-",
            _num(row.get("vs_httplib")),
            "-",
            _note(row),
        )
    pct = row.get("of_ceiling")
    return (
        row["client"],
        _num(row.get("rate")),
        _num(row.get("cpu_us_per_req")) if ok else "-",
        _num(row.get("p50_ms")) if ok else "-",
        _num(row.get("p99_ms")) if ok else "-",
        _num(row.get("peak_rss_mib")) if ok else "-",
        _num(row.get("vs_httplib")),
        f"{pct:.0%}" if pct is not None else "-",
        _note(row),
    )


def render_table(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    lines = [
        f"httplib bench, {meta['date']}: {meta['cpu']} ({meta['cores']} cores), "
        f"Python {meta['python']}, nginx {meta['nginx']}",
        f"pinning: {meta['pinning']}; {meta['rounds']} interleaved round(s) of "
        f"{meta['duration_s']}s after {meta['warmup_s']}s warm-up; medians shown",
        "rate: the unit in each title; x httplib and of ceiling compare rates "
        "(above 1 / 100%: faster); ceiling = raw client on the same kind of loop",
    ]
    for sc in doc["scenarios"]:
        rows = [HEADER, *(_cells(row, sc["unit"]) for row in sc["rows"])]
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
        lines.append("")
        lines.append(f"[{sc['group']}] {sc['title']} ({sc['unit']})  id={sc['id']}")
        for cells in rows:
            left = cells[0].ljust(widths[0])
            middle = "  ".join(c.rjust(w) for c, w in zip(cells[1:-1], widths[1:], strict=True))
            lines.append(f"  {left}  {middle}  {cells[-1]}".rstrip())
    return "\n".join(lines)


def write_chart(doc: dict[str, Any], path: Path) -> None:
    """One small horizontal bar chart per scenario; httplib highlighted, gaps labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = doc["scenarios"]
    cols = 4
    nrows = math.ceil(len(scenarios) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(cols * 5.2, nrows * 2.9), squeeze=False)
    for ax, sc in zip(axes.flat, scenarios, strict=False):
        _panel(ax, sc)
    for ax in list(axes.flat)[len(scenarios) :]:
        ax.axis("off")
    meta = doc["meta"]
    fig.suptitle(
        f"httplib vs peers and the raw-socket ceiling: {meta['date']}, {meta['cpu']}, "
        f"{meta['cores']} cores, Python {meta['python']}, nginx {meta['nginx']} "
        f"({meta['pinning']}; median of {meta['rounds']})",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=72)
    plt.close(fig)


def _panel(ax: Any, sc: dict[str, Any]) -> None:
    rows = sc["rows"]
    names = [row["client"] for row in rows]
    values = [row.get("rate") or 0.0 for row in rows]
    colors = [
        "#d62728"
        if n == "httplib"
        else "#ff9896"  # httplib's variants (policies armed)
        if n.startswith("httplib")
        else "#7f7f7f"
        if row["ceiling"]
        else "#1f77b4"
        for n, row in zip(names, rows, strict=True)
    ]
    ys = range(len(rows))
    ax.barh(ys, values, color=colors)
    ax.set_yticks(list(ys), names, fontsize=7)
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=7)
    better = "lower is better" if sc["unit"] == "ms" else "higher is better"
    ax.set_title(f"[{sc['group']}] {sc['title']}\n{sc['unit']}, {better}", fontsize=8)
    top = max(values) if any(values) else 1.0
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 100 * min(positive):
        # Spreads of 100x and more (creating clients) would flatten most bars: log scale.
        ax.set_xscale("log")
        ax.set_xlim(min(positive) / 2, top * 8)
        ax.set_title(ax.get_title() + ", log scale", fontsize=8)
    else:
        ax.set_xlim(0, top * 1.25)
    left = ax.get_xlim()[0]
    for y, row, value in zip(ys, rows, values, strict=True):
        # Thousands separators read as decimal points at this font size: use thin spaces.
        label = _num(value).replace(",", "\u2009") if row["status"] == "ok" else row["status"]
        ax.text(value * 1.05 if value else left, y, f" {label}", va="center", fontsize=6)
