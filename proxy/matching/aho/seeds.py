"""What the run layer (``aho.session``) needs from an engine: its seed lookup and data.

The automaton engine (``aho.index``) and the k-gram index (``kgram.engine``) both provide
a ``SeedIndex``; the run rules (alignment, extension, gaps, boilerplate, holdback) are
implemented once, in ``aho.session`` and ``aho.chains``, over it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from proxy.matching.aho.split import ASCII_GAP, GLUED_WORD
from proxy.matching.normalize import MAX_WORD_CHARS, fold
from proxy.matching.seam import WorkInfo


class Seeker(Protocol):
    """An engine's seed lookup for one stream: the live partial match over word ids."""

    def push(self, wid: int) -> tuple[int, Sequence[int]]:
        """Add the next output word (0: unknown); return the length of the longest suffix of
        the words that is a prefix of some loaded window, and, when that suffix is a whole
        loaded window, the source positions where it starts (else empty)."""
        ...


class SeedIndex(Protocol):
    """What the run layer needs from an engine (the Aho-Corasick one, or the k-gram index)."""

    @property
    def source(self) -> Sequence[int]:
        """The catalogue's word ids end to end (0 between works)."""
        ...

    @property
    def work_starts(self) -> Sequence[int]: ...

    @property
    def works(self) -> Sequence[WorkInfo]:
        """Every work in ``source`` order (``work_index`` numbers them)."""
        ...

    @property
    def window(self) -> int: ...

    @property
    def stride(self) -> int: ...

    @property
    def loose(self) -> int:
        """1 when a live partial match's first words may be released (``MatchIndex.loose``)."""
        ...

    def word_ids(self, raw: str) -> tuple[int, ...]: ...

    def starts_word(self, prefix: str) -> bool:
        """Whether some word that begins a loaded window begins with ``prefix``."""
        ...

    def seeker(self) -> Seeker: ...

    def work_index(self, pos: int) -> int: ...

    def allowed(self, first: int, last: int) -> bool:
        """Whether source words [first, last] lie within an allow-listed phrase."""
        ...

    def own_words(self, first: int, last: int) -> int:
        """Source words [first, last] that are not boilerplate."""
        ...


def cannot_start(pending: str, starts_word: Callable[[str], bool]) -> bool:
    """Whether a word still being typed can no longer begin any loaded window.

    Only then is it released before it ends; any other word under way is held, so a
    finding never starts inside text the client already has.
    """
    pending = pending.rstrip(ASCII_GAP)  # a word waiting for a possible "'s"
    if len(pending) >= GLUED_WORD - 1:
        return False  # it may turn out to be several words glued together
    if pending.isascii() and pending.isalpha():
        low = pending.lower()
        if pending.islower() or pending[1:].islower():
            return not starts_word(low)
        # Capitals followed by a small letter split before each capital.
        return pending.isupper() and not starts_word(low) and not starts_word(low[0])
    if any(c.isupper() or c.isdigit() or c in "-\u2010\u2011" for c in pending):
        return False  # a camel-case or kebab split or a number may still come: hold it
    folded = fold(pending) if len(pending) <= MAX_WORD_CHARS else []
    return len(folded) == 1 and not starts_word(folded[0])
