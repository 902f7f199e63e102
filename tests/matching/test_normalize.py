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
    assert fold("½") == ["1", "2"]
