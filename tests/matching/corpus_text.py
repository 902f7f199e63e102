"""Helpers to cut natural-looking excerpts out of the pre-tokenised corpora."""

from __future__ import annotations

import re
from pathlib import Path

_SPACE_BEFORE = re.compile(r" ([,.;:!?)]|n't\b|'(?:s|m|d|ll|re|ve)\b)")
_SPACE_INSIDE = re.compile(r"\b(\w)' (m|ll|ve|re|d|s)\b")
_SPACE_AFTER = re.compile(r"([(`]) ")


def detokenise(text: str) -> str:
    """Undo the corpus's punctuation spacing so excerpts read like model output."""
    text = text.replace("``", '"').replace("''", '"')
    text = _SPACE_INSIDE.sub(r"\1'\2", text)
    return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", text))


def excerpt(path: Path, first_word: int, count: int) -> str:
    """``count`` whitespace-separated tokens of ``path`` from ``first_word`` on, detokenised."""
    tokens = path.read_text(encoding="utf-8").split()
    picked: list[str] = []
    i = first_word
    while sum(1 for t in picked if any(c.isalnum() for c in t)) < count:
        picked.append(tokens[i])
        i += 1
    return detokenise(" ".join(picked))
