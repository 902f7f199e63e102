"""The character pass of normalisation: markup and layout that hide words, undone before splitting.

Runs before words are split, on protected works and model output alike:

- HTML/XML tags are removed (inline tags such as ``<b>`` join what they separate, block
  tags such as ``<p>`` or ``<br>`` separate) and entities are unescaped (``se&#110;d``);
- text inside a right-to-left override (U+202E ... U+202C) is read in display order;
- an end-of-line hyphen or soft hyphen between letters joins the two halves (``prefer-\\nred``);
- a number at the start of a line, or alone in a table cell, is no word (verse and row numbers);
- single letters spaced or dotted out (``t h e``, ``b.e.e.n``) are joined into one word;
- small capitals, circled, parenthesised and squared letters and regional indicators become
  plain letters, apostrophe look-alikes (´ ` ′ ʹ ˈ ‘) become ``'``.

Every output character keeps the original span it came from.  ``Cleaner`` does this
incrementally: it releases only text whose form cannot change whatever follows, so feeding a
text in any pieces gives exactly the output of feeding it whole.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterator

import regex

#: A piece of output: (text, raw start, raw end, identity).  For an identity piece each
#: character maps one to one onto raw text from ``raw start``; otherwise every character
#: of ``text`` (possibly none) stands for the whole raw span.
Piece = tuple[str, int, int, bool]

_INLINE_TAGS = frozenset(
    ["a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i"]
    + ["ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub"]
    + ["sup", "tt", "u", "var", "wbr"]
)
_RULES = regex.compile(
    r"""
    (?P<tag><(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9:-]{0,20})(?:[\s/][^<>]{0,256})?>
        |<!--[^<>]{0,256}?-->)
    |(?P<ent>&(?:\#[0-9]{1,7}|\#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)
    |(?P<rlo>\u202e(?P<body>[^\u202a-\u202e\u2066-\u2069\n]{0,512})[\u202c\u2069]?)
    |(?P<eol>(?<=\p{L}\p{M}*)[-\u00ad\u2010][\ \t]*\r?\n[\ \t]*(?=\p{L}))
    |(?P<line>(?<=\n)[\ \t]*[\[(]?[0-9]{1,6}[.:)\]]?(?=[\ \t|]|\r?\n))
    |(?P<cell>\|[\ \t]*[0-9]{1,6}(?=[\ \t]*\|))
    |(?P<letters>(?<![\p{L}\p{N}\p{M}'.]\p{DI}*)
        (?:\p{L}[\p{M}\p{DI}]*(?:\ \p{L}[\p{M}\p{DI}]*(?!\.\p{L})){1,63}
        |\p{L}[\p{M}\p{DI}]*(?P<sep>\.\ |\.)\p{L}[\p{M}\p{DI}]*(?:(?P=sep)\p{L}[\p{M}\p{DI}]*){0,62}
            (?(?=\.[^\p{L}\p{N}]|\.$)\.))
        (?!\p{DI}*[\p{L}\p{N}\p{M}]))
    """,
    regex.V0 | regex.VERBOSE,
)
#: A match ending this close to the end of what is known may still change with more text.
_LOOKAHEAD = 3
#: Raw text kept before the unsettled part, for the rules' look-behinds.
_CONTEXT = 8
# Cheap test that no rule's match can start in a piece: every match contains or directly
# follows one of these characters, or begins with a single letter standing alone.
_SCREEN = re.compile(r"[<&\u202e\u00ad\u2010|\n-]|(?<![^\W_])[^\W\d_](?![^\W_])")
# ``re`` reads letters from Python's Unicode tables (14.0 in 3.11), the rules (``regex``)
# from newer ones: a letter only the rules know, standing alone, must not slip past.
_NEW_LETTER = regex.compile(r"(?<![\p{L}\p{N}])\p{L}(?![\p{L}\p{N}])")
_LETTER = regex.compile(r"\p{L}")


@functools.cache
def letter_table() -> dict[int, str]:
    """One-to-one character folds: styled letters to plain ones, apostrophe look-alikes to '."""
    table = {ord(c): "'" for c in "\u00b4`\u2032\u02b9\u02c8\u2018\u201b\u02bb\u02bd\u02ca"}
    styled = re.compile(
        r"(?:LATIN LETTER SMALL CAPITAL|(?:NEGATIVE )?(?:CIRCLED|SQUARED) LATIN (?:CAPITAL|SMALL)"
        r" LETTER|PARENTHESIZED LATIN SMALL LETTER|REGIONAL INDICATOR SYMBOL LETTER) ([A-Z])"
    )
    blocks = [(0x0250, 0x02B0), (0x1D00, 0x1D80), (0x2460, 0x2500), (0xA730, 0xA800)]
    blocks.append((0x1F100, 0x1F200))
    for lo, hi in blocks:
        for cp in range(lo, hi):
            m = styled.fullmatch(unicodedata.name(chr(cp), ""))
            if m:
                table[cp] = m.group(1).lower()
    return table


def _replacement(m: regex.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "tag":
        name = (m.group("name") or "").lower()
        return "" if name in _INLINE_TAGS or not name else " "
    if kind == "ent":
        text = html.unescape(m.group())
        return text.translate(letter_table())
    if kind == "rlo":
        return m.group("body")[::-1]
    if kind == "cell":
        return "|"
    if kind == "letters":
        return "".join(c for c in m.group() if c not in ". ")  # ignorables vanish later
    return ""  # eol, line


class Cleaner:
    """The character pass, fed incrementally; ``held`` is where unsettled raw text begins."""

    __slots__ = ("_at", "_buf", "_ctx")

    def __init__(self) -> None:
        self._buf = ""  # raw text (letters folded) not yet released
        self._at = 0  # raw offset of _buf[0]
        self._ctx = "\n\n"  # text just before _buf: a stream starts at the start of a line

    @property
    def held(self) -> int:
        """Raw offset from which text is not released yet."""
        return self._at

    @property
    def lone_letter(self) -> int:
        """Length of what is held when that is only a letter standing alone, maybe with one
        space or dot after it (which may yet start a spaced-out run); else 0."""
        buf = self._buf
        if 0 < len(buf) <= 2 and buf[0].isalpha() and buf[1:] in ("", " ", "."):
            return len(buf)
        return 0

    @property
    def next_char(self) -> str:
        """The first character not released yet ("" if none): what surely comes next."""
        return self._buf[:1]

    def _release(self, buf: str, upto: int) -> list[Piece]:
        """Release ``buf[:upto]`` unchanged and hold the rest."""
        at = self._at
        self._at += upto
        self._ctx = (self._ctx + buf[:upto])[-_CONTEXT:]
        self._buf = buf[upto:]
        return [(buf[:upto], at, at + upto, True)] if upto else []

    def feed(self, raw: str, final: bool = False) -> list[Piece]:
        """Take raw text; return the pieces of output that can no longer change."""
        if not raw.isascii() or "`" in raw:
            raw = raw.translate(letter_table())
        buf = self._buf + raw
        if buf and not final:
            # Only the last character before the text can take part in a match starting in
            # it (a line break before a line number; the look-behind of a spaced letter).
            probe = self._ctx[-2:] + buf
            hit = _SCREEN.search(probe, 1)
            first = hit.start() if hit is not None else len(probe)
            if not probe.isascii():  # letters newer than Python's own tables, if earlier
                new = _NEW_LETTER.search(probe, 1, first)
                first = new.start() if new is not None else first
            if first == len(probe):
                return self._release(buf, len(buf))
            if first == len(probe) - 1 and buf[-1].isalpha():
                # Only a letter that may start a spaced-out run, at the very end: hold it.
                return self._release(buf, len(buf) - 1)
        text = self._ctx + buf
        skip = len(self._ctx)
        out: list[Piece] = []
        done = skip  # output produced up to here
        limit = len(text) if final else _unsettled(text, skip)  # nothing settled past it
        for m in rule_matches(text, skip):
            s, e = m.span()
            if not final and (s >= limit or e + _LOOKAHEAD > len(text)):
                limit = min(limit, s)  # may still grow or change with more text
                break
            if s > done:
                out.append((text[done:s], self._at + done - skip, self._at + s - skip, True))
            out.append((_replacement(m), self._at + s - skip, self._at + e - skip, False))
            done = e
            if e > limit:  # what looked unfinished lay inside this match
                limit = _unsettled(text, e)
        if limit > done:
            out.append((text[done:limit], self._at + done - skip, self._at + limit - skip, True))
            done = limit
        released = done - skip
        self._ctx = text[max(0, done - _CONTEXT) : done]
        self._buf = buf[released:]
        self._at += released
        return out


# Where a rule's match may begin: at a hit of these, or one character after it.  Each
# branch is a necessary condition of one rule (``_RULES``), cheap to scan for: a tag,
# entity, override or cell opens with its character, an end-of-line hyphen comes before a
# line break, a line number after one, and a spaced-out run is a letter after a character
# that is no letter, digit, mark, "'" or ".", then a space or dot and another letter.
# On ASCII text the stdlib pattern is exact (no marks or ignorables there) and faster.
_STARTS_ASCII = re.compile(
    r"[<&|]|-(?=[ \t]*\r?\n)|\n(?=[ \t]*[\[(]?[0-9])"
    r"|[^A-Za-z0-9'.](?=[A-Za-z](?:\. ?| )[A-Za-z](?![A-Za-z0-9]))"
)
_STARTS = regex.compile(
    r"[<&\u202e|]|[-\u00ad\u2010](?=[\ \t]*\r?\n)|\n(?=[\ \t]*[\[(]?[0-9])"
    r"|[^\p{L}\p{N}\p{M}'.](?=\p{L}[\p{M}\p{DI}]*(?:\.\ ?|\ )\p{L})",
    regex.V0,
)


def rule_matches(text: str, pos: int) -> Iterator[regex.Match[str]]:
    """What ``_RULES.finditer(text, pos=pos)`` gives, far faster on long texts.

    ``finditer`` tries the rules at every position of a whole book; they are tried only
    where one may begin (``_STARTS``), in order, and at ``pos`` itself (nothing before it
    to hit on, at the start of a text).
    """
    screen = _STARTS_ASCII if text.isascii() else _STARTS
    tried = pos  # every position before this was tried or lies inside a match
    for start in _candidates(screen, text, pos):
        if start < tried or start >= len(text):
            continue
        m = _RULES.match(text, start)
        if m is not None:
            yield m
            tried = m.end()
        else:
            tried = start + 1


def _candidates(screen: re.Pattern[str] | regex.Pattern[str], text: str, pos: int) -> Iterator[int]:
    yield pos
    for hit in screen.finditer(text, max(0, pos - 1)):
        yield hit.start()
        yield hit.start() + 1


# How far back from the end a match that is still unfinished can begin, per rule.
_REACH = {"<": 300, "&": 42, "\u202e": 520, "-": 24, "\u00ad": 24, "\u2010": 24, "\n": 14}
_RUN_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf"})  # marks and format characters
_LONE_LETTER_RE = regex.compile(r"(?<![\p{L}\p{N}\p{M}'.]\p{DI}*)\p{L}")


def _unsettled(text: str, start: int) -> int:
    """The first offset >= ``start`` where a match of a rule may begin but is not finished.

    (The ``regex`` module reports a partial match only when no complete one exists
    anywhere, so the places where one could begin are tried one by one: the last of
    each opening character, and the single letters of a trailing spaced-out run.)
    """
    size = len(text)
    candidates = []
    for char, reach in _REACH.items():
        at = text.rfind(char, max(start, size - reach) - (char == "\n"))
        if at >= 0:
            candidates.append(at + 1 if char == "\n" else at)
    cell = text.rfind("|", max(start, size - 14))
    if cell >= 0:
        candidates.append(cell)
    run = size  # the trailing stretch of letters, spaces and dots a run could lie in
    low = max(start, size - 140)
    while run > low and (
        text[run - 1] in " ."
        or _LETTER.match(text, run - 1) is not None
        or unicodedata.category(text[run - 1]) in _RUN_CATEGORIES
    ):
        run -= 1
    for letter in _LONE_LETTER_RE.finditer(text, run):
        after = text[letter.end() : letter.end() + 1]
        if after in ("", " ", ".") or not after.isalnum():  # a letter, then maybe a separator
            candidates.append(letter.start())
    for at in sorted(c for c in candidates if c >= start):
        m = _RULES.match(text, at, partial=True)
        if m is not None and m.partial:
            return at
    return size


def clean(text: str) -> tuple[str, list[Piece]]:
    """The character pass over a finished text: the output and its pieces."""
    pieces = Cleaner().feed(text, final=True)
    return "".join(p[0] for p in pieces), pieces


__all__ = ["Cleaner", "Piece", "clean", "letter_table"]
