"""Words, as the matcher compares them: the same function for protected works and model output.

First the character pass (``proxy.matching.clean``: markup, entities, overrides, line
numbers, spaced letters, end-of-line hyphens).  Then a word is a run of letters, digits and
combining marks; everything else (spaces, punctuation, markdown, line breaks) separates
words and never blocks a match.  Default-ignorable code points (zero-width characters, soft
hyphens, BOM) are transparent: they neither separate nor count.  In scripts written without
spaces (Chinese, Japanese, Thai, ...) every character is a word.  A word's normal form
(``fold``) is NFKC with confusable homoglyphs folded to their Latin skeleton (capitals
included), case-folded, accents on Latin letters removed ("café" is "cafe"), British and
archaic spellings in their American form, and numbers in words ("21" is "twenty one").
camelCase and PascalCase words and compounds of three or more hyphenated parts are
several words.
"""

from __future__ import annotations

import bisect
import functools
import json
import unicodedata
from importlib import resources

import regex

from proxy.matching.clean import clean
from proxy.matching.spelling import number_words, respell

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


_HYPHEN_SPLIT_RE = regex.compile(_HYPHEN, regex.V1)
# camelCase and PascalCase: a word with a capital after a small letter splits before
# every capital ("forALovelyAnd" is "for a lovely and").  Random capitals ("WhaLe") split
# too; the matcher reads such a word whole when the whole is a known word.
_CAMEL_RE = regex.compile(r"\p{Ll}\p{M}*\p{Lu}")
_CAMEL_PART_RE = regex.compile(r"\p{Lu}[^\p{Lu}]*|[^\p{Lu}]+")
_LATIN_MARKS_RE = regex.compile(r"(\p{Latin})\p{Mn}+")
_ORDINAL_RE = regex.compile(r"([0-9]{1,9})(?:st|nd|rd|th)")
# Latin letters with a stroke or bar do not decompose: folded like accents.
_BARRED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ȷ": "j"})


def _is_camel(raw: str) -> bool:
    return _CAMEL_RE.search(raw) is not None


def fold(raw: str) -> list[str]:
    """The normal forms of one raw word (usually one; "½", "21" or "theQuick" give several)."""
    if raw.isascii() and raw.isalpha() and (raw.islower() or raw.isupper() or raw[1:].islower()):
        return [respell(raw.lower())]
    return list(_fold(raw))


@functools.lru_cache(maxsize=65536)
def _fold(raw: str) -> tuple[str, ...]:
    parts = _HYPHEN_SPLIT_RE.split(raw)
    # Compounds join ("pasture-fields" is "pasturefields", as if the hyphen were dropped),
    # but a whole kebab-case line is not one word, nor a number written "twenty-one".
    if len(parts) < 3 and not (len(parts) == 2 and all(number_words(p.lower()) for p in parts)):
        parts = [raw]
    out: list[str] = []
    for part in parts:
        pieces = _CAMEL_PART_RE.findall(part) if _is_camel(part) else [part]
        for piece in pieces:
            out += _fold_piece(piece)
    return tuple(out)


def _fold_piece(raw: str) -> list[str]:
    text = _JOINERS_RE.sub("", raw)
    text = unicodedata.normalize("NFKC", text)
    table = _skeletons()
    # Confusables fold before case: capital look-alikes ("ТHE" in Cyrillic) too.
    if any(c in table for c in text):
        text = "".join(_skeleton(c, table) for c in text)
    text = text.casefold()
    if any(c in table for c in text):
        text = "".join(table.get(c, c) for c in text)
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _LATIN_MARKS_RE.sub(r"\1", unicodedata.normalize("NFD", text)).translate(_BARRED)
        text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    for m in WORD_RE.finditer(text):
        word = m.group() if m.group().isascii() else _IGNORABLE_RE.sub("", m.group())
        if word.isdigit() and word.isascii():
            out += number_words(word) or [word]
            continue
        ordinal = _ORDINAL_RE.fullmatch(word)
        if ordinal:
            out += number_words(ordinal.group(1), ordinal=True) or [word]
            continue
        out.append(respell(word))
    return out


def _skeleton(c: str, table: dict[str, str]) -> str:
    target = table.get(c, c)
    # confusables.txt folds I-like capitals to "l"; as capitals they read as "I".
    return "i" if target == "l" and c.isupper() else target


def words(text: str) -> list[tuple[str, int, int]]:
    """All words of a finished text as (normal form, start, end) with original offsets."""
    cleaned, pieces = clean(text)
    spans = SpanMap()
    for piece in pieces:
        spans.add(*piece)
    out: list[tuple[str, int, int]] = []
    for m in WORD_RE.finditer(cleaned):
        start, end = spans.lo(m.start()), spans.hi(m.end() - 1)
        if m.end() - m.start() > MAX_WORD_CHARS:
            out.append(("", start, end))  # unknown: it still breaks a run
            continue
        for norm in fold(m.group()):
            out.append((norm, start, end))
    return out


class SpanMap:
    """Where each character of cleaned text came from in the raw text (bounded by ``trim``)."""

    __slots__ = ("_clean", "_hi", "_ident", "_lo", "size")

    def __init__(self) -> None:
        self._clean: list[int] = []  # cleaned offset where each piece starts
        self._lo: list[int] = []
        self._hi: list[int] = []
        self._ident: list[bool] = []
        self.size = 0  # cleaned characters so far

    def __len__(self) -> int:
        return len(self._clean)

    def add(self, text: str, lo: int, hi: int, ident: bool) -> None:
        if not text:
            return
        if ident and self._ident and self._ident[-1] and self._hi[-1] == lo:
            self._hi[-1] = hi  # continues the last piece one to one
        else:
            self._clean.append(self.size)
            self._lo.append(lo)
            self._hi.append(hi)
            self._ident.append(ident)
        self.size += len(text)

    def _find(self, at: int) -> int:
        last = len(self._clean) - 1
        if at >= self._clean[last]:  # the usual case: a word in the newest piece
            return last
        return bisect.bisect_right(self._clean, at) - 1

    def lo(self, at: int) -> int:
        """Raw start of cleaned character ``at``."""
        i = self._find(at)
        return self._lo[i] + (at - self._clean[i]) if self._ident[i] else self._lo[i]

    def hi(self, at: int) -> int:
        """Raw end of cleaned character ``at``."""
        i = self._find(at)
        return self._lo[i] + (at - self._clean[i]) + 1 if self._ident[i] else self._hi[i]

    def trim(self, before: int) -> None:
        """Forget pieces that end before cleaned offset ``before``."""
        drop = 0
        while drop + 1 < len(self._clean) and self._clean[drop + 1] <= before:
            drop += 1
        if drop:
            del self._clean[:drop], self._lo[:drop], self._hi[:drop], self._ident[:drop]
