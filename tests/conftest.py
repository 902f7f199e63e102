"""Shared fixtures: the real corpora and the catalogues built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.matching.engines import load_matcher
from proxy.matching.seam import Matcher
from proxy.rules import load_rules

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
GUTENBERG = CORPORA / "gutenberg"
SPEECHES = CORPORA / "speeches"
SAMPLE_RULES = REPO / "rules"


def need_corpora() -> None:
    if not GUTENBERG.is_dir():
        pytest.skip(f"public-domain corpora not found at {CORPORA}")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index-cache")


@pytest.fixture(scope="session")
def gutenberg_index(cache_dir: Path) -> Matcher:
    """The 17-book gutenberg catalogue at the default min_words (12)."""
    need_corpora()
    index, _ = load_matcher(load_rules(GUTENBERG), cache_dir)
    return index


@pytest.fixture(scope="session")
def sample_index() -> Matcher:
    """The sample catalogue shipped in rules/."""
    index, _ = load_matcher(load_rules(SAMPLE_RULES), None)
    return index
