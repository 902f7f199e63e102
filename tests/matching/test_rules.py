"""Loading a rules folder: works, policy, and a clear error for every kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.matching.catalogue import Action
from proxy.matching.seam import Matcher
from proxy.rules import RulesError, load_rules
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES

POEM = "the rain that falls on quiet hills will wash the names from every stone we carved"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


def test_plain_folder_of_txt_files_is_valid(tmp_path: Path) -> None:
    """Each .txt file at any depth is a work whose id is its relative path without suffix."""
    cat = load_rules(write(tmp_path, {"a.txt": POEM, "lyrics/song-a.txt": POEM + " again"}))
    assert sorted((w.id, w.collection) for w in cat.works) == [
        ("a", ""),
        ("lyrics/song-a", "lyrics"),
    ]


def test_jsonl_holds_many_works_with_metadata(tmp_path: Path) -> None:
    """A .jsonl file is a collection of works with optional title, owner and license."""
    first = json.dumps({"id": "w1", "text": POEM, "title": "Rain"})
    lines = first + '\n\n{"id": "w2", "text": "x y z"}\n'
    cat = load_rules(write(tmp_path, {"books.jsonl": lines}))
    assert [(w.id, w.title, w.collection) for w in cat.works] == [
        ("w1", "Rain", "books"),
        ("w2", "", "books"),
    ]


def test_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    """A leading --- block in a .txt work gives its title and is not part of the work."""
    text = "---\ntitle: Rain Song\nowner: Someone\n---\n" + POEM
    (work,) = load_rules(write(tmp_path, {"rain.txt": text})).works
    assert (work.title, work.owner, work.text) == ("Rain Song", "Someone", POEM)


def test_policy_sets_defaults_collections_and_allow_list(tmp_path: Path) -> None:
    """policy.toml sets min_words/action, per-collection overrides and allowed phrases."""
    policy = (
        'min_words = 8\naction = "redact"\n[collections.lyrics]\naction = "log"\nmin_words = 6\n'
        '[allow]\nphrases = ["to be or not to be"]\nworks = ["a"]\n'
    )
    cat = load_rules(write(tmp_path, {"a.txt": POEM, "lyrics/s.txt": POEM, "policy.toml": policy}))
    assert cat.policy.default.min_words == 8 and cat.policy.default.action is Action.REDACT
    assert cat.policy.rule("lyrics").action is Action.LOG and cat.policy.min_words == 6
    assert cat.policy.allow_phrases == ("to be or not to be",) and "a" in cat.policy.allow_works


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bad.txt": b"fine line\nbroken \xff byte"}, "bad.txt:2: invalid UTF-8"),
        ({"w.jsonl": '{"id": "a", "text": "x"}\n{oops\n'}, "w.jsonl:2: bad JSON"),
        ({"w.jsonl": '{"id": "a", "text": "  ...  "}\n'}, "w.jsonl:1: empty work"),
        ({"w.jsonl": '{"text": "words here"}\n'}, "w.jsonl:1: 'id' must be"),
        ({"empty.txt": "  \n -- \n"}, "empty.txt:1: empty work"),
        (
            {"a.txt": POEM, "policy.toml": "min_words = 8\nacton = 'block'\n"},
            "policy.toml:2: unknown key",
        ),
        ({"a.txt": POEM, "policy.toml": "action = 'shout'\n"}, "policy.toml:1: action must be"),
        ({"a.txt": POEM, "policy.toml": "min_words = 0\n"}, "policy.toml:1: min_words must be"),
        ({"a.txt": POEM, "policy.toml": "[collections.nope]\naction='log'\n"}, "matches no"),
        ({"a.txt": POEM, "policy.toml": "min_words = [\n"}, "policy.toml: "),
        ({"a.txt": POEM, "b.jsonl": '{"id": "a", "text": "x y"}\n'}, "b.jsonl:1: work id 'a'"),
        ({"a.txt": "---\ntitle: x\n" + POEM}, "a.txt:3: front matter"),
        ({"notes.md": "nothing"}, "no works"),
    ],
)
def test_bad_rules_name_file_and_line(
    tmp_path: Path, files: dict[str, str | bytes], message: str
) -> None:
    """Every kind of mistake is one RulesError naming the file and line."""
    with pytest.raises(RulesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_rules(write(tmp_path, files))


def test_sample_catalogue_loads_and_matches(sample_index: Matcher) -> None:
    """The embedded sample rules load, and reproducing a sample work is found."""
    cat = load_rules(SAMPLE_RULES)
    poem = next(w for w in cat.works if w.id == "poems/lighthouse-keeper")
    found = scan_text(sample_index, "Sure! " + poem.text)
    assert [f.work for f in found] == ["poems/lighthouse-keeper"]
    assert found[0].title == "The Lighthouse Keeper's Ledger"


def test_allow_listed_phrase_never_triggers(tmp_path: Path) -> None:
    """A run inside an allow-listed phrase is not a finding; a longer run still is."""
    from proxy.matching.engines import load_matcher

    policy = f'min_words = 6\n[allow]\nphrases = ["{POEM}"]\n'
    cat = load_rules(
        write(tmp_path, {"a.txt": POEM + " and then some more words follow", "policy.toml": policy})
    )
    index, _ = load_matcher(cat, None)
    assert scan_text(index, "quote: " + POEM) == []
    assert len(scan_text(index, "quote: " + POEM + " and then some more")) == 1
