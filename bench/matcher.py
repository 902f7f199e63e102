"""Matcher benchmark on the gutenberg catalogue (a benchmark, not a test).

    python -m bench.matcher [--corpora ../shared/corpora]

Each phase runs in a fresh process so memory and start-up are measured cleanly; times
are the process's CPU time, so other load on the machine does not distort them:
cold build, restart from the compiled cache, then scanning speed and holdback on clean
text (the speeches, which are not in the catalogue).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
DEFAULT_CORPORA = HERE.parent.parent / "shared" / "corpora"


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def phase_load(corpora: Path, cache: Path) -> dict[str, Any]:
    """Load the catalogue (building or from the cache); report time and memory."""
    base = _rss()
    t0 = time.process_time()
    from proxy.matching.aho.cache import load_or_build
    from proxy.rules import load_rules

    catalogue = load_rules(corpora / "gutenberg")
    index, cached = load_or_build(catalogue, cache)
    seconds = time.process_time() - t0
    del catalogue
    import gc

    gc.collect()
    rss = _rss() - base
    return {
        "cached": cached,
        "seconds": round(seconds, 2),
        "rss_mb": round(rss / 2**20, 1),
        "bytes_per_word": round(rss / index.word_count, 1),
        "words": index.word_count,
        "windows": len(index.automaton),
        "window": index.window,
        "stride": index.stride,
        "automaton_mb": round(index.automaton.get_stats()["total_size"] / 2**20, 1),
    }


def phase_scan(corpora: Path, cache: Path) -> dict[str, Any]:
    """Scanning speed (whole texts, 4-character deltas) and holdback on clean text."""
    from proxy.matching.engines import load_matcher
    from proxy.matching.normalize import words
    from proxy.rules import load_rules

    index, _ = load_matcher(load_rules(corpora / "gutenberg"), cache)
    texts = [p.read_text(encoding="utf-8") for p in sorted((corpora / "speeches").rglob("*.txt"))]
    total_words = sum(len(words(t)) for t in texts)

    t0 = time.process_time()
    findings = 0
    for text in texts:
        s = index.session()
        findings += len(s.feed(text)) + len(s.flush())
    whole = time.process_time() - t0

    deltas = [[t[i : i + 4] for i in range(0, len(t), 4)] for t in texts]
    n = sum(len(d) for d in deltas)
    t0 = time.process_time()
    for ds in deltas:
        s = index.session()
        for d in ds:
            s.feed(d)
            _ = s.safe_until
        s.flush()
    streamed = time.process_time() - t0

    held: list[int] = []
    for text, ds in zip(texts, deltas, strict=True):
        s = index.session()
        fed = 0
        for d in ds:
            s.feed(d)
            fed += len(d)
            held.append(len(words(text[s.safe_until : fed])))
    held.sort()

    def pct(p: float) -> int:
        return held[min(len(held) - 1, int(len(held) * p))]

    return {
        "speech_words": total_words,
        "findings_in_speeches": findings,
        "words_per_s": round(total_words / whole),
        "deltas": n,
        "deltas_per_s": round(n / streamed),
        "held_words": {
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "max": held[-1],
            "mean": round(sum(held) / len(held), 2),
        },
    }


def _run(phase: str, corpora: Path, cache: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.matcher",
            "--phase",
            phase,
            "--corpora",
            str(corpora),
            "--cache",
            str(cache),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--phase", choices=["load", "scan"])
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    if args.phase:
        fn = phase_load if args.phase == "load" else phase_scan
        print(json.dumps(fn(args.corpora, args.cache)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        results = {
            "cold": _run("load", args.corpora, cache),
            "restart": _run("load", args.corpora, cache),
            "scan": _run("scan", args.corpora, cache),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
