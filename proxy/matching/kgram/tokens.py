"""Catalogue words at build speed: ``normalize.words`` without offsets, ``re`` for ASCII.

The ``regex`` engine splits a few hundred thousand words a second; on ASCII text
``WORD_RE`` is the stdlib pattern below (checked against ``words`` in
tests/kgram/test_tokens.py).  The cleaned text is cut at line breaks where no word can
continue across (the next line starts with a character no contraction tail starts with);
ASCII pieces take the fast pattern (or ``str.split`` when no apostrophe or hyphen can
join words), others ``WORD_RE``; every distinct word is folded once (``fold``) and the
text's words expanded from that table.
"""

from __future__ import annotations

import re
from itertools import chain

from proxy.matching.clean import clean
from proxy.matching.normalize import MAX_WORD_CHARS, WORD_RE, fold

_GAP = r"[\t\n\x0b\x0c\r ]"  # regex's \s in ASCII (stdlib's also has \x1c-\x1f)
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9]+(?:(?:['-][A-Za-z0-9]+"
    rf"|{_GAP}*'{_GAP}*(?i:s|m|d|ll|re|ve|t)(?![A-Za-z0-9])"
    rf"|{_GAP}+(?i:n)'(?i:t)(?![A-Za-z0-9]))[A-Za-z0-9]*)*"
)
# A line break followed by one of these cannot sit inside a word (nor before its tail).
_SAFE_BREAK = re.compile(r"\n(?=[A-MO-Za-mo-z0-9\"(*\[#_.,;:!?)\]{}<>/\\|@$%^&+=~`])")


_NON_ALNUM = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def _ascii_words(piece: str) -> list[str]:
    if "'" in piece or "-" in piece:
        return _ASCII_WORD.findall(piece)
    # No tail can join anything: words are the runs of letters and digits (C-speed split).
    return piece.translate(_NON_ALNUM).split()


def raw_words(text: str) -> list[str]:
    """The raw words of ``text`` after the character pass, as ``normalize.words`` splits it."""
    cleaned, _ = clean(text)
    if cleaned.isascii() and "'" not in cleaned and "-" not in cleaned:
        return cleaned.translate(_NON_ALNUM).split()
    out: list[str] = []
    for piece in _SAFE_BREAK.split(cleaned):
        out += _ascii_words(piece) if piece.isascii() else WORD_RE.findall(piece)
    return out


def forms(raw: str) -> tuple[str, ...]:
    """The normal forms of one raw word; ``("",)`` (unknown) for an overlong one."""
    return ("",) if len(raw) > MAX_WORD_CHARS else tuple(fold(raw))


def catalogue_words(text: str, table: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """The normal forms of every word of ``text``, as ``normalize.words`` gives them.

    ``table``: raw words already folded (filled in here), shared by the texts of a batch.
    """
    raws = raw_words(text)
    # A book has a few thousand distinct words: fold each once, then expand in C.
    table = {} if table is None else table
    table.update((raw, forms(raw)) for raw in set(raws).difference(table))
    return list(chain.from_iterable(map(table.__getitem__, raws)))
