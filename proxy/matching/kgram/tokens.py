"""Catalogue words at build speed: ``normalize.words`` without offsets, ``re`` for ASCII.

The ``regex`` engine splits a few hundred thousand words a second; on ASCII text
``WORD_RE`` is the stdlib pattern below (checked against ``words`` in
tests/kgram/test_tokens.py).  The cleaned text is cut at line breaks where no word can
continue across (the next line starts with a character no contraction tail starts with);
ASCII pieces take the fast pattern, others ``WORD_RE``; every word is folded as usual.
"""

from __future__ import annotations

import re

from proxy.matching.clean import clean
from proxy.matching.normalize import MAX_WORD_CHARS, WORD_RE, fold
from proxy.matching.spelling import respell

_GAP = r"[\t\n\x0b\x0c\r ]"  # regex's \s in ASCII (stdlib's also has \x1c-\x1f)
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9]+(?:(?:['-][A-Za-z0-9]+"
    rf"|{_GAP}*'{_GAP}*(?i:s|m|d|ll|re|ve|t)(?![A-Za-z0-9])"
    rf"|{_GAP}+(?i:n)'(?i:t)(?![A-Za-z0-9]))[A-Za-z0-9]*)*"
)
# A line break followed by one of these cannot sit inside a word (nor before its tail).
_SAFE_BREAK = re.compile(r"\n(?=[A-MO-Za-mo-z0-9\"(*\[#_.,;:!?)\]{}<>/\\|@$%^&+=~`])")


def catalogue_words(text: str) -> list[str]:
    """The normal forms of every word of ``text``, as ``normalize.words`` gives them."""
    cleaned, _ = clean(text)
    out: list[str] = []
    for piece in _SAFE_BREAK.split(cleaned) if not cleaned.isascii() else (cleaned,):
        for raw in _ASCII_WORD.findall(piece) if piece.isascii() else WORD_RE.findall(piece):
            if len(raw) > MAX_WORD_CHARS:
                out.append("")
            elif raw.islower() and raw.isalpha() and raw.isascii():
                out.append(respell(raw))  # what ``fold`` does first, without the call
            else:
                out.extend(fold(raw))
    return out
