"""Holding back logprob entries until the text they repeat has been released.

Logprob entries repeat the model's tokens, so forwarding them as they arrive would leak
text the filter holds back or redacts.  A ``LogprobQueue`` remembers, for one stream key,
where each entry's token ends in the original text and lets an entry go only once the
released text reproduces the original up to that point.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class LogprobQueue(Generic[T]):
    """Logprob entries of one stream key, released in order as their text is confirmed."""

    __slots__ = ("_base", "_diverged", "_entries", "_tail")

    def __init__(self) -> None:
        self._base = 0  # length of the original text confirmed by the released text
        self._tail = ""  # original text after ``_base``, not yet confirmed
        self._entries: deque[tuple[int, T]] = deque()  # (end offset in original text, entry)
        self._diverged = False

    def add(self, text: str, entries: Sequence[T], tokens: Sequence[str]) -> None:
        """Append the next original ``text`` and the entries (with their tokens) covering it.

        Token lengths place each entry inside ``text``; the last entry always ends at the
        end of ``text``, so tokens that do not spell the text exactly stay safe.
        """
        start = self._base + len(self._tail)
        end = start + len(text)
        if not self._diverged:
            self._tail += text
        if self._diverged or not entries:
            return
        pos, last = start, len(entries) - 1
        for k, entry in enumerate(entries):
            if k < last:
                pos = min(pos + len(tokens[k]) if k < len(tokens) else pos, end)
            self._entries.append((end if k == last else pos, entry))

    def take(self, released: str) -> list[T]:
        """Entries whose text ``released`` (all text sent so far on the key) reproduces."""
        if not self._diverged and self._tail:
            got = released[self._base : self._base + len(self._tail)]
            n = len(got)
            if got == self._tail[:n]:
                advance = n
            else:
                advance = next(k for k in range(n) if got[k] != self._tail[k])
                self._diverged = True
            self._base += advance
            self._tail = "" if self._diverged else self._tail[advance:]
        out: list[T] = []
        entries = self._entries
        while entries and entries[0][0] <= self._base:
            out.append(entries.popleft()[1])
        if self._diverged:
            entries.clear()
        return out

    def drop(self) -> None:
        """The key ended: entries still waiting can never be released."""
        self._entries.clear()
        self._tail = ""
        self._diverged = True


class LogprobBook(Generic[T]):
    """One ``LogprobQueue`` per stream key."""

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[str, LogprobQueue[T]] = {}

    def add(self, key: str, text: str, entries: Sequence[T], tokens: Sequence[str]) -> None:
        """Record original text and entries for ``key``."""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = LogprobQueue()
        queue.add(text, entries, tokens)

    def take(self, key: str, released: str) -> list[T]:
        """Entries of ``key`` now confirmed by its released text."""
        queue = self._queues.get(key)
        return queue.take(released) if queue is not None else []

    def drop(self, key: str) -> None:
        """Forget the waiting entries of an ended key."""
        queue = self._queues.get(key)
        if queue is not None:
            queue.drop()


def keep_logprobs(
    original: str, released: str, entries: Sequence[T], tokens: Sequence[str]
) -> list[T]:
    """The entries of a complete text that ``released`` reproduces (non-streamed bodies)."""
    queue: LogprobQueue[T] = LogprobQueue()
    queue.add(original, entries, tokens)
    return queue.take(released)
