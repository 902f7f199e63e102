"""Near-verbatim runs: exact stretches of one work joined across small edits (the gap rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.matching.engines import build_matcher
from proxy.matching.seam import Matcher, scan_once
from proxy.rules import RulesError, load_rules
from tests.matching.test_rules import write

# 30 words of a made-up work; A and B are its two 9-word halves around 3 middle words.
TEXT = (
    "the ferryman counted his coins by lantern light and the river kept its own slow time "
    "while herons stood like patient clerks along the reeds and the mist rose up"
)
WORK = TEXT.split(" ")
A, MIDDLE, B = WORK[:9], WORK[9:12], WORK[12:21]
OTHER = ["purple", "engines", "whistle", "loudly", "again"]


def matcher(tmp_path: Path, policy: str) -> Matcher:
    files = {"w.txt": " ".join(WORK), "other.txt": "an unrelated text about nothing much"}
    return build_matcher(load_rules(write(tmp_path, {**files, "policy.toml": policy})))


def found(index: Matcher, words: list[str]) -> bool:
    return bool(scan_once(index, "Here it is: " + " ".join(words) + ". Done."))


@pytest.mark.parametrize(
    ("label", "middle", "caught"),
    [
        ("as is", MIDDLE, True),
        ("one word substituted", ["purple", *MIDDLE[1:]], True),
        ("two words substituted", ["purple", "engines", MIDDLE[2]], True),
        ("three words substituted", OTHER[:3], False),
        ("one word dropped", MIDDLE[1:], True),
        ("two dropped", MIDDLE[2:], True),
        ("three dropped", [], False),
        ("two inserted", [MIDDLE[0], "purple", "engines", *MIDDLE[1:]], True),
        ("three inserted", [MIDDLE[0], *OTHER[:3], *MIDDLE[1:]], False),
        # two edits, one aligned word, two edits: 19 aligned of 23 (share 0.83) still counts
        ("two substituted, two inserted", [*OTHER[:2], MIDDLE[2], *OTHER[2:4]], True),
        ("three substituted, two inserted", [*OTHER[:3], MIDDLE[2], *OTHER[3:5]], False),
    ],
)
def test_gap_rule_edges(tmp_path: Path, label: str, middle: list[str], caught: bool) -> None:
    """Up to max_gap_words (2) edited words between stretches join them; 3 do not."""
    index = matcher(tmp_path, "min_words = 12\n")
    assert not found(index, A) and not found(index, B)  # neither half is a run alone
    assert found(index, [*A, *middle, *B]) is caught


@pytest.mark.parametrize(("share", "caught"), [(0.9, True), (0.95, False)])
def test_share_below_the_threshold_is_no_finding(
    tmp_path: Path, share: float, caught: bool
) -> None:
    """19 aligned words in 21 (share 0.905) count at min_share 0.9, not at 0.95."""
    index = matcher(tmp_path, f"min_words = 12\nmin_share = {share}\n")
    assert found(index, [*A, "purple", "engines", MIDDLE[2], *B]) is caught


def test_max_gap_zero_is_exact_matching(tmp_path: Path) -> None:
    """max_gap_words = 0: only exact runs of min_words count, as before the gap rule."""
    index = matcher(tmp_path, "min_words = 12\nmax_gap_words = 0\n")
    assert not found(index, [*A, "purple", *MIDDLE[1:], *B])
    assert found(index, [*A, *MIDDLE])


def test_gap_rule_per_collection(tmp_path: Path) -> None:
    """A collection may switch near-verbatim matching off while others keep it."""
    policy = "min_words = 12\n[collections.exact]\nmax_gap_words = 0\n"
    files = {"exact/w.txt": " ".join(WORK), "loose/w.txt": " ".join(WORK[::-1])}
    index = build_matcher(load_rules(write(tmp_path, {**files, "policy.toml": policy})))
    rev = WORK[::-1]
    assert not found(index, [*A, "purple", *MIDDLE[1:], *B])
    assert [f.work for f in scan_once(index, " ".join([*rev[:9], "purple", *rev[10:21]]))] == [
        "loose/w"
    ]


def test_finding_spans_the_whole_edited_run(tmp_path: Path) -> None:
    """The finding covers from the first to the last aligned word, edits included."""
    index = matcher(tmp_path, "min_words = 12\n")
    text = "Intro. " + " ".join([*A, "purple", *MIDDLE[1:], *B]) + ". Outro."
    (finding,) = scan_once(index, text)
    assert text[finding.start : finding.end] == " ".join([*A, "purple", *MIDDLE[1:], *B])
    assert (finding.source_start, finding.source_end) == (0, 21)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("max_gap_words = 6\n", "policy.toml:1: max_gap_words must be"),
        ("max_gap_words = true\n", "policy.toml:1: max_gap_words must be"),
        ("min_share = 0.2\n", "policy.toml:1: min_share must be"),
        ("[collections.c]\nmin_share = 'most'\n", "policy.toml:2: min_share must be"),
    ],
)
def test_bad_gap_settings_name_file_and_line(tmp_path: Path, policy: str, message: str) -> None:
    """Mistakes in the gap keys are RulesErrors naming policy.toml and the line."""
    with pytest.raises(RulesError, match=message):
        load_rules(write(tmp_path, {"c/w.txt": " ".join(WORK), "policy.toml": policy}))
