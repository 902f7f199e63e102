"""Word-level folds of spelling: British and archaic spellings, numbers written as words.

British/American pairs come from the ``breame`` package's table (about 1,700 words: colour,
realise, centre, travelled, ...); the archaic spellings common in older books, which no
package lists, are below.  Every variant folds to the American form, on both sides.
Numbers fold to words (``num2words``): "21" and "twenty-one" are both "twenty one".
"""

from __future__ import annotations

import functools

import regex
from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS
from num2words import num2words

# Archaic or older British spellings still found in public-domain books (and in output
# that modernises them), folded to today's form.
ARCHAIC = {
    "shew": "show", "shewn": "shown", "shewed": "showed", "shews": "shows",
    "shewing": "showing", "connexion": "connection", "connexions": "connections",
    "gaol": "jail", "gaols": "jails", "gaoler": "jailer", "waggon": "wagon",
    "waggons": "wagons", "chuse": "choose", "compleat": "complete", "publick": "public",
    "musick": "music", "antient": "ancient", "controul": "control", "croud": "crowd",
    "surprize": "surprise", "surprized": "surprised", "burthen": "burden",
    "inclose": "enclose", "inclosed": "enclosed", "intrusted": "entrusted",
    "despatch": "dispatch", "despatched": "dispatched", "oer": "over", "eer": "ever",
    "neer": "never", "ake": "ache", "cloaths": "clothes", "phrenzy": "frenzy",
}  # fmt: skip
_NUMBERS = """zero one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred thousand million billion first second third fourth fifth sixth
    seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth
    seventeenth eighteenth nineteenth twentieth thirtieth fortieth fiftieth sixtieth
    seventieth eightieth ninetieth hundredth thousandth"""
NUMBER_WORDS = frozenset(_NUMBERS.split())
_TABLE: dict[str, str] = {**BRITISH_ENGLISH_SPELLINGS, **ARCHAIC}
_LETTERS_RE = regex.compile(r"[a-z]+")


def respell(word: str) -> str:
    """The American form of a (case-folded) word, or the word itself."""
    return _TABLE.get(word, word)


def variants() -> dict[str, list[str]]:
    """Every spelling that folds to each American form (for prefixes of words under way)."""
    out: dict[str, list[str]] = {}
    for variant, target in _TABLE.items():
        out.setdefault(target, []).append(variant)
    return out


@functools.lru_cache(maxsize=4096)
def number_words(digits_or_word: str, ordinal: bool = False) -> list[str]:
    """ "21" -> ["twenty", "one"]; a number word -> itself; else [] (not a number).

    Numbers with a leading zero ("007") or over twelve digits stay digits.
    """
    if digits_or_word in NUMBER_WORDS:
        return [digits_or_word]
    if not digits_or_word.isdigit() or not digits_or_word.isascii():
        return []
    if len(digits_or_word) > 12 or (len(digits_or_word) > 1 and digits_or_word[0] == "0"):
        return []
    spoken = num2words(int(digits_or_word), to="ordinal" if ordinal else "cardinal")
    return _LETTERS_RE.findall(spoken.lower())


__all__ = ["ARCHAIC", "NUMBER_WORDS", "number_words", "respell", "variants"]
