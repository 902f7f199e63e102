"""``copyguard scan --format text``: findings people can read, a summary, a progress bar."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich import progress as rich_progress
from rich.console import Console
from rich.table import Table
from rich.text import Text

BIG_INPUT = 1 << 20  # a progress bar is worth showing from about a mebibyte of input
EXCERPT_CHARS = 72


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, its middle cut (`` … ``) when longer than ``limit``."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    half = (limit - 3) // 2
    head, tail = flat[:half], flat[-half:]
    # Cut at word boundaries: a reader should not mistake a word's tail for a word.
    head = head.rsplit(" ", 1)[0] if " " in head else head
    tail = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{head} … {tail}"


class Progress:
    """A byte-counting progress bar on stderr, shown only when it helps (a context manager)."""

    def __init__(self, names: list[str], wanted: bool | None) -> None:
        files = [Path(n) for n in names if n != "-"]
        total = sum(f.stat().st_size for f in files) if len(files) == len(names) else None
        if wanted is None:
            wanted = sys.stderr.isatty() and total is not None and total >= BIG_INPUT
        self._bar: rich_progress.Progress | None = None
        if wanted:
            self._bar = rich_progress.Progress(
                rich_progress.TextColumn("scanning"),
                rich_progress.BarColumn(),
                rich_progress.DownloadColumn(),
                rich_progress.TimeRemainingColumn(),
                console=Console(file=sys.stderr),
            )
            self._task = self._bar.add_task("scan", total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)


class TextReport:
    """Per input its findings (work, title, offsets, the matched excerpt), then a summary."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.inputs = self.flagged = self.errors = 0
        self.by_work: Counter[tuple[str, str, str]] = Counter()
        self.words: Counter[tuple[str, str, str]] = Counter()

    def error(self, ident: Any, message: str) -> None:
        self.errors += 1
        self.out.write(f"error: {message}\n")

    def input(self, ident: Any, text: str, findings: list[dict[str, Any]]) -> None:
        self.inputs += 1
        if not findings:
            return
        self.flagged += 1
        n = len(findings)
        self.out.write(f"{ident}: {n} finding{'s' if n > 1 else ''}\n")
        for f in findings:
            collection = f["collection"] or "no collection"
            self.out.write(
                f"  {f['work']} “{f['title']}” ({collection}, {f['action']}): "
                f"characters {f['start']}-{f['end']}, {f['words']} words "
                f"(words {f['source_start']}-{f['source_end']} of the work)\n"
                f"    “{excerpt(text[f['start'] : f['end']])}”\n"
            )
            key = (f["work"], f["title"], f["collection"] or "-")
            self.by_work[key] += 1
            self.words[key] += f["words"]

    def summary(self) -> None:
        found = sum(self.by_work.values())
        line = (
            f"\n{self.inputs} input{'s' if self.inputs != 1 else ''} scanned, "
            f"{self.flagged} with findings, {found} finding{'s' if found != 1 else ''}"
        )
        if self.errors:
            line += f", {self.errors} unreadable"
        self.out.write(line + "\n")
        if not found:
            return
        table = Table("work", "title", "collection", "findings", "words", title="findings by work")
        for key, count in self.by_work.most_common():
            table.add_row(*map(Text, key), str(count), str(self.words[key]))  # no markup
        per_collection = Counter[str]()
        for (_, _, coll), count in self.by_work.items():
            per_collection[coll] += count
        by_coll = Table("collection", "findings", title="findings by collection")
        for coll, count in per_collection.most_common():
            by_coll.add_row(Text(coll), str(count))
        console = Console(file=self.out, highlight=False, soft_wrap=False, width=100)
        console.print(table)
        console.print(by_coll)
