"""Keep the compiled-rules cache bounded: the newest entries, within a count and a size.

Each rules version compiles to its own entry (about 73 MB for a 17-book catalogue), so
without pruning the cache only grows.  Entries are directories named by a hash; a load
touches its entry, so "newest" means most recently used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from proxy.matching.catalogue import Catalogue
from proxy.matching.engines import Warn, cache_entry, load_matcher
from proxy.matching.seam import Matcher
from proxy.settings import CACHE_KEEP_BYTES as KEEP_BYTES
from proxy.settings import CACHE_KEEP_ENTRIES as KEEP_ENTRIES

log = structlog.get_logger("copyguard.cache")

_ENTRY = re.compile(r"[0-9a-f]{32}")
_STALE_TMP_SECONDS = 3600.0  # a writer's temporary directory older than this was abandoned


@dataclass(frozen=True)
class Entry:
    path: Path
    used: float
    size: int


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def entries(cache_dir: Path) -> list[Entry]:
    """The cache's entries, most recently used first."""
    if not cache_dir.is_dir():
        return []
    found = [
        Entry(p, p.stat().st_mtime, _size(p))
        for p in cache_dir.iterdir()
        if p.is_dir() and _ENTRY.fullmatch(p.name)
    ]
    return sorted(found, key=lambda e: e.used, reverse=True)


def touch(entry: Path) -> None:
    """Mark an entry as used now (its directory's mtime orders the pruning)."""
    with contextlib.suppress(OSError):  # a read-only cache still works; it ages by build time
        os.utime(entry)


def prune(
    cache_dir: Path,
    keep: int = KEEP_ENTRIES,
    max_bytes: int = KEEP_BYTES,
    spare: Path | None = None,
) -> list[Entry]:
    """Remove entries beyond the newest ``keep`` or ``max_bytes``; ``spare`` is never removed.

    Returns what was removed.  Abandoned temporary directories go too.
    """
    removed: list[Entry] = []
    kept_bytes = kept = 0
    for entry in entries(cache_dir):
        if entry.path == spare or (kept < keep and kept_bytes + entry.size <= max_bytes):
            kept += 1
            kept_bytes += entry.size
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry)
    now = time.time()
    for tmp in cache_dir.glob(".tmp-*") if cache_dir.is_dir() else ():
        if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
            shutil.rmtree(tmp, ignore_errors=True)
    if removed:
        log.info(
            "cache_pruned",
            removed=len(removed),
            freed_bytes=sum(e.size for e in removed),
            kept=kept,
        )
    return removed


def load_and_prune(
    catalogue: Catalogue | None, cache_dir: Path | None, warn: Warn, index: Path | None = None
) -> tuple[Matcher, bool]:
    """``load_matcher``, then mark its entry used and prune the others (never fatal)."""
    matcher, cached = load_matcher(catalogue, cache_dir, warn, index)
    if cache_dir is not None and catalogue is not None:
        entry = cache_entry(catalogue, cache_dir)
        touch(entry)
        try:
            prune(cache_dir, spare=entry)
        except OSError as e:  # pruning is housekeeping: serving goes on without it
            warn("cache_prune_failed", path=str(cache_dir), error=repr(e))
    return matcher, cached


def prune_command(cache_dir: Path, keep: int, max_bytes: int, out: IO[str]) -> int:
    """``copyguard cache prune``: remove, then say what was removed and what is left."""
    if keep < 0 or max_bytes < 0:
        out.write("copyguard cache prune: --keep and --max-bytes must not be negative\n")
        return 2
    removed = prune(cache_dir, keep, max_bytes)
    for entry in removed:
        out.write(f"removed {entry.path} ({entry.size} bytes)\n")
    left = entries(cache_dir)
    out.write(
        f"{cache_dir}: {len(left)} entries, {sum(e.size for e in left)} bytes kept; "
        f"{len(removed)} removed\n"
    )
    return 0
