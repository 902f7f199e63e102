"""Figures of a ``bench.proxies`` run: pooled per scenario and target, and the tables."""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from typing import Any

import psutil

from bench.loadgen import LoadResult, Record


@dataclass
class Segment:
    """One target's turn in one scenario and round."""

    target: str
    scenario: str
    round: int
    load: LoadResult
    cpu: float  # CPU seconds of the target's process (for direct: the client's and upstream's)
    client_cpu: float  # CPU seconds of this process: load generator and upstream
    upstream: dict[str, int]  # what the upstream sent during the turn
    stalls: int  # flows whose next burst went out without the client's word
    rss: int
    load_avg: float
    metrics: dict[str, float]  # copyguard's /metrics, delta over the turn


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def histogram_mean(metrics: dict[str, float], name: str) -> float:
    count = sum(v for k, v in metrics.items() if re.fullmatch(rf"{name}_count(\{{.*\}})?", k))
    total = sum(v for k, v in metrics.items() if re.fullmatch(rf"{name}_sum(\{{.*\}})?", k))
    return total / count if count else float("nan")


def _pool(segs: list[Segment], chunk_chars: int) -> dict[str, Any]:
    recs: list[Record] = [r for s in segs for r in s.load.records]
    ok = [r for r in recs if not r.error]
    chunks = sum(r.chars for r in recs) / chunk_chars  # upstream chunks whose text got through
    seconds = sum(s.load.seconds for s in segs)
    cpu = sum(s.cpu for s in segs)
    reads = sum(r.writes for r in recs)  # the sender's writes: a proxy's upstream reads
    metrics: dict[str, float] = {}
    for s in segs:
        for k, v in s.metrics.items():
            metrics[k] = metrics.get(k, 0.0) + v
    nan = float("nan")
    return {
        "requests": len(recs),
        "failures": len(recs) - len(ok),
        "errors": sorted({r.error for r in recs if r.error}),
        "blocked": sum(1 for r in ok if r.finish == "content_filter"),
        "first": [r.first for r in ok if r.first is not None],
        "gaps": [g for r in ok for g in r.gaps],
        "chunks": chunks,
        "chunks_per_s": chunks / seconds if seconds else 0.0,
        "cpu_s": cpu,
        "cpu_us_per_chunk": cpu / chunks * 1e6 if chunks else nan,
        "client_cpu_us_per_chunk": sum(s.client_cpu for s in segs) / chunks * 1e6
        if chunks
        else nan,
        "chunks_per_read": chunks / reads if reads else nan,
        "writes": sum(s.upstream.get("writes", 0) for s in segs),
        "stalls": sum(s.stalls for s in segs),
        "rss_mb": max((s.rss for s in segs), default=0) / 2**20,
        "load_avg": sum(s.load_avg for s in segs) / len(segs),
        "held_words": histogram_mean(metrics, "copyguard_held_back_words"),
    }


def summarise(
    segments: list[Segment],
    targets: list[str],
    floors: dict[str, str],
    copyguards: dict[str, tuple[str, str]],
    chunk_chars: int,
) -> dict[str, Any]:
    """Per scenario and target: rounds pooled, latency against direct, CPU against the floor."""
    out: dict[str, dict[str, Any]] = {}
    for scn in dict.fromkeys(s.scenario for s in segments):
        pooled = {}
        for target in targets:
            segs = [s for s in segments if s.scenario == scn and s.target == target]
            if segs:
                pooled[target] = _pool(segs, chunk_chars)
        direct = pooled.get("direct")
        table: dict[str, Any] = {}
        for target, p in pooled.items():
            row = {
                k: p[k] for k in ("requests", "failures", "errors", "blocked", "writes", "stalls")
            }
            for key in ("first", "gaps"):
                for q in (0.5, 0.99):
                    label = f"{key}_p{int(q * 100)}"
                    row[label + "_ms"] = round(pct(p[key], q) * 1000, 3)
                    if direct:
                        added = pct(p[key], q) - pct(direct[key], q)
                        row["added_" + label + "_ms"] = round(added * 1000, 3)
            for key in ("cpu_us_per_chunk", "client_cpu_us_per_chunk", "chunks_per_read"):
                row[key] = round(p[key], 2)
            row["chunks_per_s"] = round(p["chunks_per_s"])
            row["cpu_ms_per_request"] = round(p["cpu_s"] / max(1, p["requests"]) * 1000, 3)
            row["rss_mb"] = round(p["rss_mb"], 1)
            row["load_avg"] = round(p["load_avg"], 1)
            if target in copyguards:
                row["held_words_mean"] = round(p["held_words"], 2)
                floor = pooled.get(floors[copyguards[target][1]])
                if floor and scn.endswith("non-stream"):  # per request: chunks are not events
                    row["floor"] = floors[copyguards[target][1]]
                    row["ratio_to_floor"] = round(p["cpu_s"] / max(1, p["requests"]) / (
                        floor["cpu_s"] / max(1, floor["requests"])), 2)  # fmt: skip
                elif floor:
                    row["floor"] = floors[copyguards[target][1]]
                    row["ratio_to_floor"] = round(
                        p["cpu_us_per_chunk"] / floor["cpu_us_per_chunk"], 2
                    )
            table[target] = row
        out[scn] = {"table": table, "raw": pooled}
    return {"scenarios": out}


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    cpu = platform.processor() or platform.machine()
    return (
        f"{psutil.cpu_count()} cores ({cpu}), {mem:.0f} GB, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}"
    )


def _f(x: Any, fmt: str = ".1f") -> str:
    return "-" if not isinstance(x, (int, float)) or x != x else format(x, fmt)


def _pair(row: dict[str, Any], key: str) -> str:
    return f"{_f(row.get(key + '_p50_ms'), '.2f')} / {_f(row.get(key + '_p99_ms'), '.2f')}"


def markdown(summary: dict[str, Any]) -> str:
    """A summary table (CPU per upstream chunk, ratio to the floor) and one table a scenario."""
    scns = summary["scenarios"]
    targets = list(dict.fromkeys(t for s in scns.values() for t in s["table"]))
    shown = [t for t in targets if t not in ("direct", "copyguard-block")]
    lines = [
        "CPU µs per upstream chunk (copyguard rows: x the floor on the same event loop;"
        " non-stream: per request)\n",
        "| scenario | " + " | ".join(shown) + " |",
        "|---" * (len(shown) + 1) + "|",
    ]
    for scn, data in scns.items():
        cells = []
        for t in shown:
            r = data["table"].get(t)
            if r is None:
                cells.append("")
                continue
            value = (
                r["cpu_ms_per_request"] * 1000
                if scn.endswith("non-stream")
                else r["cpu_us_per_chunk"]
            )
            cell = _f(value)
            if "ratio_to_floor" in r:
                cell += f" ({_f(r['ratio_to_floor'], '.2f')}x)"
            cells.append(cell)
        lines.append(f"| {scn} | " + " | ".join(cells) + " |")
    lines.append(
        "\ndirect: the client talks to the upstream itself; its CPU is the load generator's"
        " and the upstream's (one process).\n"
    )
    for scn, data in scns.items():
        lines.append(f"### {scn}\n")
        lines.append(
            "| target | requests | failed | + first token p50/p99 ms | + gap p50/p99 ms"
            " | chunks/s | chunks/read | CPU µs/chunk | x floor | CPU ms/req | client µs/chunk"
            " | RSS MB | load |"
        )
        lines.append("|---" * 13 + "|")
        for target, r in data["table"].items():
            lines.append(
                f"| {target} | {r['requests']} | {r['failures']}"
                f" | {_pair(r, 'added_first')} | {_pair(r, 'added_gaps')}"
                f" | {r['chunks_per_s']} | {_f(r['chunks_per_read'], '.2f')}"
                f" | {_f(r['cpu_us_per_chunk'])} | {_f(r.get('ratio_to_floor'), '.2f')}"
                f" | {_f(r['cpu_ms_per_request'], '.2f')} | {_f(r['client_cpu_us_per_chunk'])}"
                f" | {r['rss_mb']} | {r['load_avg']} |"
            )
        held = {t: r["held_words_mean"] for t, r in data["table"].items() if "held_words_mean" in r}
        if held:
            lines.append(
                "\nmean of copyguard_held_back_words (before 2026-12-02: after each release;"
                " since: the most held in a response): "
                + ", ".join(f"{t} {_f(v, '.2f')}" for t, v in held.items())
            )
        lines.append("")
    return "\n".join(lines)
