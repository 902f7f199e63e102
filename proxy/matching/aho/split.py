"""Helpers of the session's word splitting: plain-ASCII shortcuts and the release test."""

from __future__ import annotations

import re

from proxy.matching.normalize import TAIL_RE

#: Unknown words this long are tried as several known words glued together.
GLUED_WORD = 10

# Plain ASCII (no apostrophe, no hyphen: most model output) is split without the ``regex``
# engine, which costs several microseconds per call even on a few characters.  There
# ``WORD_RE`` matches exactly the runs of ASCII letters and digits (no joined tail can
# start without an apostrophe or hyphen), and the only ``TAIL_RE`` prefixes are
# whitespace (before "'s") or whitespace and an "n" (before "n't").  Checked against the
# regex path in tests/matching/test_plain_split.py.
PLAIN_WORD_RE = re.compile(r"[A-Za-z0-9]+")
ASCII_GAP = "\t\n\x0b\x0c\r "  # what TAIL_RE's gap (\s, default ignorables) is in ASCII


def plain_tail(buf: str, at: int) -> bool:
    """``TAIL_RE.fullmatch(buf, at, partial=True)`` for plain ASCII ``buf``."""
    rest = buf[at:]
    if not rest.strip(ASCII_GAP):
        return True
    return len(rest) > 1 and rest[-1] in "nN" and not rest[:-1].strip(ASCII_GAP)


def one_word(pending: str) -> bool:
    """Whether what is typed so far of a word makes one word (no camel-case split, not long
    enough to be glued words), or at most two for a number under 100, when it goes out
    now: then it may go out as a live match's first word (the margin ``loose`` needs)."""
    pending = pending.rstrip(ASCII_GAP)  # a word waiting for a possible "'s"
    if pending.isdigit():
        return pending.isascii() and len(pending) <= 2
    return (
        len(pending) < GLUED_WORD - 1
        and pending.isascii()
        and pending.isalpha()
        and (pending.islower() or pending[1:].islower())
    )


def regex_tail(buf: str, at: int) -> bool:
    return TAIL_RE.fullmatch(buf, at, partial=True) is not None


__all__ = ["ASCII_GAP", "GLUED_WORD", "PLAIN_WORD_RE", "one_word", "plain_tail", "regex_tail"]
