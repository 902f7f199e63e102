"""Strings outside the fields a dialect guards: found, and checked by the guard as they come."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.demo.answers import load_works, named_answer
from proxy.dialects._strays import Fields, check_strays, strays
from proxy.dialects.base import DialectError
from proxy.guard import ResponseGuard
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.fakes import ScriptedFilter
from tests.proxy.harness import index_for

FIELDS: Fields = {
    "id": None,
    "usage": ...,
    "choices": {"*": {"index": None, "delta": {"content": None, "role": None}}},
}


@pytest.mark.parametrize(
    ("event", "found"),
    [
        ({"id": "x", "usage": {"note": "text"}, "choices": []}, []),
        ({"choices": [{"index": 0, "delta": {"content": "text"}}]}, []),
        ({"x_note": "text"}, [("/x_note", "text")]),
        ({"x_note": ""}, []),
        (
            {"choices": [{"delta": {"audio": {"transcript": "t"}}}]},
            [("/choices/0/delta/audio/transcript", "t")],
        ),
        # a guarded name holding something else than a string is looked into as unknown
        (
            {"choices": [{"delta": {"content": [{"type": "text", "text": "t"}]}}]},
            [("/choices/0/delta/content/0/type", "text"), ("/choices/0/delta/content/0/text", "t")],
        ),
        ({"id": ["a", "b"]}, [("/id/0", "a"), ("/id/1", "b")]),
        ({"choices": [{"index": 0}, {"text": "t"}]}, [("/choices/1/text", "t")]),
        ({"n": 1, "f": 1.5, "b": True, "z": None}, []),
    ],
)
def test_strays_are_the_strings_outside_the_fields(
    event: dict[str, Any], found: list[tuple[str, str]]
) -> None:
    """Every non-empty string outside the field tree is found, with its path; none inside."""
    assert strays(event, FIELDS) == found


STANZA = named_answer("poems/lighthouse-keeper", load_works(SAMPLE_RULES))


def test_a_run_spread_over_pieces_is_caught_before_it_is_whole() -> None:
    """Word by word on one path: the piece completing a run is refused, the rest never was."""
    index = index_for(SAMPLE_RULES)
    guard = ResponseGuard(index)
    passed: list[str] = []
    for word in STANZA.split():
        if guard.stray("/x_note", word + " "):
            break
        passed.append(word + " ")
    else:
        pytest.fail("the stanza was never caught")
    assert scan_text(index, "".join(passed)) == []
    assert guard.any_blocked and guard.findings[0][0] == "stray/x_note"


def test_paths_and_clean_text_do_not_add_up() -> None:
    """Clean text never hits, and words on different paths are not joined into a run."""
    guard = ResponseGuard(index_for(SAMPLE_RULES))
    words = STANZA.split()
    assert not any(guard.stray(f"/p{n % 2}", w + " ") for n, w in enumerate(words[:16]))
    assert not guard.stray("/note", "The weather today is mild, with a light breeze from the west.")
    assert not guard.any_blocked


def test_json_nested_deeper_than_python_recurses_is_malformed() -> None:
    """orjson reads 1024 levels; the check ends such an event as malformed, not as a crash."""
    deep: Any = "text"
    for _ in range(1020):
        deep = {"a": deep}
    with pytest.raises(DialectError, match="nested too deeply"):
        check_strays(deep, {}, ScriptedFilter())


def test_what_a_stray_field_remembers_is_bounded_and_enough() -> None:
    """Only the last min_words - 1 words are kept per path, and that still catches a run."""
    index = index_for(SAMPLE_RULES)
    guard = ResponseGuard(index)
    for _ in range(500):
        assert not guard.stray("/provider", "the same few words again ")
        assert not guard.stray("/id", "x" * 50)  # one word growing past any protected word
    kept = guard.strays.tails
    assert len(kept["/provider"].split()) < index.max_min_words
    assert len(kept["/id"]) <= 65
    assert any(guard.stray("/provider", word + " ") for word in STANZA.split())
