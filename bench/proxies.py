"""Proxy benchmark: copyguard against the upstream alone, bare aiohttp proxies and LiteLLM.

    python -m bench.proxies [--quick] [--no-litellm] [--out bench/results]

One interleaved run (A B C ... A B C ...: every target gets the same load from the same
upstream, taking turns so that drift hits all of them alike).  Targets:

    direct            the demo upstream itself (``bench.upstream``: the demo app on uvloop)
    bytes             ``bench.passthrough --mode bytes``: an aiohttp hop, no parsing
    reencode          ``bench.passthrough --mode reencode``: SSE split + orjson per event,
                      the floor for any proxy that reads the content
    copyguard         ``copyguard serve``, gutenberg catalogue, clean answers
    copyguard-block   the same process, answers that quote gutenberg (cut mid-stream)
    copyguard-uvloop  a second ``copyguard serve`` with ``event_loop = uvloop``, clean answers
    litellm           LiteLLM's proxy in its own venv (bench/.venv-litellm), one
                      OpenAI-compatible model pointing at the same upstream

Each proxy is its own subprocess with one worker.  Scenarios: C = 50 and C = 200 streams
paced at 50 chunks/s (4 characters a chunk), saturation (no pacing) at C = 4, 16, 64, and
non-streamed requests.  Per target: added time to headers / first content chunk / gaps
between chunks (percentiles minus the direct ones), throughput, proxy CPU microseconds per
chunk (psutil CPU time / content chunks delivered), resident memory, failures.  Writes
``proxies.json`` and ``proxies.md`` to ``--out`` and the plots to ``docs/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.loadgen import MASTER_KEY, LoadResult, Record, chat_body, run_load
from proxy.demo.answers import echo64

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs"
GUTENBERG = ROOT.parent / "shared" / "corpora" / "gutenberg"
LITELLM_VENV = HERE / ".venv-litellm"
CHUNK_CHARS = 4
PACED_DELAY_MS = 20.0  # 50 chunks/s per stream
PACED_CHUNKS = 100  # 2 s streams
SAT_CHUNKS = 200
TARGETS = (
    "direct",
    "bytes",
    "reencode",
    "copyguard",
    "copyguard-block",
    "copyguard-uvloop",
    "litellm",
)
SERVED_BY = {"copyguard-block": "copyguard"}  # targets that load a process of another target
CLEAN_PROMPT = "Tell me something about benchmarks."


@dataclass
class Scenario:
    name: str
    concurrency: int
    seconds: float
    stream: bool = True


@dataclass
class Phase:
    name: str
    delay_ms: float
    max_chunks: int
    scenarios: list[Scenario]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.proc.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds of the process and its children (LiteLLM may fork)."""
        total = 0.0
        for p in [self.ps, *self.ps.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in [self.ps, *self.ps.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def passages(folder: Path, count: int, words: int = 60) -> list[str]:
    """``count`` passages of ``words`` words taken from the middle of the catalogue's books."""
    books = [p.read_text(encoding="utf-8").split() for p in sorted(folder.rglob("*.txt"))]
    out = []
    for i in range(count):
        book = books[i % len(books)]
        start = len(book) // 3 + (i // len(books)) * 997
        out.append(" ".join(book[start : start + words]))
    return out


@dataclass
class Segment:
    """One target's turn in one scenario and round."""

    target: str
    scenario: str
    round: int
    load: LoadResult
    cpu: float  # CPU seconds of the target's process during the turn
    upstream_cpu: float
    rss: int
    metrics: dict[str, float]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.out.mkdir(parents=True, exist_ok=True)
        self.logs = self.out / "logs"
        self.logs.mkdir(exist_ok=True)
        self.passages = passages(args.gutenberg, 64)
        self.segments: list[Segment] = []
        self.targets = [t for t in TARGETS if t != "litellm" or args.litellm]
        if args.targets:  # direct always runs: the added latencies are measured against it
            keep = {"direct", *args.targets.split(",")}
            self.targets = [t for t in self.targets if t in keep]

    # -- processes ---------------------------------------------------------------------
    def spawn(
        self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None
    ) -> Server:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=ROOT
        )
        return Server(name, proc, port)

    @contextmanager
    def servers(self, phase: Phase) -> Iterator[dict[str, Server]]:
        py = sys.executable
        up_port = free_port()
        running: dict[str, Server] = {}
        try:
            running["direct"] = up = self.spawn(
                f"upstream-{phase.name}",
                [py, "-m", "bench.upstream", "--port", str(up_port), "--delay-ms",
                 str(phase.delay_ms), "--chunk-chars", str(CHUNK_CHARS), "--max-chunks",
                 str(phase.max_chunks)],
                up_port,
            )  # fmt: skip
            for mode in ("bytes", "reencode"):
                port = free_port()
                running[mode] = self.spawn(
                    f"{mode}-{phase.name}",
                    [py, "-m", "bench.passthrough", "--upstream", up.url, "--port", str(port),
                     "--mode", mode],
                    port,
                )  # fmt: skip
            for name, loop in (("copyguard", None), ("copyguard-uvloop", "uvloop")):
                if name not in self.targets and name != "copyguard":
                    continue
                port = free_port()
                env = {"COPYGUARD_EVENT_LOOP": loop} if loop else {}
                running[name] = self.spawn(
                    f"{name}-{phase.name}",
                    [py, "-m", "proxy.cli", "serve"],
                    port,
                    {
                        "COPYGUARD_UPSTREAM": up.url,
                        "COPYGUARD_RULES": str(self.args.gutenberg),
                        "COPYGUARD_LISTEN": f"127.0.0.1:{port}",
                        "COPYGUARD_CACHE_DIR": str(self.out / "cache"),
                        "COPYGUARD_WORKERS": "1",
                    }
                    | env,
                )
            if "litellm" in self.targets:
                running["litellm"] = self.start_litellm(phase, up.url)
            asyncio.run(self.wait_ready(running))
            yield running
        finally:
            for server in running.values():
                server.proc.terminate()
            for server in running.values():
                try:
                    server.proc.wait(10)
                except subprocess.TimeoutExpired:
                    server.proc.kill()

    def start_litellm(self, phase: Phase, upstream: str) -> Server:
        port = free_port()
        config = self.out / f"litellm-{phase.name}.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: copyguard-demo\n"
            "    litellm_params:\n"
            "      model: openai/copyguard-demo\n"
            f"      api_base: {upstream}/v1\n"
            "      api_key: bench\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
            "  drop_params: true\n"
        )
        exe = LITELLM_VENV / "bin" / "litellm"
        env = {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
            "NO_DOCS": "True",
            "LITELLM_MASTER_KEY": MASTER_KEY,
        }
        env.pop("DATABASE_URL", None)
        cmd = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
               "--num_workers", "1"]  # fmt: skip
        return self.spawn(f"litellm-{phase.name}", cmd, port, env)

    async def wait_ready(self, running: dict[str, Server]) -> None:
        deadline = time.monotonic() + 180
        async with aiohttp.ClientSession() as session:
            for name, server in running.items():
                body = chat_body(CLEAN_PROMPT, stream=False)
                url = server.url + "/v1/chat/completions"
                while True:
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"{name} exited; see {self.logs}")
                    try:
                        async with session.post(
                            url,
                            data=body,
                            headers={
                                "Content-Type": "application/json",
                                "Authorization": f"Bearer {MASTER_KEY}",
                            },
                        ) as r:
                            if r.status == 200:
                                await r.read()
                                break
                    except aiohttp.ClientError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} did not start; see {self.logs}")
                    await asyncio.sleep(0.3)

    # -- load ----------------------------------------------------------------------------
    def body_maker(self, target: str, stream: bool) -> Callable[[int], bytes]:
        if target == "copyguard-block":
            bodies = [chat_body(echo64(p), stream) for p in self.passages]
            return lambda i: bodies[i % len(bodies)]
        body = chat_body(CLEAN_PROMPT, stream)
        return lambda i: body

    async def turn(
        self, target: str, scenario: Scenario, rnd: int, running: dict[str, Server]
    ) -> Segment:
        server = running[SERVED_BY.get(target, target)]
        upstream = running["direct"]
        before_metrics = await scrape(server) if server.name.startswith("copyguard") else {}
        cpu0, up0 = server.cpu(), upstream.cpu()
        load = await run_load(
            server.url + "/v1/chat/completions",
            scenario.concurrency,
            scenario.seconds,
            self.body_maker(target, scenario.stream),
            stream=scenario.stream,
        )
        cpu, up_cpu = server.cpu() - cpu0, upstream.cpu() - up0
        metrics: dict[str, float] = {}
        if before_metrics:
            after = await scrape(server)
            metrics = {k: after.get(k, 0.0) - before_metrics.get(k, 0.0) for k in after}
        return Segment(target, scenario.name, rnd, load, cpu, up_cpu, server.rss(), metrics)

    def run_phase(self, phase: Phase) -> None:
        with self.servers(phase) as running:
            # warm-up: connections, caches, lazy imports
            for target in self.targets:
                warm = Scenario("warm-up", 4, 0.5)
                asyncio.run(self.turn(target, warm, 0, running))
            for scenario in phase.scenarios:
                for rnd in range(1, self.args.rounds + 1):
                    for target in self.targets:
                        t0 = time.monotonic()
                        seg = asyncio.run(self.turn(target, scenario, rnd, running))
                        self.segments.append(seg)
                        n = len(seg.load.records)
                        bad = sum(1 for r in seg.load.records if r.error)
                        print(
                            f"{phase.name:10} {scenario.name:14} round {rnd} {target:16}"
                            f" {n:5} requests {bad:4} failed {time.monotonic() - t0:5.1f} s",
                            flush=True,
                        )
                        time.sleep(0.3)

    def run(self) -> dict[str, Any]:
        t = self.args.seconds
        paced = Phase(
            "paced",
            PACED_DELAY_MS,
            PACED_CHUNKS,
            [Scenario("C50 paced", 50, t), Scenario("C200 paced", 200, t)],
        )
        sat = Phase(
            "saturation",
            0.0,
            SAT_CHUNKS,
            [
                Scenario("C4 saturation", 4, t * 0.6),
                Scenario("C16 saturation", 16, t * 0.6),
                Scenario("C64 saturation", 64, t * 0.6),
                Scenario("C32 non-stream", 32, t * 0.6, stream=False),
            ],
        )
        started = time.time()
        for phase in (paced, sat):
            if self.args.phase in (None, phase.name):
                self.run_phase(phase)
        summary = summarise(self.segments, self.targets)
        summary["run"] = {
            "seconds": round(time.time() - started),
            "machine": machine(),
            "rounds": self.args.rounds,
            "turn_seconds": {"paced": t, "saturation": t * 0.6},
            "command": "python -m bench.proxies " + " ".join(sys.argv[1:]),
        }
        return summary


async def scrape(server: Server) -> dict[str, float]:
    """copyguard's /metrics as {sample name with labels: value}."""
    async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
        text = await r.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out


def histogram(metrics: dict[str, float], name: str) -> dict[str, float]:
    """Mean and bucket-bound p50/p99 of a (delta of a) Prometheus histogram, summed over labels."""
    by_le: dict[float, float] = {}
    count = total = 0.0
    for key, value in metrics.items():
        m = re.fullmatch(rf'{name}_bucket\{{(?:.*,)?le="([^"]+)"(?:,.*)?\}}', key)
        if m:
            by_le[float(m.group(1))] = by_le.get(float(m.group(1)), 0.0) + value
        elif re.fullmatch(rf"{name}_count(\{{.*\}})?", key):
            count += value
        elif re.fullmatch(rf"{name}_sum(\{{.*\}})?", key):
            total += value
    bounds = sorted(by_le.items())
    if not count:
        return {"count": 0}

    def q(p: float) -> float:
        for le, c in bounds:
            if c >= p * count:
                return le
        return float("inf")

    return {"count": count, "mean": total / count, "p50_le": q(0.5), "p99_le": q(0.99)}


def _ms(x: float) -> float:
    return round(x * 1000, 3)


def summarise(segments: list[Segment], targets: list[str]) -> dict[str, Any]:
    """Per scenario and target: pooled rounds, added latency against direct."""
    scenarios: dict[str, dict[str, Any]] = {}
    for scn in dict.fromkeys(s.scenario for s in segments):
        pooled: dict[str, dict[str, Any]] = {}
        for target in targets:
            segs = [s for s in segments if s.scenario == scn and s.target == target]
            recs: list[Record] = [r for s in segs for r in s.load.records]
            ok = [r for r in recs if not r.error]
            chars = sum(r.chars for r in recs)
            chunks = chars / CHUNK_CHARS  # upstream chunks whose text reached the client
            seconds = sum(s.load.seconds for s in segs)
            cpu = sum(s.cpu for s in segs)
            first = [r.first for r in ok if r.first is not None]
            pooled[target] = {
                "requests": len(recs),
                "failures": len(recs) - len(ok),
                "errors": sorted({r.error for r in recs if r.error}),
                "blocked": sum(1 for r in ok if r.finish == "content_filter"),
                "headers": [r.headers for r in ok],
                "first": first,
                "total": [r.total for r in ok],
                "gaps": [g for r in ok for g in r.gaps],
                "chunks": chunks,
                "events": sum(r.chunks for r in recs),
                "chunks_per_s": chunks / seconds if seconds else 0.0,
                "requests_per_s": len(ok) / seconds if seconds else 0.0,
                "cpu_s": cpu,
                "cpu_us_per_chunk": cpu / chunks * 1e6 if chunks else float("nan"),
                "upstream_cpu_us_per_chunk": (
                    sum(s.upstream_cpu for s in segs) / chunks * 1e6 if chunks else float("nan")
                ),
                "rss_mb": max((s.rss for s in segs), default=0) / 2**20,
                "metrics": _merge_metrics([s.metrics for s in segs]),
            }
        direct = pooled["direct"]
        table: dict[str, Any] = {}
        for target, p in pooled.items():
            row: dict[str, Any] = {
                k: p[k]
                for k in ("requests", "failures", "errors", "blocked", "events", "requests_per_s")
            }
            for key in ("headers", "first", "gaps", "total"):
                for q in (0.5, 0.99):
                    label = f"{key}_p{int(q * 100)}"
                    row[label + "_ms"] = _ms(pct(p[key], q))
                    row["added_" + label + "_ms"] = _ms(pct(p[key], q) - pct(direct[key], q))
            row["chunks_per_s"] = round(p["chunks_per_s"])
            row["cpu_us_per_chunk"] = round(p["cpu_us_per_chunk"], 1)
            reqs = max(1, p["requests"])
            row["cpu_ms_per_request"] = round(p["cpu_s"] / reqs * 1000, 2)
            row["upstream_cpu_us_per_chunk"] = round(p["upstream_cpu_us_per_chunk"], 1)
            row["rss_mb"] = round(p["rss_mb"], 1)
            if p["metrics"]:
                m = p["metrics"]
                row["held_words"] = histogram(m, "copyguard_held_back_words")
                row["holdback_delay_s"] = histogram(m, "copyguard_holdback_delay_seconds")
                row["proxy_chunk_s"] = histogram(m, "copyguard_added_latency_seconds")
                row["proxy_first_token_s"] = histogram(m, "copyguard_first_token_added_seconds")
            table[target] = row
        scenarios[scn] = {"table": table, "raw": pooled}
    return {"scenarios": scenarios}


def _merge_metrics(parts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    cpu = platform.processor() or platform.machine()
    return (
        f"{psutil.cpu_count()} cores ({cpu}), {mem:.0f} GB, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}"
    )


# -- output -----------------------------------------------------------------------------


def markdown(summary: dict[str, Any]) -> str:
    lines = []
    for scn, data in summary["scenarios"].items():
        table = data["table"]
        lines.append(f"### {scn}\n")
        lines.append(
            "| target | requests | failed | + headers p50/p99 ms | + first token p50/p99 ms"
            " | + gap p50/p99 ms | chunks/s | CPU µs/chunk | CPU ms/req | RSS MB |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for target, r in table.items():
            lines.append(
                f"| {target} | {r['requests']} | {r['failures']}"
                f" | {r['added_headers_p50_ms']:.2f} / {r['added_headers_p99_ms']:.2f}"
                f" | {r['added_first_p50_ms']:.2f} / {r['added_first_p99_ms']:.2f}"
                f" | {r['added_gaps_p50_ms']:.2f} / {r['added_gaps_p99_ms']:.2f}"
                f" | {r['chunks_per_s']} | {r['cpu_us_per_chunk']} | {r['cpu_ms_per_request']}"
                f" | {r['rss_mb']} |"
            )
        direct = table["direct"]
        lines.append(
            f"\ndirect (absolute): headers p50 {direct['headers_p50_ms']:.2f} ms, first token p50"
            f" {direct['first_p50_ms']:.2f} / p99 {direct['first_p99_ms']:.2f} ms, gap p50"
            f" {direct['gaps_p50_ms']:.2f} / p99 {direct['gaps_p99_ms']:.2f} ms;"
            f" the direct row's CPU is the upstream's.\n"
        )
        cg = table.get("copyguard", {})
        if "held_words" in cg:
            hw, hd = cg["held_words"], cg["holdback_delay_s"]
            if hw.get("count"):
                lines.append(
                    f"copyguard holdback (clean): held-back words mean {hw['mean']:.2f},"
                    f" p50 <= {hw['p50_le']:g}, p99 <= {hw['p99_le']:g}; holdback delay mean"
                    f" {hd['mean'] * 1000:.2f} ms, p50 <= {hd['p50_le'] * 1000:g} ms,"
                    f" p99 <= {hd['p99_le'] * 1000:g} ms.\n"
                )
    return "\n".join(lines)


def plots(summary: dict[str, Any], docs: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    scn = summary["scenarios"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, name, key in (
        (axes[0], "C200 paced", "first"),
        (axes[1], "C200 paced", "gaps"),
    ):
        if name not in scn:
            continue
        raw = scn[name]["raw"]
        base = sorted(raw["direct"][key])
        for target, p in raw.items():
            if target == "direct" or not p[key] or not base:
                continue
            vals = sorted(p[key])
            n = min(len(vals), 2000)
            qs = [(i + 0.5) / n for i in range(n)]
            added = [(vals[int(q * len(vals))] - base[int(q * len(base))]) * 1000 for q in qs]
            ax.plot(added, qs, label=target)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("added latency vs direct, ms (quantile by quantile)")
        ax.set_ylabel("fraction of requests" if key == "first" else "fraction of gaps")
        title = "time to first token" if key == "first" else "gap between chunks"
        ax.set_title(f"{title}, {name}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = docs / "bench-latency-cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    levels = [(name, int(name.split()[0][1:])) for name in scn if name.endswith("saturation")]
    if not levels:  # a run of the paced phase only has no throughput curve to draw
        return written
    fig, ax = plt.subplots(figsize=(7, 4.5))
    targets = list(next(iter(scn.values()))["table"].keys())
    for target in targets:
        xs = [c for _, c in levels]
        ys = [scn[name]["table"][target]["chunks_per_s"] for name, _ in levels]
        ax.plot(xs, ys, marker="o", label=target)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent streams (no pacing)")
    ax.set_ylabel("content chunks/s delivered")
    ax.set_title("saturation throughput vs concurrency (2 cores, all processes)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = docs / "bench-throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--gutenberg", type=Path, default=GUTENBERG)
    parser.add_argument("--seconds", type=float, default=8.0, help="turn length, paced")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-litellm", dest="litellm", action="store_false")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the plots go")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s turns (smoke)")
    parser.add_argument("--phase", choices=("paced", "saturation"), help="run only this phase")
    parser.add_argument(
        "--targets", help="comma-separated subset of " + ",".join(TARGETS) + " (direct always)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2.0, 1
    if args.litellm and not (LITELLM_VENV / "bin" / "litellm").exists():
        print(f"no {LITELLM_VENV}: run `make bench` or pass --no-litellm", file=sys.stderr)
        sys.exit(2)
    summary = Bench(args).run()
    slim = {
        "run": summary["run"],
        "scenarios": {k: v["table"] for k, v in summary["scenarios"].items()},
    }
    (args.out / "proxies.json").write_text(json.dumps(slim, indent=2))
    md = markdown(summary)
    (args.out / "proxies.md").write_text(md)
    for path in plots(summary, args.docs):
        print(f"wrote {path}")
    print(md)
    print(json.dumps(summary["run"], indent=2))


if __name__ == "__main__":
    main()
