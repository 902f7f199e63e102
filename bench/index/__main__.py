"""The k-gram index engine at growing catalogue sizes (a benchmark, not a test).

    python -m bench.index [--sizes gutenberg,10M,100M] [--aho-up-to 10M] [--data DIR]

Per size: build time, words/s and peak memory of ``copyguard build-index`` (the whole
process tree), bytes per catalogue word, time until ``serve --index`` accepts
connections and worker memory with 1 and 2 workers after some traffic, and, in a fresh
process per engine, per-delta CPU and held-back words on clean speeches, recall and
words released before a finding on the planted books.  Results go to
docs/bench-index.json and docs/bench-index.png.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from bench.index.probe import CLEAN_WORDS
from bench.index.synth import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DOCS = REPO / "docs"
DEFAULT_CORPORA = REPO.parent / "shared" / "corpora"
SIZES = {"gutenberg": 0, "10M": 10_000_000, "100M": 100_000_000, "1B": 1_000_000_000}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tree_peak(proc: subprocess.Popen[bytes]) -> tuple[float, int]:
    """Wait for ``proc``; its wall time and the peak RSS of it and its children together."""
    started, peak = time.perf_counter(), 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            rss = 0
        peak = max(peak, rss)
        time.sleep(0.2)
    return time.perf_counter() - started, peak


def build(rules: Path, out: Path, strict: bool = False) -> dict[str, Any]:
    if out.exists():
        out.unlink()
    args = [
        sys.executable,
        "-m",
        "proxy.cli",
        "build-index",
        "--rules",
        str(rules),
        "--out",
        str(out),
    ]
    before = os.times()
    proc = subprocess.Popen([*args, *(["--strict"] if strict else [])], stderr=subprocess.PIPE)
    wall, peak = _tree_peak(proc)
    after = os.times()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"build failed: {err}")
    words = int(err.rsplit(" works, ", 1)[1].split(" words")[0])
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    size = out.stat().st_size
    return {
        "words": words,
        "build_s": wall,
        "build_cpu_s": cpu,
        "words_per_s": words / wall,
        "words_per_cpu_s": words / cpu,
        "build_peak_mb": peak / 2**20,
        "bytes": size,
        "bytes_per_word": size / words,
    }


def _status(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def serve(index: Path, upstream: str, workers: int, texts: list[str]) -> dict[str, Any]:
    """Time until ``serve --index`` accepts connections; worker memory after ``texts``."""
    port = _port()
    env = os.environ | {"COPYGUARD_UPSTREAM": upstream, "COPYGUARD_LOG_LEVEL": "warning"}
    args = ["serve", "--index", str(index), "--listen", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", *args, "--workers", str(workers)], env=env
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("serve --index exited") from None
                time.sleep(0.02)
        ready = time.perf_counter() - started
        cpu = psutil.Process(proc.pid).cpu_times()
        ready_cpu = cpu.user + cpu.system
        for text in texts:
            body = {"model": "m", "messages": [{"role": "user", "content": f"echo: {text}"}]}
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=60).read()
        pids = [proc.pid] if workers == 1 else [c.pid for c in psutil.Process(proc.pid).children()]
        mem = [_status(pid) for pid in pids]
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "ready_s": ready,
        "ready_cpu_s": ready_cpu,
        "anon_mb": max(m["RssAnon"] for m in mem),
        "file_mb": max(m["RssFile"] for m in mem),
    }


def probe(corpora: Path, plants: Path, **engine: Path) -> dict[str, Any]:
    ((flag, value),) = engine.items()
    args = ["--corpora", str(corpora), "--plants", str(plants), f"--{flag}", str(value)]
    out = subprocess.run(
        [sys.executable, "-m", "bench.index.probe", *args], capture_output=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="gutenberg,10M,100M")
    parser.add_argument("--aho-up-to", default="10M", help="largest size for the automaton engine")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "copyguard-bench-index"
    )
    parser.add_argument("--strict", action="store_true", help="also strict mode (gutenberg only)")
    parser.add_argument(
        "--books-only",
        action="store_true",
        help="synthetic works from the books' statistics alone (results key: SIZE-books)",
    )
    args = parser.parse_args()
    results_path = DOCS / "bench-index.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results["load"] = os.getloadavg()
    demo_port = _port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proxy.cli",
            "demo-upstream",
            "--port",
            str(demo_port),
            "--delay-ms",
            "0",
        ]
    )
    speeches = sorted((args.corpora / "speeches").rglob("*.txt"))
    clean = " ".join(p.read_text(encoding="utf-8") for p in speeches[:20]).split()
    texts = [" ".join(clean[i : i + 200]) for i in range(0, 200 * 40, 200)]
    try:
        time.sleep(1.0)
        for name in args.sizes.split(","):
            words = SIZES[name]
            if name == "gutenberg":
                rules, plants = args.corpora / "gutenberg", args.data / "gutenberg-plants.json"
                args.data.mkdir(parents=True, exist_ok=True)
                stems = [p.stem for p in sorted(rules.glob("*.txt"))]
                plants.write_text(json.dumps({"plants": {s: {"work": s} for s in stems}}))
            else:
                if args.books_only:
                    name += "-books"
                rules = args.data / name
                generate(args.corpora, words, rules, 2 * CLEAN_WORDS, books_only=args.books_only)
                plants = rules / "plants.json"
            index = args.data / f"{name}.idx"
            row: dict[str, Any] = build(rules, index)
            print(name, "built", row, flush=True)
            row["serve1"] = serve(index, f"http://127.0.0.1:{demo_port}", 1, texts)
            row["serve2"] = serve(index, f"http://127.0.0.1:{demo_port}", 2, texts)
            row["kgram"] = probe(args.corpora, plants, index=index)
            if words <= SIZES[args.aho_up_to]:
                row["aho"] = probe(args.corpora, plants, rules=rules)
            if args.strict and name == "gutenberg":
                strict = args.data / "gutenberg-strict.idx"
                row["strict"] = {
                    **build(rules, strict, strict=True),
                    **probe(args.corpora, plants, index=strict),
                }
            results[name] = row
            print(name, json.dumps(row), flush=True)
            results_path.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        demo.terminate()
        demo.wait(30)
    plot(results)


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sized = [(k, v) for k, v in results.items() if isinstance(v, dict) and "words" in v]
    sized.sort(key=lambda kv: kv[1]["words"])
    rows = [(k, v) for k, v in sized if not k.endswith("-books")]
    books = [(k, v) for k, v in sized if k.endswith("-books")]
    xs = [v["words"] for _, v in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(xs, [v["bytes_per_word"] for _, v in rows], "o-", label="index file")
    axes[0].axhline(12, color="grey", ls="--", label="target 12 B")
    axes[0].set_ylabel("bytes per catalogue word")
    axes[1].plot(xs, [v["kgram"]["delta_us"] for _, v in rows], "o-", label="k-gram index")
    aho = [(v["words"], v["aho"]["delta_us"]) for _, v in rows if "aho" in v]
    axes[1].plot([a for a, _ in aho], [b for _, b in aho], "s-", label="automaton")
    if books:
        axes[1].plot(
            [v["words"] for _, v in books],
            [v["kgram"]["delta_us"] for _, v in books],
            "o--",
            label="k-gram, books-only catalogue",
        )
    axes[1].set_ylabel("CPU per 4-char delta (us), clean speeches")
    axes[2].plot(xs, [v["words_per_cpu_s"] / 1e6 for _, v in rows], "o-", label="per CPU second")
    axes[2].plot(xs, [v["words_per_s"] / 1e6 for _, v in rows], "s-", label="wall (shared machine)")
    axes[2].set_ylabel("build, M words/s")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("catalogue words")
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(DOCS / "bench-index.png", dpi=110)


if __name__ == "__main__":
    main()
