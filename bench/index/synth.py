"""Synthetic catalogues from the corpora's word and bigram statistics, with real books planted.

Works are bigram Markov chains over the shared corpora's lowercased words, all chains
stepped at once with numpy.  Each gutenberg book is planted whole in the middle of one
synthetic work (``plants.json`` records where), so recall can be measured at any size.

The speeches the probe streams as clean text (``held_out``) are left out of the
statistics, so the clean text is not among what the catalogue is drawn from.  The other
speeches stay, and with them the phrases speeches share: window postings met per clean
word fell only from 0.15 to 0.12 at 10 M words and from 1.24 to 0.97 at 100 M.  With
``books_only`` the statistics are the gutenberg books' alone (0.07 and 0.45): a catalogue
of another kind of text than the output, which shows how the cost depends on the phrases
the two share.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson

WORK_WORDS = 10_000
WORKS_PER_FILE = 500


STATISTICS = {False: "corpora without the probe's speeches", True: "gutenberg books only"}


def held_out(corpora: Path, words: int) -> list[Path]:
    """The speech files that hold the first ``words`` words of all speeches end to end: the
    clean text of the probe (warm-up and timed) and of the serve check."""
    files, seen = [], 0
    for path in sorted((corpora / "speeches").rglob("*.txt")):
        if seen >= words:
            break
        files.append(path)
        seen += len(path.read_text(encoding="utf-8").split())
    return files


def _statistics(
    corpora: Path, skip: list[Path]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Vocabulary and the bigram table as CSR (row offsets, next words, cumulative counts)."""
    tokens: list[str] = []
    for path in sorted(set(corpora.rglob("*.txt")) - set(skip)):
        tokens += [t.lower() for t in path.read_text(encoding="utf-8").split() if t.isalpha()]
    vocab = sorted(set(tokens))
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.fromiter((index[t] for t in tokens), dtype=np.int64, count=len(tokens))
    pairs = ids[:-1] * len(vocab) + ids[1:]
    keys, counts = np.unique(pairs, return_counts=True)
    rows, cols = keys // len(vocab), keys % len(vocab)
    offsets = np.searchsorted(rows, np.arange(len(vocab) + 1))
    return vocab, offsets, cols, np.cumsum(counts)


def generate(
    corpora: Path,
    words: int,
    out: Path,
    clean_words: int,
    seed: int = 14,
    books_only: bool = False,
) -> dict[str, object]:
    """Write a rules folder of about ``words`` words (jsonl files) with the books planted,
    drawn from statistics without the speeches that hold the first ``clean_words`` (or
    from the books' alone)."""
    marker = out / "plants.json"
    if marker.is_file():
        info = dict(json.loads(marker.read_text()))
        if info.get("statistics") == STATISTICS[books_only]:
            return info
        for old in out.glob("part*.jsonl"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    if books_only:
        vocab, offsets, cols, cum = _statistics(corpora / "gutenberg", [])
    else:
        vocab, offsets, cols, cum = _statistics(corpora, held_out(corpora, clean_words))
    words_arr = np.array(vocab, dtype=object)
    books = sorted((corpora / "gutenberg").glob("*.txt"))
    book_words = sum(len(b.read_text(encoding="utf-8").split()) for b in books)
    n_works = max(len(books), (words - book_words) // WORK_WORDS)
    rng = np.random.default_rng(seed)
    hosts = {
        int(h): b
        for h, b in zip(rng.choice(n_works, len(books), replace=False), books, strict=True)
    }
    plants = {}
    for first in range(0, n_works, WORKS_PER_FILE):
        count = min(WORKS_PER_FILE, n_works - first)
        state = rng.integers(0, len(vocab), count)
        chains = np.empty((WORK_WORDS, count), dtype=np.int64)
        for t in range(WORK_WORDS):
            chains[t] = state
            lo, hi = offsets[state], offsets[state + 1]
            dead = lo == hi
            base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0)
            total = np.where(dead, 1, cum[np.maximum(hi - 1, 0)] - base)
            pick = np.searchsorted(cum, base + rng.integers(0, np.maximum(total, 1)), side="right")
            state = np.where(
                dead, rng.integers(0, len(vocab), count), cols[np.minimum(pick, len(cols) - 1)]
            )
        lines = []
        for j in range(count):
            number = first + j
            text = " ".join(words_arr[chains[:, j]].tolist())
            if number in hosts:
                half = WORK_WORDS // 2
                head = " ".join(words_arr[chains[:half, j]].tolist())
                tail = " ".join(words_arr[chains[half:, j]].tolist())
                book = hosts[number]
                text = f"{head} . {book.read_text(encoding='utf-8')} . {tail}"
                plants[book.stem] = {"work": f"s{number:07d}"}
            lines.append(orjson.dumps({"id": f"s{number:07d}", "text": text}))
        (out / f"part{first // WORKS_PER_FILE:04d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    info = {
        "words": n_works * WORK_WORDS + book_words,
        "works": n_works,
        "plants": plants,
        "statistics": STATISTICS[books_only],
    }
    marker.write_text(json.dumps(info))
    return info
