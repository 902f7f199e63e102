"""The forms an excerpt takes when someone wants it out of a model: one transform per family.

Each transform takes a random generator and the plain excerpt (detokenised, one space
between words) and returns the text a model might emit.  Controls are transforms whose
result must *not* be claimed as the work (paraphrase, translation).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable

Transform = Callable[[random.Random, str], str]

# Common words an edit may substitute or insert (not tied to any work).
FILLER = [
    "very",
    "quite",
    "just",
    "really",
    "then",
    "also",
    "so",
    "indeed",
    "rather",
    "still",
    "even",
    "thus",
    "now",
    "well",
]
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000",
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
}  # fmt: skip
CYRILLIC_CAPS = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")
GREEK_CAPS = str.maketrans("ABEHIKMNOPTXYZ", "ΑΒΕΗΙΚΜΝΟΡΤΧΥΖ")
COMBINING = ["\u0301", "\u0300", "\u0308", "\u0302", "\u0303", "\u0327"]
PRECOMPOSED = str.maketrans("aeiouAEIOUcn", "áéíóúÁÉÍÓÚçñ")
APOSTROPHES = ["\u00b4", "`", "\u2032", "\u02b9", "\u02c8"]


def _words(text: str) -> list[str]:
    return text.split(" ")


def _every(rng: random.Random, n: int, every: float) -> list[bool]:
    """Which of n positions get an edit: about one in ``every``, never two adjacent."""
    marks, gap = [False] * n, rng.randint(1, int(every))
    for i in range(n):
        gap -= 1
        if gap <= 0:
            marks[i] = True
            gap = rng.randint(int(every * 0.8), int(every * 1.2))
    return marks


def near_verbatim(every: float) -> Transform:
    def edit(rng: random.Random, text: str) -> str:
        out = []
        ws = _words(text)
        for w, mark in zip(ws, _every(rng, len(ws), every), strict=True):
            if not mark:
                out.append(w)
                continue
            kind = rng.choice(["sub", "drop", "ins"])
            if kind == "sub":
                out.append(rng.choice(FILLER))
            elif kind == "ins":
                out += [w, rng.choice(FILLER)]
        return " ".join(out)

    return edit


def html(rng: random.Random, text: str) -> str:
    out = []
    for w in _words(text):
        r = rng.random()
        if r < 0.3:
            tag = rng.choice(["b", "i", "em", "strong", "span", "u"])
            attr = ' class="q"' if tag == "span" else ""
            w = f"<{tag}{attr}>{w}</{tag}>"
        elif r < 0.55 and len(w) > 2:
            i = rng.randrange(1, len(w) - 1)
            c = w[i]
            ent = rng.choice([f"&#{ord(c)};", f"&#x{ord(c):x};"])
            w = w[:i] + ent + w[i + 1 :]
        out.append(w)
    sep = rng.choice([" ", " <br>", "</p><p>"])
    return "<p>" + sep.join(out) + "</p>"


def accents(rng: random.Random, text: str) -> str:
    if rng.random() < 0.5:
        return "".join(
            c + rng.choice(COMBINING) if c.isalpha() and rng.random() < 0.4 else c for c in text
        )
    return "".join(c.translate(PRECOMPOSED) if rng.random() < 0.6 else c for c in text)


def bidi(rng: random.Random, text: str) -> str:
    ws, out, i = _words(text), [], 0
    while i < len(ws):
        n = rng.randint(2, 6)
        chunk = " ".join(ws[i : i + n])
        out.append("\u202e" + chunk[::-1] + "\u202c" if rng.random() < 0.7 else chunk)
        i += n
    return " ".join(out)


def confusable_caps(rng: random.Random, text: str) -> str:
    table = rng.choice([CYRILLIC_CAPS, GREEK_CAPS])
    return "".join(c.upper().translate(table) if rng.random() < 0.6 else c.upper() for c in text)


def spaced(rng: random.Random, text: str) -> str:
    style = rng.choice(["space", "dot", "dotspace"])
    ws = [w for w in _words(text) if any(c.isalnum() for c in w)]
    letters = ["".join(c for c in w if c.isalnum()) for w in ws]
    if style == "space":
        return "   ".join(" ".join(w) for w in letters)
    if style == "dot":
        return " ".join(".".join(w) for w in letters)
    return "  ".join(". ".join(w) + "." for w in letters)


def spaced_uniform(rng: random.Random, text: str) -> str:
    """Every letter spaced out, words not marked apart at all ("t h e q u i c k")."""
    letters = [c for c in text if c.isalnum()]
    return " ".join(letters)


def joined_case(rng: random.Random, text: str) -> str:
    ws = ["".join(c for c in w if c.isalnum()) for w in _words(text)]
    ws = [w for w in ws if w]
    style = rng.choice(["camel", "pascal", "kebab"])
    out, i = [], 0
    while i < len(ws):
        n = rng.randint(3, 8)
        group = [w.lower() for w in ws[i : i + n]]
        if style == "kebab":
            out.append("-".join(group))
        elif style == "pascal":
            out.append("".join(w.capitalize() for w in group))
        else:
            out.append(group[0] + "".join(w.capitalize() for w in group[1:]))
        i += n
    return " ".join(out)


def _letter(kind: str, c: str) -> str:
    lo = c.lower()
    if not ("a" <= lo <= "z"):
        return c
    names = {
        "small": f"LATIN LETTER SMALL CAPITAL {lo.upper()}",
        "circled": f"CIRCLED LATIN SMALL LETTER {lo.upper()}",
        "paren": f"PARENTHESIZED LATIN SMALL LETTER {lo.upper()}",
        "regional": f"REGIONAL INDICATOR SYMBOL LETTER {lo.upper()}",
    }
    try:
        return unicodedata.lookup(names[kind])
    except KeyError:
        return c  # no small capital for some letters (q, x): left as is


def enclosed(rng: random.Random, text: str) -> str:
    kind = rng.choice(["small", "circled", "paren", "regional"])
    sep = "\u200c" if kind == "regional" else ""  # keep indicator pairs from reading as flags
    return " ".join(sep.join(_letter(kind, c) for c in w) for w in _words(text))


def line_numbers(rng: random.Random, text: str) -> str:
    ws, lines, i, n = _words(text), [], 0, rng.randint(1, 400)
    table = rng.random() < 0.35
    while i < len(ws):
        k = rng.randint(4, 9)
        body = " ".join(ws[i : i + k])
        sep = rng.choice(["\t", " ", ". "])
        lines.append(f"| {n} | {body} |" if table else f"{n}{sep}{body}")
        n += 1
        i += k
    return "\n".join(lines)


def apostrophes(rng: random.Random, text: str) -> str:
    mark = rng.choice(APOSTROPHES)
    return text.replace("'", mark)


def spelling_numbers(rng: random.Random, text: str) -> str:
    from breame.data.spelling_constants import (
        AMERICAN_ENGLISH_SPELLINGS,
        BRITISH_ENGLISH_SPELLINGS,
    )

    out = []
    for w in _words(text):
        core = w.strip(",.;:!?\"'()")
        lo = core.lower()
        swap = (
            NUMBER_WORDS.get(lo)
            or BRITISH_ENGLISH_SPELLINGS.get(lo)
            or AMERICAN_ENGLISH_SPELLINGS.get(lo)
        )
        out.append(w.replace(core, swap) if swap and core else w)
    return " ".join(out)


def eol_hyphenation(rng: random.Random, text: str) -> str:
    out, line = [], 0
    for w in _words(text):
        if line > rng.randint(30, 60) and len(w) > 5 and w.isalpha():
            cut = rng.randrange(2, len(w) - 2)
            mark = rng.choice(["-\n", "\u00ad\n", "-\r\n"])
            out.append(w[:cut] + mark + w[cut:])
            line = len(w) - cut
            continue
        out.append(w)
        line += len(w) + 1
    return " ".join(out).replace("\n ", "\n")


# -- families already caught before this benchmark existed (exact recall must not drop) --


def markdown(rng: random.Random, text: str) -> str:
    ws, out, i = _words(text), [], 0
    while i < len(ws):
        n = rng.randint(3, 7)
        out.append(rng.choice(["- ", "* ", "1. ", "> "]) + "**" + " ".join(ws[i : i + n]) + "**")
        i += n
    return "\n".join(out)


def separators(rng: random.Random, text: str) -> str:
    return rng.choice([" | ", " / ", " 🔥 ", " · "]).join(_words(text))


def snake_dot(rng: random.Random, text: str) -> str:
    return rng.choice(["_", "."]).join(_words(text))


def math_bold(rng: random.Random, text: str) -> str:
    base = rng.choice([0x1D41A, 0x1D586, 0x1D5EE])  # bold, bold fraktur, sans-serif bold
    return "".join(chr(base + ord(c) - 97) if "a" <= c <= "z" else c for c in text.lower())


def mixed_case(rng: random.Random, text: str) -> str:
    """Random capitalisation ("tHe qUiCK"): must not be read as camel case."""
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


# -- controls: not the work, must not be flagged ------------------------------------------


def paraphrase(rng: random.Random, text: str) -> str:
    """Every second or third word changed and neighbours swapped: the sense kept, the text not."""
    ws = _words(text)
    out = [rng.choice(FILLER) if i % rng.choice([2, 3]) == 0 else w for i, w in enumerate(ws)]
    for i in range(0, len(out) - 1, 4):
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def translation(rng: random.Random, text: str) -> str:
    """Word for word into another (made-up) language; names and numbers kept as they are."""

    def word(w: str) -> str:
        if not w[:1].isalpha() or w[:1].isupper():
            return w
        h = sum(map(ord, w)) * 2654435761 % 2**32
        syll = ["ka", "lo", "mi", "ne", "su", "ta", "ve", "ri", "do", "pa"]
        return "".join(syll[(h >> (4 * k)) % 10] for k in range(1 + len(w) // 3))

    return " ".join(word(w) for w in _words(text))


FAMILIES: dict[str, Transform] = {
    "exact": lambda rng, t: t,
    "near-verbatim 1/10": near_verbatim(10),
    "near-verbatim 1/8": near_verbatim(8),
    "html markup, entities": html,
    "accents": accents,
    "bidi override": bidi,
    "confusable capitals": confusable_caps,
    "spaced/dotted letters": spaced,
    "spaced letters, no word gap": spaced_uniform,
    "camel/pascal/kebab": joined_case,
    "small caps, enclosed, regional": enclosed,
    "line and row numbers": line_numbers,
    "apostrophe look-alikes": apostrophes,
    "spelling, numbers": spelling_numbers,
    "end-of-line hyphenation": eol_hyphenation,
    "markdown (before)": markdown,
    "separators (before)": separators,
    "snake/dot case (before)": snake_dot,
    "math alphanumerics (before)": math_bold,
    "random capitals": mixed_case,
}
CONTROLS: dict[str, Transform] = {"paraphrase": paraphrase, "translation": translation}
# Families whose cases are picked where the family has something to change.
NEEDS: dict[str, Callable[[str], bool]] = {
    "apostrophe look-alikes": lambda t: t.count("'") >= 1,
    "spelling, numbers": lambda t: spelling_numbers(random.Random(0), t) != t,
}
