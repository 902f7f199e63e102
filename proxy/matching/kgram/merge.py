"""Fold segments into a new base index (``copyguard build-index --merge``).

The base's works are re-read from its ``source`` (no rules text is needed for them), the
delta's are tokenised as in a build, and the windows' boilerplate counts carry over.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from proxy.matching.catalogue import Catalogue
from proxy.matching.kgram.build import SHORT_RUN, build_index
from proxy.matching.kgram.engine import Seeds, policy_from_json, work_words
from proxy.matching.kgram.layout import open_index
from proxy.matching.kgram.tokens import Batch, Progress, tokenised_batches


def merge_index(
    base_path: Path,
    delta: Catalogue | None,
    out: Path,
    *,
    processes: int | None = None,
    progress: Progress,
    gone: frozenset[str],
) -> dict[str, Any]:
    """A new base: ``base_path`` minus the ``gone`` (withdrawn) works and those ``delta``
    replaces, plus ``delta``'s; its windows' boilerplate counts carry over."""
    base = Seeds(open_index(base_path))
    added = [w for w in delta.works if w.id not in delta.policy.allow_works] if delta else []
    replaced = gone | {w.id for w in added}
    keep = [i for i, w in enumerate(base.works) if w.id not in replaced]
    vocab = [""] + _vocab_words(base)

    def batches() -> Iterator[Batch]:
        for first in range(0, len(keep), 4096):
            chunk = keep[first : first + 4096]
            ids = [np.frombuffer(work_words(base, i), dtype=np.uint32) for i in chunk]
            lens = np.array([len(x) for x in ids], dtype=np.int64)
            yield vocab, np.concatenate(ids) if ids else np.zeros(0, np.uint32), lens
        yield from tokenised_batches(added, sum(len(w.text) for w in added), processes, progress)

    policy = policy_from_json(base.meta["policy"])
    if delta is not None:
        merged = {**policy.collections, **delta.policy.collections}
        phrases = policy.allow_phrases + delta.policy.allow_phrases
        policy = dataclasses.replace(policy, collections=merged, allow_phrases=phrases)
    works = [(base.works[i].id, base.works[i].title, base.works[i].collection) for i in keep]
    works += [(w.id, w.display_title, w.collection) for w in added]
    parts = [base.meta["content_hash"], delta.content_hash if delta else "", *sorted(gone)]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    seen = np.frombuffer(base.file.view("bp_seen"), dtype=np.uint64)
    return build_index(
        batches(),
        works,
        policy,
        digest,
        out,
        strict=base.meta["strict"],
        progress=progress,
        seen=seen,
        short_run=_short_run(base.meta),
    )


def _short_run(meta: dict[str, Any]) -> int:
    """The base's short run (an index from before short runs: the default)."""
    short = meta.get("short", {"min_run": SHORT_RUN})
    return int(short["min_run"]) if short else 0


def _vocab_words(seeds: Seeds) -> list[str]:
    off, blob = seeds.file.view("vocab_off"), bytes(seeds.file.view("vocab_blob"))
    return [blob[off[i] : off[i + 1]].decode() for i in range(1, len(off) - 1)]
