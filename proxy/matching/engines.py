"""The one place that chooses the matching engine; everything else sees ``seam`` only.

Two engines: Aho-Corasick over word windows (``proxy.matching.aho``), compiled from a
rules folder, and the k-gram index (``proxy.matching.kgram``), a file built ahead by
``copyguard build-index`` and memory-mapped.  With an index, the rules folder (if any)
holds works added since: they form a segment searched beside it (the automaton engine),
and they and the ids listed in ``<index>.withdrawn`` are tombstoned in the base.
"""

from __future__ import annotations

from pathlib import Path

from proxy.matching.aho import cache as aho_cache
from proxy.matching.aho import fine as aho_fine
from proxy.matching.aho.index import MatchIndex
from proxy.matching.catalogue import Catalogue
from proxy.matching.kgram.engine import KgramMatcher
from proxy.matching.kgram.layered import Layered
from proxy.matching.kgram.layout import IndexFileError, open_index
from proxy.matching.seam import Matcher

Warn = aho_cache.Warn


def build_matcher(catalogue: Catalogue) -> Matcher:
    """Compile ``catalogue`` (pure CPU work, seconds for large ones: run it off the event loop)."""
    return MatchIndex.build(catalogue)


def load_matcher(
    catalogue: Catalogue | None,
    cache_dir: Path | None,
    warn: Warn | None = None,
    index: Path | None = None,
) -> tuple[Matcher, bool]:
    """The matcher for ``catalogue``, from ``cache_dir`` if there, else compiled (and saved).

    Returns whether it came from the cache.  Cache problems are never fatal: they go to
    ``warn(event, **fields)`` (a structlog logger's ``warning``), else to stdlib logging.
    With ``index``, the mapped index plus ``catalogue`` as a segment (see above); an index
    that cannot be used raises ``IndexFileError`` (an ``OSError``) with a one-line reason.
    """
    segment: Matcher | None = None
    cached = True
    if catalogue is not None:
        if warn is None:
            segment, cached = aho_cache.load_or_build(catalogue, cache_dir)
        else:
            segment, cached = aho_cache.load_or_build(catalogue, cache_dir, warn)
    if index is None:
        assert segment is not None, "neither rules nor an index"
        return segment, cached
    added = frozenset(w.id for w in catalogue.works) if catalogue is not None else frozenset()
    base = KgramMatcher(open_index(index), withdrawn_ids(index) | added)
    return (base if segment is None else Layered([base, segment])), cached


def withdrawn_ids(index: Path) -> frozenset[str]:
    """The work ids listed in ``<index>.withdrawn`` (one a line, ``#`` comments), if any."""
    path = index.with_name(index.name + ".withdrawn")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    except (OSError, UnicodeDecodeError) as e:
        raise IndexFileError(f"{path}: cannot read the withdrawn list ({e})") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(line for line in lines if line)


def cache_entry(catalogue: Catalogue, cache_dir: Path) -> Path:
    """Where ``cache_dir`` keeps (or would keep) the compiled ``catalogue``."""
    return cache_dir / aho_cache.cache_key(catalogue)


def short_runs(matcher: Matcher, min_run: int, build: bool = True) -> Matcher | None:
    """The same catalogue matched for runs of ``min_run`` words (budgets, context pieces).

    Memoised per matcher; with ``build=False`` only an already built one (else None), so a
    caller on the event loop can build it in a thread the first time.  None as well for an
    engine that has no short-run form.
    """
    if isinstance(matcher, KgramMatcher):
        return matcher.short_runs(min_run)  # None: the index has no windows for that length
    if isinstance(matcher, Layered):  # an index and the segment of works added since
        parts = [short_runs(p, min_run, build) for p in matcher.parts]
        if any(p is None for p in parts):
            return None
        return matcher.short_form(min_run, parts)
    if not isinstance(matcher, MatchIndex):
        return None  # an engine without one: no budgets or context checks (logged by callers)
    if build:
        return aho_fine.fine_index(matcher, min_run)
    return aho_fine.cached_fine_index(matcher, min_run)


def is_cached(catalogue: Catalogue, cache_dir: Path) -> bool:
    """Whether ``cache_dir`` already holds the compiled ``catalogue``."""
    return cache_entry(catalogue, cache_dir).is_dir()


__all__ = [
    "IndexFileError",
    "Warn",
    "build_matcher",
    "cache_entry",
    "is_cached",
    "load_matcher",
    "short_runs",
    "withdrawn_ids",
]
