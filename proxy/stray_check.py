"""One-shot checks of the strings no stream guards (stray fields of events and bodies).

The streaming guard (``proxy.guard``) holds text back while it may begin a protected run.
Strings outside every guarded field (see ``proxy.dialects._strays``) are not held: each is
checked at once, together with the recent text of the same field, and a hit ends the response
before the string is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.matching.catalogue import Action
from proxy.matching.normalize import MAX_WORD_CHARS, words
from proxy.matching.seam import Finding, Matcher, scan_once


class StrayCheck:
    """The stray fields of one response, by path."""

    def __init__(self, matcher: Matcher, record: Callable[[str, Finding], None]) -> None:
        self._matcher = matcher
        self._record = record  # a new finding, with its stream key ("stray" + path)
        self._seen: set[tuple[str, str]] = set()  # (key, work) already recorded
        self.tails: dict[str, str] = {}  # path -> the recent text of that stray field
        self.hit = False  # some stray string completed a run that blocks or redacts

    def check(self, path: str, text: str) -> bool:
        """Whether ``text`` (the next string at ``path``) completes a run that blocks or redacts.

        The last word counts as finished: nothing of a stray field is held back to wait.
        """
        before = self.tails.get(path, "")
        joined = before + text
        found = [f for f in scan_once(self._matcher, joined) if f.end > len(before)]
        self.tails[path] = self._tail(joined)
        hit = False
        key = f"stray{path}"
        for finding in found:
            if (key, finding.work) not in self._seen:
                self._seen.add((key, finding.work))
                self._record(key, finding)
            hit = hit or finding.action in (Action.BLOCK, Action.REDACT)
        self.hit = self.hit or hit
        return hit

    def _tail(self, text: str) -> str:
        """What of a stray field's text the next piece must be checked with.

        A run that ends in the next piece has at most ``max_min_words - 1`` words before it,
        so only those are kept: each check stays as short as the run it looks for.  A word
        longer than any protected word breaks every run, so nothing before it matters and
        enough of it is kept to stay too long.
        """
        keep = self._matcher.max_min_words - 1
        spans = words(text)[-keep:] if keep > 0 else []
        start = spans[0][1] if spans else len(text)
        for _, a, b in reversed(spans):
            if b - a > MAX_WORD_CHARS:
                start = max(start, b - MAX_WORD_CHARS - 1)
                break
        return text[start:]
