"""The matcher's plain-ASCII word split agrees with the regex split it short-cuts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.matching.aho.split import PLAIN_WORD_RE as _PLAIN_WORD_RE
from proxy.matching.aho.split import plain_tail as _plain_tail
from proxy.matching.aho.split import regex_tail as _regex_tail
from proxy.matching.normalize import WORD_RE

# Plain ASCII as the fast path sees it (no apostrophe, no hyphen), weighted towards what
# matters to the tail rule: whitespace of every kind, "n"/"N", separators.
PLAIN = st.text(st.sampled_from('abnN  zZ09.,;:!?"()_*#/\\\t\n\x0b\x0c\r\x1c\x1f\x00'), max_size=24)


@settings(max_examples=3000, deadline=None)
@given(PLAIN)
def test_plain_split_matches_regex(buf: str) -> None:
    assert "'" not in buf and "-" not in buf
    assert [m.span() for m in _PLAIN_WORD_RE.finditer(buf)] == [
        m.span() for m in WORD_RE.finditer(buf)
    ]
    for at in range(len(buf) + 1):
        assert _plain_tail(buf, at) == _regex_tail(buf, at), (buf, at)


def test_plain_tail_examples() -> None:
    assert _plain_tail("the ", 3)  # may still become "the 's"
    assert _plain_tail("do n", 2)  # may still become "do n't"
    assert not _plain_tail("do nt", 2)
    assert not _plain_tail("the, ", 3)
