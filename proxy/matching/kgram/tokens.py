"""Catalogue words at build speed: ``normalize.words`` with a stdlib-``re`` path for ASCII.

The ``regex`` engine splits about 0.15 M words a second; most catalogue text is ASCII,
where ``WORD_RE`` and ``fold`` reduce to the two patterns below (checked against them in
tests/matching/test_kgram_tokens.py).  A text is cut at line breaks where no word can
continue across (the next line starts with a character no contraction tail starts with),
and each ASCII piece takes the fast path; any other piece takes ``words``.
"""

from __future__ import annotations

import re

from proxy.matching.normalize import MAX_WORD_CHARS, words

_GAP = r"[\t\n\x0b\x0c\r ]"  # regex's \s in ASCII (stdlib's also has \x1c-\x1f)
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9]+(?:(?:['-][A-Za-z0-9]+"
    rf"|{_GAP}*'{_GAP}*(?i:s|m|d|ll|re|ve|t)(?![A-Za-z0-9])"
    rf"|{_GAP}+(?i:n)'(?i:t)(?![A-Za-z0-9]))[A-Za-z0-9]*)*"
)
_JOINERS = re.compile(rf"{_GAP}+|['-]")
# A line break followed by one of these cannot sit inside a word (nor before its tail).
_SAFE_BREAK = re.compile(r"\n(?=[A-MO-Za-mo-z0-9\"(*\[#_.,;:!?)\]{}<>/\\|@$%^&+=~`])")


def catalogue_words(text: str) -> list[str]:
    """The normal forms of every word of ``text``, as ``normalize.words`` gives them."""
    out: list[str] = []
    for piece in _SAFE_BREAK.split(text) if not text.isascii() else (text,):
        if not piece.isascii():
            out.extend(norm for norm, _, _ in words(piece))
            continue
        # lower first (ASCII: the same spans match), so most words need no work of their own
        out.extend(
            [
                raw if raw.isalnum() and len(raw) <= MAX_WORD_CHARS else _joined(raw)
                for raw in _ASCII_WORD.findall(piece.lower())
            ]
        )
    return out


def _joined(raw: str) -> str:
    return "" if len(raw) > MAX_WORD_CHARS else _JOINERS.sub("", raw)
