"""Normalisation: form changes that must not hide a reproduction."""

from __future__ import annotations

import pytest

from proxy.matching.normalize import fold, words


def norms(text: str) -> list[str]:
    return [w for w, _, _ in words(text)]


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("THE Quick Brown", "the quick brown"),
        ("the quick, brown—fox", "the quick brown fox"),
        ("“don’t” stop", '"don\'t" stop'),
        ("a – b — c ‒ d", "a - b - c - d"),
        ("line one\r\nline\ttwo\u00a0three", "line one line two three"),
        ("**bold** _emph_ `code` > quoted\n- item\n* other", "bold emph code quoted item other"),
        (
            "zero\u200bwidth jo\u200dined soft\u00adhyphen \ufeffbom",
            "zerowidth joined softhyphen bom",
        ),
        ("р\u0430ypal sc\u043eре", "paypal scope"),
        ("Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", "fullwidth text"),
        ("ﬁne ﬂour", "fine flour"),
        ("cafe\u0301 CAFÉ", "café café"),
        ("Straße STRASSE", "strasse strasse"),
    ],
)
def test_form_changes_normalise_alike(variant: str, plain: str) -> None:
    """Each form change of a text yields the same words as the plain text."""
    assert norms(variant) == norms(plain)


def test_unspaced_scripts_are_one_word_per_character() -> None:
    """Chinese and Japanese text is matchable: each ideograph or kana is a word."""
    assert norms("我爱北京 ひらがな") == ["我", "爱", "北", "京", "ひ", "ら", "が", "な"]


def test_spans_point_at_the_original_text() -> None:
    """Every word keeps the exact original span it came from."""
    text = "  **Ｈｅｌｌｏ**,\u200b wo\u00adrld!"
    assert [(text[s:e], w) for w, s, e in words(text)] == [
        ("Ｈｅｌｌｏ", "hello"),
        ("wo\u00adrld", "world"),
    ]


def test_compatibility_forms_can_split_into_several_words() -> None:
    """NFKC may turn one raw word into several normalised words."""
    assert fold("½") == ["one", "two"]


# One row per form of the table: the variant must give the plain text's words.
FAMILIES = [
    ("html tags", "<p>The <b>whale</b> <i class='x'>was</i><br>white</p>", "the whale was white"),
    ("html entities", "se&#110;d the &#x77;hale &amp; him", "send the whale & him"),
    ("tag inside a word", "se<b>n</b>d", "send"),
    ("combining accents", "the\u0301 wha\u0308le", "the whale"),
    ("precomposed accents", "thé whâlé naïve", "the whale naive"),
    ("bidi override", "\u202eelahw eht\u202c said", "the whale said"),
    ("override to line end", "\u202eelahw eht\nsaid", "the whale said"),
    ("cyrillic capitals", "ТНЕ МIZЕN", "the mizen"),
    ("greek capitals", "ΤΗΕ ΖΟΝΕ ΑΝΥ", "the zone any"),
    ("spaced letters", "t h e   w h a l e", "the whale"),
    ("dotted letters", "b.e.e.n t.h.e.r.e.", "been there"),
    ("dotted and spaced", "b. e. e. n.  t. h. e. r. e.", "been there"),
    ("camel case", "theWhiteWhale", "the white whale"),
    ("pascal case", "TheWhiteWhale", "the white whale"),
    ("one-letter words in camel case", "forALovelyAnd", "for a lovely and"),
    ("kebab case", "the-white-whale-was", "the white whale was"),
    ("small capitals", "ᴛʜᴇ ᴡʜᴀʟᴇ ᴀɴᴅ", "the whale and"),
    ("circled letters", "ⓣⓗⓔ ⓦⓗⓐⓛⓔ", "the whale"),
    ("parenthesised letters", "⒯⒣⒠ ⒲⒣⒜⒧⒠", "the whale"),
    ("regional indicators", "🇹🇭🇪 🇼\u200c🇭🇦🇱🇪", "the whale"),
    ("line numbers", "217\tfeel now like\n218 the whale", "feel now like the whale"),
    ("numbered lines", "1. feel now\n2) like the", "feel now like the"),
    ("row numbers", "| 3 | feel now |\n| 4 | like the |", "feel now like the"),
    ("apostrophe look-alikes", "don´t won`t can′t isnʹt it´s", "don't won't can't isn't it's"),
    ("end-of-line hyphen", "prefer-\nred a soft\u00ad\nhyphen", "preferred a softhyphen"),
    ("british spelling", "the colour of honour", "the color of honor"),
    ("archaic spelling", "he shewed the connexion", "he showed the connection"),
    ("digits for number words", "of 21 men, 3 boys", "of twenty-one men, three boys"),
    ("ordinals", "the 2nd day, 21st", "the second day, twenty-first"),
    ("number words hyphenated", "twenty-one", "twenty one"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "plain"), [r[1:] for r in FAMILIES], ids=[r[0] for r in FAMILIES]
)
def test_each_evasion_family_normalises_to_the_plain_words(variant: str, plain: str) -> None:
    """Every form listed in the issue reads as the plain words (on both sides alike)."""
    assert norms(variant) == norms(plain)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I saw a man", ["i", "saw", "a", "man"]),  # single letters that are words stay
        ("a < b and c > d", ["a", "b", "and", "c", "d"]),  # not a tag
        ("AT&T and R&D", ["at", "t", "and", "r", "d"]),  # not an entity
        ("WhaLe tHe", ["wha", "le", "t", "he"]),  # split here, read whole by the matcher
        ("well-known pasture-fields", ["wellknown", "pasturefields"]),  # compounds join
        ("in 1812, 007", ["in", "one", "thousand", "eight", "hundred", "and", "twelve", "007"]),
    ],
)  # fmt: skip
def test_rules_leave_ordinary_text_alone(text: str, kept: list[str]) -> None:
    """The new rules do not eat words that only look like their forms."""
    assert norms(text) == kept


def test_spans_of_cleaned_words_cover_their_markup() -> None:
    """A word rebuilt from markup reports the whole original stretch it came from."""
    text = "x se&#110;<b>d</b> \u202eyb\u202c prefer-\nred"
    assert [text[s:e] for _, s, e in words(text)] == [
        "x",
        "se&#110;<b>d",
        "\u202eyb\u202c",
        "prefer-\nred",
    ]
