"""Words, as the matcher compares them: the same function for protected works and model output.

A word is a run of letters, digits and combining marks; everything else (spaces,
punctuation, markdown, line breaks) separates words and never blocks a match.
Default-ignorable code points (zero-width characters, soft hyphens, BOM) are
transparent: they neither separate nor count.  In scripts written without spaces
(Chinese, Japanese, Thai, ...) every character is a word.  A word's normal form is
NFKC, case-folded, with confusable homoglyphs folded to their Latin skeleton.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from importlib import resources

import regex

# Scripts written without spaces between words: each character is its own word.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tangut}\p{Yi}"
_WORD_CHAR = rf"[[\p{{L}}\p{{N}}\p{{M}}]--[{_UNSPACED}]]"
_CONT_CHAR = rf"[[\p{{L}}\p{{N}}\p{{M}}\p{{DI}}]--[{_UNSPACED}]]"
_APOSTROPHE = "['\u2019\u02bc\uff07]"
_HYPHEN = "[-\u2010\u2011]"
# Contractions, possessives and hyphenated compounds are one word however they are
# written, so that deleting punctuation does not hide a match: "don't", "dont" and the
# pre-tokenised "do n't" all become "dont"; "it's" and "it 's" become "its";
# "pasture-fields" becomes "pasturefields".  Dashes (en, em, "--") still separate.
_GAP = r"[\s\p{DI}]"
_JOINED_TAIL = (
    rf"(?:(?:{_APOSTROPHE}|{_HYPHEN}){_CONT_CHAR}+"
    rf"|{_GAP}*{_APOSTROPHE}{_GAP}*(?i:s|m|d|ll|re|ve|t)(?!{_CONT_CHAR})"
    rf"|{_GAP}+(?i:n){_APOSTROPHE}(?i:t)(?!{_CONT_CHAR}))"
)

#: One word of raw text.  Trailing ignorables belong to the word (they vanish later).
WORD_RE = regex.compile(
    rf"[{_UNSPACED}][\p{{M}}\p{{DI}}]*|{_WORD_CHAR}{_CONT_CHAR}*(?:{_JOINED_TAIL}{_CONT_CHAR}*)*",
    regex.V1,
)
#: Text that may still grow into a contraction tail of the word before it.
TAIL_RE = regex.compile(_JOINED_TAIL, regex.V1)
#: The rest of a word already under way (used to skip the tail of an over-long word).
CONTINUATION_RE = regex.compile(rf"{_CONT_CHAR}*", regex.V1)
_IGNORABLE_RE = regex.compile(r"\p{DI}+", regex.V1)
_JOINERS_RE = regex.compile(rf"{_GAP}+|{_APOSTROPHE}|{_HYPHEN}", regex.V1)

#: Longer runs of word characters are never a word of any protected work.
MAX_WORD_CHARS = 64


@functools.cache
def _skeletons() -> dict[str, str]:
    """Map each non-ASCII confusable of an ASCII letter or digit to that character.

    Data: Unicode's confusables.txt, as shipped by the confusable_homoglyphs package.
    Only folds *into* ASCII, so plain ASCII text is never changed by it.
    """
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    table: dict[str, str] = {}
    for char, entries in json.loads(raw).items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            target = entry["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[char] = target.lower()
                break
    return table


def fold(raw: str) -> list[str]:
    """The normal forms of one raw word (usually one; NFKC can split e.g. "½" into two)."""
    if raw.isascii() and raw.isalnum():
        return [raw.lower()]
    text = _JOINERS_RE.sub("", raw)
    text = unicodedata.normalize("NFKC", text).casefold()
    table = _skeletons()
    if any(c in table for c in text):
        text = "".join(table.get(c, c) for c in text)
    text = unicodedata.normalize("NFKC", text)
    return [
        m.group() if m.group().isascii() else _IGNORABLE_RE.sub("", m.group())
        for m in WORD_RE.finditer(text)
    ]


def words(text: str) -> list[tuple[str, int, int]]:
    """All words of a finished text as (normal form, start, end) with original offsets."""
    out: list[tuple[str, int, int]] = []
    for m in WORD_RE.finditer(text):
        start, end = m.span()
        if end - start > MAX_WORD_CHARS:
            out.append(("", start, end))  # unknown: it still breaks a run
            continue
        for norm in fold(m.group()):
            out.append((norm, start, end))
    return out
