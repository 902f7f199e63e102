"""Quality benchmark: how much of each form of reproduction copyguard catches, and at what cost.

    python -m bench.quality [--corpora ../shared/corpora] [--cases 30] [--json out.json]

Cases are cut from the gutenberg books (the protected catalogue, loaded as `copyguard
serve` would with its defaults), transformed by one family of ``families.py`` and set
between two sentences of clean text (the speeches, not in the catalogue).  For each
family and excerpt length (20, 40, 80 words) it reports: recall (a finding overlaps the
excerpt), precision (share of findings that overlap it), span accuracy (mean overlap /
union of the findings' characters with the excerpt's, over found cases) and the words held
back while the case streams in 1-8 character deltas (p50/p99 over deltas).  Controls
(paraphrase, translation) and negatives (clean passages, stock phrases, the licence
disclaimer) report how often anything is flagged.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.quality.families import CONTROLS, FAMILIES, NEEDS, Transform
from proxy.matching.engines import load_matcher
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher
from proxy.rules import load_rules
from proxy.settings import default_cache_dir
from tests.matching.corpus_text import detokenise

HERE = Path(__file__).resolve().parent
DEFAULT_CORPORA = HERE.parent.parent.parent / "shared" / "corpora"
LENGTHS = (20, 40, 80)
DISCLAIMER = (
    "The information on this website is provided as is, without warranties of any kind, "
    "express or implied, including but not limited to warranties of merchantability or "
    "fitness for a particular purpose."
)
STOCK = [
    "Thank you very much for your time and consideration, and please do not hesitate to "
    "contact me if you have any questions at all.",
    "Once upon a time, in a land far far away, there lived a king and a queen who had no "
    "children of their own.",
    "At the end of the day, what matters most is that we did the best we could with what "
    "we had at the time.",
    "All rights reserved. No part of this publication may be reproduced, stored in a "
    "retrieval system, or transmitted in any form or by any means.",
    "It was the best of times and the worst of times for all of the people in the town, "
    "and they knew it.",
    "Ladies and gentlemen, it is a great honour and a privilege to stand before you here "
    "today on this special occasion.",
    "Please read the terms and conditions carefully before you use this service, and keep "
    "a copy for your records.",
    "In the beginning there was nothing but the sea and the sky, and the wind that moved "
    "between them.",
    "I would like to take this opportunity to thank each and every one of you for being "
    "here with us tonight.",
    "On the one hand we have to think of the future, and on the other hand we must not "
    "forget the past.",
]


@dataclass
class Cell:
    cases: int = 0
    found: int = 0
    flagged: int = 0  # cases with any finding at all
    true_findings: int = 0
    findings: int = 0
    iou: list[float] = field(default_factory=list)
    held: list[int] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        held = sorted(self.held) or [0]
        return {
            "cases": self.cases,
            "flagged": self.flagged,
            "recall": round(self.found / self.cases, 3) if self.cases else None,
            "precision": round(self.true_findings / self.findings, 3) if self.findings else None,
            "span": round(sum(self.iou) / len(self.iou), 3) if self.iou else None,
            "held_p50": held[len(held) // 2],
            "held_p99": held[min(len(held) - 1, int(len(held) * 0.99))],
        }


def stream(index: Matcher, text: str, rng: random.Random) -> tuple[list[Finding], list[int]]:
    """Feed ``text`` in small deltas; the findings and the words held back after each delta."""
    session, found, held, i = index.session(), [], [], 0
    while i < len(text):
        step = rng.randint(1, 8)
        found += session.feed(text[i : i + step])
        i += step
        held.append(len(words(text[session.safe_until : i])))
    return found + session.flush(), held


def score(cell: Cell, found: list[Finding], held: list[int], lo: int, hi: int) -> None:
    cell.cases += 1
    cell.held += held
    cell.findings += len(found)
    cell.flagged += bool(found)
    hits = [f for f in found if f.start < hi and f.end > lo]
    cell.true_findings += len(hits)
    if hits:
        cell.found += 1
        covered: set[int] = set()
        for f in hits:
            covered.update(range(f.start, f.end))
        inside = sum(1 for c in covered if lo <= c < hi)
        cell.iou.append(inside / len(covered | set(range(lo, hi))))


class Corpus:
    def __init__(self, corpora: Path) -> None:
        self.books = {
            p.stem: p.read_text(encoding="utf-8").split()
            for p in sorted((corpora / "gutenberg").glob("*.txt"))
        }
        speeches = sorted((corpora / "speeches").rglob("*.txt"))
        self.clean = [w for p in speeches for w in p.read_text(encoding="utf-8").split()]

    def excerpt(self, rng: random.Random, n: int) -> str:
        book = self.books[rng.choice(sorted(self.books))]
        # The books' own text: skip the front matter and any licence at the end.
        at = rng.randrange(len(book) // 20, len(book) * 9 // 10)
        picked: list[str] = []
        while sum(1 for t in picked if any(c.isalnum() for c in t)) < n:
            picked.append(book[at])
            at += 1
        return detokenise(" ".join(picked))

    def sentence(self, rng: random.Random, n: int) -> str:
        at = rng.randrange(0, len(self.clean) - n)
        return detokenise(" ".join(self.clean[at : at + n]))


def run_family(
    index: Matcher, corpus: Corpus, name: str, fn: Transform, cases: int
) -> dict[int, Cell]:
    cells = {n: Cell() for n in LENGTHS}
    for n in LENGTHS:
        rng = random.Random(f"{name}/{n}")
        for _ in range(cases):
            raw = corpus.excerpt(rng, n)
            need = NEEDS.get(name)
            while need is not None and not need(raw):
                raw = corpus.excerpt(rng, n)
            before, after = corpus.sentence(rng, 15) + "\n\n", "\n\n" + corpus.sentence(rng, 15)
            body = fn(rng, raw)
            text = before + body + after
            found, held = stream(index, text, rng)
            score(cells[n], found, held, len(before), len(before) + len(body))
    return cells


def run_negatives(index: Matcher, corpus: Corpus, cases: int) -> dict[str, Cell]:
    out: dict[str, Cell] = {}
    rng = random.Random("clean")
    for n in LENGTHS:
        cell = out.setdefault(f"clean passages, {n} words", Cell())
        for _ in range(cases * 10):
            found, held = stream(index, corpus.sentence(rng, n), rng)
            score(cell, found, held, 0, 0)
    for label, texts in (("stock phrases", STOCK), ("licence disclaimer", [DISCLAIMER])):
        cell = out.setdefault(label, Cell())
        for text in texts:
            found, held = stream(index, text, rng)
            score(cell, found, held, 0, 0)
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| family | words | cases | recall | precision | span | held p50/p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for fam, cells in report["families"].items():
        for n, r in cells.items():
            lines.append(
                f"| {fam} | {n} | {r['cases']} | {r['recall']} | {r['precision']} | "
                f"{r['span']} | {r['held_p50']}/{r['held_p99']} |"
            )
    lines += ["", "| control or negative | texts | flagged | held p50/p99 |", "|---|---|---|---|"]
    for label, r in report["negatives"].items():
        lines.append(
            f"| {label} | {r['cases']} | {r['flagged']} | {r['held_p50']}/{r['held_p99']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--cases", type=int, default=30, help="cases per family and length")
    parser.add_argument("--only", action="append", help="run only these families")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    index, _ = load_matcher(load_rules(args.corpora / "gutenberg"), default_cache_dir())
    corpus = Corpus(args.corpora)
    report: dict[str, Any] = {"families": {}, "negatives": {}}
    for name, fn in {**FAMILIES, **CONTROLS}.items():
        if args.only and name not in args.only:
            continue
        cells = run_family(index, corpus, name, fn, args.cases)
        rows = {n: c.row() for n, c in cells.items()}
        if name in CONTROLS:
            for n, r in rows.items():
                report["negatives"][f"{name}, {n} words"] = r
        else:
            report["families"][name] = rows
        print(name, {n: r["recall"] for n, r in rows.items()}, file=sys.stderr, flush=True)
    if not args.only:
        for label, cell in run_negatives(index, corpus, args.cases).items():
            report["negatives"][label] = cell.row()
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
