"""``copyguard build-index``: compile a rules folder (or fold segments) into an index file.

Progress goes to stderr: a bar with rate and ETA on a terminal, else one line every few
seconds (for logs).  The file appears only when complete (``kgram.layout``): an
interrupted build leaves the previous index, if any, in place; rerun it to finish.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from proxy.matching.catalogue import Catalogue, Work
from proxy.matching.engines import withdrawn_ids
from proxy.matching.kgram.build import SHORT_RUN, build_index
from proxy.matching.kgram.merge import merge_index
from proxy.matching.kgram.tokens import Progress, tokenised_batches

_LOG_EVERY = 5.0


class ProgressReport:
    """``Progress`` for people (tqdm on a terminal) or logs (a line every few seconds)."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.phase = ""
        self.bar: Any = None
        self.started = self.last = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self.phase:
            self.close()
            self.phase, self.started, self.last = phase, now, now
            if self.tty:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=phase, file=self.stream, unit_scale=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif now - self.last >= _LOG_EVERY or done == total:
            self.last = now
            rate = done / max(now - self.started, 1e-9)
            eta = (total - done) / rate if rate else 0.0
            print(
                f"build_progress phase={phase!r} done={done} total={total} "
                f"rate={rate:.0f}/s eta={eta:.0f}s",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def build_from_rules(
    catalogue: Catalogue,
    out: Path,
    *,
    strict: bool = False,
    processes: int | None = None,
    progress: Progress | None = None,
    texts: Iterable[Work] | None = None,
    total: int = 0,
    short_run: int = SHORT_RUN,
) -> dict[str, Any]:
    """Index every work of ``catalogue`` (its allow-listed works left out) into ``out``.

    ``texts``: the works with their text, in the catalogue's order, when ``catalogue``
    holds them without (``load_rules(texts=False)``, then ``iter_works``: a rules folder
    read one file at a time); ``total``: about how many characters they hold.
    """
    report = progress or ProgressReport()
    allowed = catalogue.policy.allow_works
    kept = [w for w in catalogue.works if w.id not in allowed]
    if texts is None:
        texts, total = kept, sum(len(w.text) for w in kept)
    else:
        texts = (w for w in texts if w.id not in allowed)
    batches = tokenised_batches(texts, total, processes, report)
    works = [(w.id, w.display_title, w.collection) for w in kept]
    try:
        return build_index(
            batches,
            works,
            catalogue.policy,
            catalogue.content_hash,
            out,
            strict=strict,
            progress=report,
            background=catalogue.background,
            short_run=short_run,
        )
    finally:
        if isinstance(report, ProgressReport):
            report.close()


def merge(
    base_path: Path,
    delta: Catalogue | None,
    out: Path,
    *,
    processes: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A new base: ``base_path`` minus its withdrawn and replaced works, plus ``delta``'s."""
    report = progress or ProgressReport()
    try:
        gone = withdrawn_ids(base_path)
        return merge_index(base_path, delta, out, processes=processes, progress=report, gone=gone)
    finally:
        if isinstance(report, ProgressReport):
            report.close()
