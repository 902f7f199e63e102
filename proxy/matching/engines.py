"""The one place that chooses the matching engine; everything else sees ``seam`` only.

Today there is one engine, Aho-Corasick over word windows (``proxy.matching.aho``).  A
second engine (say for catalogues too large for one automaton) is chosen here, from the
catalogue or its policy, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

from proxy.matching.aho import cache as aho_cache
from proxy.matching.aho.index import MatchIndex
from proxy.matching.catalogue import Catalogue
from proxy.matching.seam import Matcher

Warn = aho_cache.Warn


def build_matcher(catalogue: Catalogue) -> Matcher:
    """Compile ``catalogue`` (pure CPU work, seconds for large ones: run it off the event loop)."""
    return MatchIndex.build(catalogue)


def load_matcher(
    catalogue: Catalogue, cache_dir: Path | None, warn: Warn | None = None
) -> tuple[Matcher, bool]:
    """The matcher for ``catalogue``, from ``cache_dir`` if there, else compiled (and saved).

    Returns whether it came from the cache.  Cache problems are never fatal: they go to
    ``warn(event, **fields)`` (a structlog logger's ``warning``), else to stdlib logging.
    """
    if warn is None:
        return aho_cache.load_or_build(catalogue, cache_dir)
    return aho_cache.load_or_build(catalogue, cache_dir, warn)


def is_cached(catalogue: Catalogue, cache_dir: Path) -> bool:
    """Whether ``cache_dir`` already holds the compiled ``catalogue``."""
    return (cache_dir / aho_cache.cache_key(catalogue)).is_dir()


__all__ = ["Warn", "build_matcher", "is_cached", "load_matcher"]
