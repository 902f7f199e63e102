"""Does copyguard's throughput grow with ``--workers``?  (A benchmark, not a test.)

    python -m bench.workers [--rounds 3] [--seconds 6] [--concurrency 64]

One saturated upstream (no pacing, 200 four-character chunks an answer), and copyguard
with the gutenberg catalogue started with 1 and with 2 workers, taking turns (1 2 1 2 ...)
under the same load.  Reports content chunks per second delivered to the clients and the
proxy's CPU seconds (all its processes) per chunk.  On a 2-core machine the load
generator and the upstream share the cores with the proxy, so "scales" means: the proxy
is no longer the one process holding everyone up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

from bench.loadgen import chat_body, run_load
from bench.proxies import CLEAN_PROMPT, free_port

ROOT = Path(__file__).resolve().parent.parent
GUTENBERG = ROOT.parent / "shared" / "corpora" / "gutenberg"


def _cpu(pid: int) -> float:
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def _ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    body = chat_body(CLEAN_PROMPT, stream=False)
    async with aiohttp.ClientSession() as s:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited")
            try:
                async with s.post(url + "/v1/chat/completions", data=body) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--gutenberg", type=Path, default=GUTENBERG)
    args = parser.parse_args()
    py = sys.executable
    up_port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as cache:
        try:
            procs.append(subprocess.Popen(
                [py, "-m", "bench.upstream", "--port", str(up_port), "--delay-ms", "0",
                 "--chunk-chars", "4", "--max-chunks", "200"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
            ))  # fmt: skip
            servers: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
            for workers in (1, 2):
                port = free_port()
                env = {
                    **os.environ,
                    "COPYGUARD_UPSTREAM": f"http://127.0.0.1:{up_port}",
                    "COPYGUARD_RULES": str(args.gutenberg),
                    "COPYGUARD_LISTEN": f"127.0.0.1:{port}",
                    "COPYGUARD_CACHE_DIR": cache,
                    "COPYGUARD_WORKERS": str(workers),
                    "COPYGUARD_LOG_LEVEL": "warning",
                }
                proc = subprocess.Popen(
                    [py, "-m", "proxy.cli", "serve"], env=env, cwd=ROOT,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                procs.append(proc)
                servers[workers] = (f"http://127.0.0.1:{port}", proc)
                asyncio.run(_ready(servers[workers][0], proc))
            for _ in range(args.rounds):
                for workers, (url, proc) in servers.items():
                    cpu0 = _cpu(proc.pid)
                    load = asyncio.run(
                        run_load(
                            url + "/v1/chat/completions", args.concurrency, args.seconds,
                            lambda i: chat_body(CLEAN_PROMPT, stream=True),
                        )
                    )  # fmt: skip
                    # content characters / 4: holdback merges events, so count the text
                    chunks = sum(r.chars for r in load.records if r.error is None) / 4
                    cpu = _cpu(proc.pid) - cpu0
                    results[workers].append((chunks / load.seconds, cpu / max(chunks, 1)))
                    time.sleep(0.5)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
    summary = {
        f"{w} worker(s)": {
            "chunks_per_s": round(statistics.median(r for r, _ in rows)),
            "cpu_us_per_chunk": round(statistics.median(c for _, c in rows) * 1e6, 1),
            "turns": [round(r) for r, _ in rows],
        }
        for w, rows in results.items()
    }
    one, two = (statistics.median(r for r, _ in results[w]) for w in (1, 2))
    print(json.dumps({**summary, "ratio_2_to_1": round(two / one, 2)}, indent=2))


if __name__ == "__main__":
    main()
