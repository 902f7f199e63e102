"""One engine in a fresh process: per-delta CPU and holdback on clean speeches, recall and
words released before a finding on the planted books, and this process's memory.

    python -m bench.index.probe (--index FILE | --rules DIR) --corpora DIR --plants JSON
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from proxy.matching.seam import Matcher, scan_once

DELTA_CHARS = 4
CLEAN_WORDS = 60_000  # timed, after as many again to warm up (mapped pages, caches)
EXCERPTS_PER_BOOK = 12
EXCERPT_WORDS = 40


def _status() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _load(args: argparse.Namespace) -> Matcher:
    if args.index:
        from proxy.matching.engines import load_matcher

        return load_matcher(None, None, None, args.index)[0]
    from proxy.matching.aho.index import MatchIndex
    from proxy.rules import load_rules

    return MatchIndex.build(load_rules(args.rules))


def clean_stream(matcher: Matcher, text: str) -> dict[str, float]:
    """CPU per delta and words held back, streaming ``text`` in small deltas."""
    session = matcher.session()
    deltas = [text[i : i + DELTA_CHARS] for i in range(0, len(text), DELTA_CHARS)]
    held = 0
    samples = 0
    started = time.process_time()
    for i, delta in enumerate(deltas):
        session.feed(delta)
        safe = session.safe_until  # the guard asks after every feed
        if i % 16 == 0:  # counting the held words costs more than a feed: not timed
            end = time.process_time()
            held += len(text[safe : session.fed].split())
            samples += 1
            started += time.process_time() - end
    session.flush()
    cpu = time.process_time() - started
    return {"delta_us": cpu / len(deltas) * 1e6, "held_words": held / max(samples, 1)}


def planted(
    matcher: Matcher, corpora: Path, plants: dict[str, Any], clean: list[str]
) -> dict[str, float]:
    """Recall of 40-word excerpts of the planted books, and words out before they are found."""
    from tests.matching.corpus_text import detokenise

    rng = random.Random(14)
    hits = total = 0
    leaks: list[int] = []
    for stem, where in sorted(plants.items()):
        tokens = (corpora / "gutenberg" / f"{stem}.txt").read_text(encoding="utf-8").split()
        for _ in range(EXCERPTS_PER_BOOK):
            at = rng.randrange(len(tokens) - 2 * EXCERPT_WORDS)
            excerpt = detokenise(" ".join(tokens[at : at + EXCERPT_WORDS]))
            total += 1
            found = scan_once(matcher, excerpt)
            hits += any(f.work == where["work"] for f in found)
            lead = " ".join(clean[at % 1000 : at % 1000 + 30]) + " "
            leaks.append(_released_before_found(matcher, lead, excerpt))
    return {
        "recall": hits / max(total, 1),
        "excerpts": total,
        "leak_mean": sum(leaks) / max(len(leaks), 1),
        "leak_max": max(leaks, default=0),
    }


def _released_before_found(matcher: Matcher, lead: str, excerpt: str) -> int:
    """Words of ``excerpt`` (after ``lead``) a client had before the run was first found."""
    text = lead + excerpt
    session = matcher.session()
    released = 0
    for i in range(0, len(text), DELTA_CHARS):
        found = session.feed(text[i : i + DELTA_CHARS])
        if found or session.open_findings():
            break
        released = max(released, session.safe_until)
    return len(text[len(lead) : max(released, len(lead))].split())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path)
    parser.add_argument("--rules", type=Path)
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--plants", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    before = _status()
    matcher = _load(args)
    ready = time.perf_counter() - started
    speeches = sorted((args.corpora / "speeches").rglob("*.txt"))
    speech_words = " ".join(p.read_text(encoding="utf-8") for p in speeches).split()
    warm, clean = speech_words[:CLEAN_WORDS], speech_words[CLEAN_WORDS : 2 * CLEAN_WORDS]
    first = clean_stream(matcher, " ".join(warm))  # a server's first minutes: pages fault in
    out: dict[str, Any] = {"load_s": ready, "first_delta_us": first["delta_us"]}
    out.update(clean_stream(matcher, " ".join(clean)))
    out.update(planted(matcher, args.corpora, json.loads(args.plants.read_text())["plants"], clean))
    after = _status()
    out["rss_anon_mb"] = (after["RssAnon"] - before["RssAnon"]) / 2**20
    out["rss_file_mb"] = after["RssFile"] / 2**20
    out["rss_mb"] = after["VmRSS"] / 2**20
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
