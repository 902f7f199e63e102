"""Lookups on a cold page cache: the index file's pages evicted, then excerpts scanned.

    python -m bench.index.cold --index FILE --corpora DIR [--plants JSON]

Only this file's pages are evicted (``posix_fadvise(DONTNEED)``), not the machine's
cache.  The checksum pass is skipped (it would read the whole file back in): what is
timed is what a replica whose index is bigger than RAM pays for pages it has not read.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from proxy.matching.kgram.engine import KgramMatcher
from proxy.matching.kgram.layout import open_index
from proxy.matching.seam import scan_once
from tests.matching.corpus_text import detokenise


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _excerpts(corpora: Path, count: int) -> list[str]:
    rng = random.Random(7)
    books = sorted((corpora / "gutenberg").glob("*.txt"))
    out = []
    for _ in range(count):
        tokens = rng.choice(books).read_text(encoding="utf-8").split()
        at = rng.randrange(len(tokens) - 60)
        out.append(detokenise(" ".join(tokens[at : at + 40])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpora", type=Path, required=True)
    args = parser.parse_args()
    texts = _excerpts(args.corpora, 60)
    result = {}
    for label in ("cold", "warm"):
        if label == "cold":
            _evict(args.index)
        matcher = KgramMatcher(open_index(args.index, verify=False))
        started = time.perf_counter()
        found = sum(bool(scan_once(matcher, t)) for t in texts)
        result[f"{label}_ms_per_excerpt"] = (time.perf_counter() - started) / len(texts) * 1e3
        result[f"{label}_found"] = found
    print(json.dumps(result))


if __name__ == "__main__":
    main()
