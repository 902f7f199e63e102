"""Soak: many concurrent streams through a real ``copyguard serve`` (a benchmark, not a test).

    python -m bench.soak [--streams 500] [--seconds 60] [--delay-ms 20] [--chunk-chars 8]
                         [--event-loop asyncio|uvloop]

The demo upstream and the proxy run as subprocesses (one proxy worker, so its memory is one
process's).  ``--streams`` client loops keep one stream each in flight for ``--seconds``: half
ask for a clean answer, half for an answer reproducing a sample work.  It reports failed clean
streams (must be 0), protected runs found client-side by the matcher in any client's text
or in any line outside its data fields (must be 0), and the proxy's resident memory at 10 s
and at the end (growth must be < 10%).
Also reported, to read the memory figure by: the streams in flight inside the proxy (its
``copyguard_active_streams`` gauge, sampled each second) and the proxy's CPU use.
Exit status 1 if a criterion fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from proxy.demo import default_rules_dir
from proxy.matching.engines import load_matcher
from proxy.rules import load_rules
from proxy.scan import scan_text

PROTECTED = (
    "poems/lighthouse-keeper",
    "songs/copper-river-blues",
    "prose/the-cartographers-daughter",
)
CHAT = "/v1/chat/completions"
RAMP = 5.0  # 500 simultaneous connects overflow a listen backlog of 128 (SYN retries > 10 s)


@dataclass
class Tally:
    clean_ok: int = 0
    clean_failed: int = 0
    protected_ok: int = 0
    protected_failed: int = 0
    leaks: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # why clean streams failed
    rss: list[tuple[float, int]] = field(default_factory=list)
    in_flight: int = 0  # client loops waiting on a response right now
    # (t, client requests waiting, streams in the proxy, streams in the upstream)
    load: list[tuple[float, int, float, int]] = field(default_factory=list)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _chat_text(body: bytes) -> tuple[str, str, list[str], bool]:
    """Concatenated content, every line outside a data field, finish reasons, error seen."""
    text, other, reasons, error = [], [], [], False
    for line in body.split(b"\n"):
        if not line.startswith(b"data: "):
            other.append(line)
            continue
        if line == b"data: [DONE]":
            continue
        obj = orjson.loads(line[6:])
        error |= "error" in obj
        for choice in obj.get("choices", []):
            text.append((choice.get("delta") or {}).get("content") or "")
            if choice.get("finish_reason"):
                reasons.append(choice["finish_reason"])
    return "".join(text), b"\n".join(other).decode("utf-8", "replace"), reasons, error


async def _client(
    n: int, session: aiohttp.ClientSession, url: str, until: float, index: Any, tally: Tally
) -> None:
    clean = n % 2 == 0
    i = 0
    await asyncio.sleep(n * RAMP / 500)  # stagger the first connects over RAMP seconds
    while time.monotonic() < until:
        answer = "clean" if clean else PROTECTED[(n // 2 + i) % len(PROTECTED)]
        i += 1
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        tally.in_flight += 1
        try:
            async with session.post(url, json=body, headers={"x-demo-answer": answer}) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as e:
            tally.errors[f"{type(e).__name__}: {str(e)[:80]}"] += 1
            if clean:
                tally.clean_failed += 1
            continue
        finally:
            tally.in_flight -= 1
        text, other, reasons, error = _chat_text(raw) if status == 200 else ("", "", [], True)
        # the text a client reads, and any line where no client's parser looks
        if scan_text(index, text) or (other.strip() and scan_text(index, other)):
            tally.leaks += 1
        if clean:
            ok = status == 200 and not error and reasons == ["stop"] and text
            tally.clean_ok += bool(ok)
            tally.clean_failed += not ok
            if not ok:
                tally.failures[f"{status} {reasons} {raw[-160:]!r}"] += 1
        elif status == 200 and not error and reasons in (["content_filter"], ["stop"]):
            tally.protected_ok += 1  # blocked, or redacted (the song's collection redacts)
        else:
            tally.protected_failed += 1


async def _sample(
    pid: int,
    session: aiohttp.ClientSession,
    metrics_url: str,
    stats_url: str,
    start: float,
    until: float,
    tally: Tally,
) -> None:
    """Each second: the proxy's resident size, and streams in flight on both sides."""
    proc = psutil.Process(pid)
    while time.monotonic() < until:
        t = time.monotonic() - start
        tally.rss.append((t, proc.memory_info().rss))
        async with session.get(metrics_url) as resp:
            text = await resp.text()
        gauge = next(
            float(line.split()[-1]) for line in text.splitlines()
            if line.startswith("copyguard_active_streams ")
        )  # fmt: skip
        async with session.get(stats_url) as resp:
            upstream = (await resp.json())["active_streams"]
        tally.load.append((t, tally.in_flight, gauge, upstream))
        await asyncio.sleep(1.0)


async def _wait_port(port: int, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.1)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    rules = default_rules_dir()
    index = load_matcher(load_rules(rules), None)[0]
    up_port, proxy_port = _port(), _port()
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.demo", "--port", str(up_port),
        "--delay-ms", str(args.delay_ms), "--chunk-chars", str(args.chunk_chars),
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    cache = tempfile.mkdtemp(prefix="copyguard-soak-")
    env = os.environ | {
        "COPYGUARD_UPSTREAM": f"http://127.0.0.1:{up_port}",
        "COPYGUARD_LISTEN": f"127.0.0.1:{proxy_port}",
        "COPYGUARD_CACHE_DIR": cache,
        "COPYGUARD_WORKERS": "1",
        "COPYGUARD_LOG_LEVEL": "warning",
    }
    if args.event_loop:  # else the setting's default
        env["COPYGUARD_EVENT_LOOP"] = args.event_loop
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "serve", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    tally = Tally()
    try:
        await _wait_port(up_port, 60)
        await _wait_port(proxy_port, 60)
        pid = proxy.pid
        children = psutil.Process(pid).children()
        if children:  # a supervisor: measure the worker that serves
            pid = children[0].pid
        url = f"http://127.0.0.1:{proxy_port}{CHAT}"
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        served = psutil.Process(pid)
        cpu0 = sum(served.cpu_times()[:2])
        start = time.monotonic()
        until = start + args.seconds
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            metrics_url = f"http://127.0.0.1:{proxy_port}/metrics"
            stats_url = f"http://127.0.0.1:{up_port}/demo/stats"
            sampler = asyncio.create_task(
                _sample(pid, session, metrics_url, stats_url, start, until, tally)
            )
            await asyncio.gather(
                *(_client(n, session, url, until, index, tally) for n in range(args.streams))
            )
            await sampler
        elapsed = time.monotonic() - start
        cpu = sum(served.cpu_times()[:2]) - cpu0
    finally:
        for p in (proxy, demo):
            if p.returncode is None:
                p.terminate()
        await asyncio.gather(proxy.wait(), demo.wait())
    at10 = next(r for t, r in tally.rss if t >= 10)
    last = tally.rss[-1][1]
    growth = (last - at10) / at10
    settled = [sample for sample in tally.load if sample[0] >= 10]
    in_proxy = sorted(int(sample[2]) for sample in settled)
    in_upstream = sorted(sample[3] for sample in settled)
    return {
        "streams": args.streams,
        "seconds": round(elapsed, 1),
        "clean_ok": tally.clean_ok,
        "clean_failed": tally.clean_failed,
        "protected_blocked_or_redacted": tally.protected_ok,
        "protected_failed": tally.protected_failed,
        "protected_runs_in_client_bytes": tally.leaks,
        "client_errors": dict(tally.errors),
        "clean_failures": dict(tally.failures.most_common(5)),
        "streams_per_second": round(
            (tally.clean_ok + tally.clean_failed + tally.protected_ok + tally.protected_failed)
            / elapsed,
            1,
        ),  # fmt: skip
        "proxy_rss_mib_at_10s": round(at10 / 2**20, 1),
        "proxy_rss_mib_at_end": round(last / 2**20, 1),
        "proxy_rss_peak_mib": round(max(r for _, r in tally.rss) / 2**20, 1),
        "rss_growth_10s_to_end_pct": round(100 * growth, 2),
        "proxy_rss_mib_every_10s": [round(r / 2**20, 1) for t, r in _every(tally.rss, 10)],
        "streams_in_proxy_after_10s_min_median_max": _spread(in_proxy),
        "streams_in_upstream_after_10s_min_median_max": _spread(in_upstream),
        "proxy_cpu_pct": round(100 * cpu / elapsed, 1),
    }


def _spread(values: list[int]) -> list[int]:
    """Smallest, median and largest of sorted ``values``."""
    return [values[0], values[len(values) // 2], values[-1]]


def _every(samples: list[tuple[float, int]], step: float) -> list[tuple[float, int]]:
    """The first sample at or after each multiple of ``step`` seconds."""
    picked, mark = [], 0.0
    for t, value in samples:
        if t >= mark:
            picked.append((t, value))
            mark = (t // step + 1) * step
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--chunk-chars", type=int, default=8)
    parser.add_argument(
        "--event-loop", choices=["asyncio", "uvloop"],
        help="the proxy's event loop (COPYGUARD_EVENT_LOOP; default: the setting's default)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    result = asyncio.run(soak(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    ok = (
        result["clean_failed"] == 0
        and result["protected_runs_in_client_bytes"] == 0
        and result["rss_growth_10s_to_end_pct"] < 10
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
