"""The compiled form of a catalogue: word ids, the source word sequence and the automaton.

Every normalised word of the catalogue gets an integer id (most frequent first) and a
fixed-width code of ``digits`` characters.  The automaton holds *windows*: the codes of
``window`` consecutive words, taken at every ``stride``-th position of each work.  A
protected run of ``window + stride - 1`` words always contains one whole window, so
loading every ``stride``-th window keeps the guarantee while cutting memory by
``stride``; the exact span is recovered by extending along ``source``, the catalogue's
word ids end to end (0 between works).  Codes of two characters keep every trie node's
fan-out small: pyahocorasick looks children up by linear scan.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import ahocorasick

from proxy.matching.aho.split import GLUED_WORD
from proxy.matching.boilerplate import BoilerplateRun, builtin_corpus, mark
from proxy.matching.catalogue import Action, Catalogue, Rule, Work
from proxy.matching.normalize import MAX_WORD_CHARS, fold, words
from proxy.matching.seam import WorkInfo
from proxy.matching.spelling import variants

if TYPE_CHECKING:
    from proxy.matching.aho.session import MatchSession

#: Bumped whenever the compiled layout changes, so stale caches are never loaded.
FORMAT_VERSION = 4
_CODE_BASE = 0x100
_MAX_POSTINGS = 256
_WORD_CACHE_LIMIT = 200_000


def add_windows(
    postings: dict[str, list[int]],
    ids: Sequence[int],
    start: int,
    window: int,
    stride: int,
    codes: Sequence[str],
) -> None:
    """Load the windows of one work (its ``ids`` from ``start`` in ``source``) at every
    ``stride``-th position; a window with an unknown word (0) is none."""
    for p in range(0, len(ids) - window + 1, stride):
        chunk = ids[p : p + window]
        if 0 not in chunk:
            postings.setdefault("".join([codes[i] for i in chunk]), []).append(start + p)


def window_and_stride(min_words: int) -> tuple[int, int]:
    """Window length k and stride s with k + s - 1 == min_words (s * k smallest memory)."""
    window = max(1, (min_words + 1) // 2)
    return window, min_words - window + 1


class MatchIndex:
    """Read-only after construction; shared by every ``MatchSession``."""

    def __init__(
        self,
        *,
        vocab: dict[str, int],
        source: array[int],
        work_starts: array[int],
        works: tuple[WorkInfo, ...],
        automaton: ahocorasick.Automaton,
        multi: list[tuple[int, ...]],
        window: int,
        stride: int,
        allow: tuple[str, ...],
        content_hash: str,
        starters: frozenset[str] = frozenset(),
        boiler: bytearray | None = None,
        boilerplate_runs: tuple[BoilerplateRun, ...] = (),
    ) -> None:
        self.vocab = vocab
        self.source = source
        self.work_starts = work_starts
        self.works = works
        self.work_by_id = {w.id: w for w in works}
        # With only annotate/log actions nothing is ever withheld, so nothing need be held.
        self.withholds = any(w.rule.action in (Action.BLOCK, Action.REDACT) for w in works)
        # The longest run any rule asks for before it counts (collections may ask for more).
        # (A near-verbatim run may spread its min_words aligned words over more output words.)
        self.max_min_words = max((_longest_run(w.rule) for w in works), default=window + stride - 1)
        self.automaton = automaton
        self.multi = multi
        self.window = window
        self.stride = stride
        # 1 when a live partial match's first words may be released: its first word and a
        # word under way (at most two words: a number under 100), or a lone letter; so at
        # most stride + 2 words of a run are out when its window completes (see
        # MatchSession.safe_until), fewer than min_words.
        least = min((w.rule.min_words for w in works), default=window + stride - 1)
        self.loose = int(stride + 3 < least)
        self.allow = allow
        # Every prefix of every word that begins a loaded window: a word still being
        # typed that is none of these cannot start a protected run.
        self.starters = starters
        self.content_hash = content_hash
        # 1 for each source word inside catalogue boilerplate (see proxy.matching.boilerplate)
        self.boiler = boiler if boiler is not None else bytearray(len(source))
        self.boilerplate_runs = boilerplate_runs
        self.digits, self.codes = _code_table(len(vocab) + 1)
        self._word_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def build(cls, catalogue: Catalogue) -> MatchIndex:
        """Compile a catalogue (pure CPU work; run it off the event loop)."""
        policy = catalogue.policy
        kept = [w for w in catalogue.works if w.id not in policy.allow_works]
        tokenised = [[norm for norm, _, _ in words(w.text)] for w in kept]
        counts = Counter(t for toks in tokenised for t in toks if t)
        vocab = {word: i for i, (word, _) in enumerate(counts.most_common(), start=1)}
        window, stride = window_and_stride(policy.seed_words)
        digits, codes = _code_table(len(vocab) + 1)

        source = array("I", [0])
        work_starts = array("I")
        postings: dict[str, list[int]] = {}
        all_ids = [[vocab.get(t, 0) for t in toks] for toks in tokenised]
        marks, runs = _boilerplate(catalogue, kept, all_ids, vocab)
        boiler = bytearray(1)
        for ids, flags in zip(all_ids, marks, strict=True):
            start = len(source)
            work_starts.append(start)
            boiler += flags + b"\0"
            source.extend(ids)
            source.append(0)
            add_windows(postings, ids, start, window, stride, codes)

        automaton, multi = windows_automaton(postings)
        infos = tuple(
            WorkInfo(w.id, w.display_title, w.collection, policy.rule(w.collection)) for w in kept
        )
        index = cls(
            vocab=vocab,
            source=source,
            work_starts=work_starts,
            works=infos,
            automaton=automaton,
            multi=multi,
            window=window,
            stride=stride,
            allow=(),
            content_hash=catalogue.content_hash,
            starters=_starters(postings, vocab, codes),
            boiler=boiler,
            boilerplate_runs=tuple(runs),
        )
        index.allow = tuple(index.encode(index.ids_of(p)) for p in policy.allow_phrases)
        return index

    def session(self, context: str | None = None, strict: bool = False) -> MatchSession:
        """A session for one output stream (``context`` is not used by this engine yet)."""
        from proxy.matching.aho.session import MatchSession

        return MatchSession(self, strict)

    def seeker(self) -> _AutomatonSeeker:
        return _AutomatonSeeker(self)

    def starts_word(self, prefix: str) -> bool:
        return prefix in self.starters

    # -- words -------------------------------------------------------------------------

    def word_ids(self, raw: str) -> tuple[int, ...]:
        """Ids of one raw output word (0 for words no protected work contains)."""
        cached = self._word_cache.get(raw)
        if cached is None:
            cached = (0,) if len(raw) > MAX_WORD_CHARS else self._ids_of_word(raw)
            if len(self._word_cache) >= _WORD_CACHE_LIMIT:
                self._word_cache.clear()
            self._word_cache[raw] = cached
        return cached

    def _ids_of_word(self, raw: str) -> tuple[int, ...]:
        return ids_of_word(raw, self._vocab_id)

    def _vocab_id(self, norm: str) -> int:
        return self.vocab.get(norm, 0)

    def ids_of(self, text: str) -> list[int]:
        return [self.vocab.get(norm, 0) for norm, _, _ in words(text)]

    def encode(self, ids: Iterable[int]) -> str:
        return "".join([self.codes[i] for i in ids])

    # -- source ------------------------------------------------------------------------

    def postings(self, key: str) -> tuple[int, ...]:
        """Start positions in ``source`` of the loaded window ``key``."""
        value: int = self.automaton.get(key)
        return (value >> 1,) if value & 1 == 0 else self.multi[value >> 1]

    def work_index(self, pos: int) -> int:
        return bisect.bisect_right(self.work_starts, pos) - 1

    def allowed(self, first: int, last: int) -> bool:
        """Whether source words [first, last] lie within an allow-listed phrase."""
        if not self.allow:
            return False
        needle = self.encode(self.source[first : last + 1])
        for phrase in self.allow:
            at = phrase.find(needle)
            while at >= 0:
                if at % self.digits == 0:
                    return True
                at = phrase.find(needle, at + 1)
        return False

    def own_words(self, first: int, last: int) -> int:
        """Source words [first, last] that are not boilerplate."""
        return last - first + 1 - sum(self.boiler[first : last + 1])

    @property
    def word_count(self) -> int:
        return len(self.source) - len(self.works) - 1


def windows_automaton(
    postings: dict[str, list[int]],
) -> tuple[ahocorasick.Automaton, list[tuple[int, ...]]]:
    """The automaton of window keys: a single position inline, several via ``multi``."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    multi: list[tuple[int, ...]] = []
    for key, where in postings.items():
        if len(where) == 1:
            automaton.add_word(key, where[0] << 1)
        else:
            automaton.add_word(key, (len(multi) << 1) | 1)
            multi.append(tuple(where[:_MAX_POSTINGS]))
    return automaton, multi


def ids_of_word(raw: str, lookup: Callable[[str], int]) -> tuple[int, ...]:
    """Ids of one raw output word, by ``lookup`` (a normal form's id, 0 if unknown)."""
    norms = fold(raw)
    if len(norms) > 1 and not raw.islower():
        # Split as camel case; but random capitals ("WhaLe") are one word: a known
        # word read whole wins over its parts.
        whole = fold(raw.lower())
        if len(whole) == 1 and (wid := lookup(whole[0])):
            return (wid,)
    ids: list[int] = []
    for norm in norms:
        wid = lookup(norm)
        if not wid and len(norm) >= GLUED_WORD and norm.isascii():
            ids += segment(norm, lookup) or (0,)
        else:
            ids.append(wid)
    return tuple(ids)


def segment(glued: str, lookup: Callable[[str], int]) -> tuple[int, ...]:
    """A long unknown word read as known words glued together ("thewhitewhale"), as a
    spaced-out line without word gaps becomes; () if it does not read so.

    Fewest pieces wins; in a long one (a spaced-out run is cut every 64 letters) the
    first and last piece may be a word cut off (unknown).
    """
    size = len(glued)
    best: list[tuple[int, tuple[int, ...]] | None] = [None] * (size + 1)
    best[0] = (0, ())
    for i in range(1, size + 1):
        for j in range(max(0, i - 24), i):
            prev = best[j]
            if prev is None:
                continue
            piece = glued[j:i]
            wid = lookup(piece) if i - j > 1 or piece in "aio" else 0
            if not wid and (size < 48 or (j and i < size)):
                continue
            cost = prev[0] + (1 if wid else 2 + i - j)  # cut-off words: short ones
            if best[i] is None or cost < best[i][0]:  # type: ignore[index]
                best[i] = (cost, (*prev[1], wid))
    found = best[size]
    return found[1] if found is not None and sum(1 for w in found[1] if w) >= 3 else ()


class _AutomatonSeeker:
    """The live partial match as window codes, tested against the automaton's trie."""

    __slots__ = ("_codes", "_index")

    def __init__(self, index: MatchIndex) -> None:
        self._index = index
        self._codes: list[str] = []  # codes of the live partial match (at most ``window``)

    def push(self, wid: int) -> tuple[int, tuple[int, ...]]:
        codes = self._codes
        if not wid:
            codes.clear()
            return 0, ()
        index = self._index
        codes.append(index.codes[wid])
        match = index.automaton.match
        while codes:
            key = "".join(codes)
            if match(key):
                if len(codes) == index.window:
                    return len(codes), index.postings(key)
                break
            del codes[0]
        return len(codes), ()


def longest_run(rule: Rule) -> int:
    """The most output words a shortest finding under ``rule`` can spread over."""
    return _longest_run(rule)


def _longest_run(rule: Rule) -> int:
    """The most output words a shortest finding under ``rule`` can spread over."""
    if not rule.max_gap_words:
        return rule.min_words
    return math.ceil(rule.min_words / rule.min_share) + rule.max_gap_words


def _boilerplate(
    catalogue: Catalogue, kept: list[Work], ids: list[list[int]], vocab: dict[str, int]
) -> tuple[list[bytearray], list[BoilerplateRun]]:
    settings = catalogue.policy.boilerplate
    texts = [*catalogue.background, *([builtin_corpus()] if settings.builtin else [])]
    background = [[vocab.get(norm, 0) for norm, _, _ in words(t)] for t in texts]
    keep = [w.id in settings.keep for w in kept]
    return mark(ids, background, settings.min_works, keep)


def _starters(
    postings: dict[str, list[int]], vocab: dict[str, int], codes: list[str]
) -> frozenset[str]:
    """Every prefix of every word that begins some loaded window."""
    digits = len(codes[1]) if len(codes) > 1 else 2
    first_codes = {key[:digits] for key in postings}
    firsts = [word for word, i in vocab.items() if codes[i] in first_codes]
    spellings = variants()  # "colou" may still become "colour", which folds to "color"
    firsts += [v for w in firsts for v in spellings.get(w, ())]
    return frozenset(w[:n] for w in firsts for n in range(1, len(w) + 1))


def _code_table(size: int) -> tuple[int, list[str]]:
    """Fixed-width codes for ids 0..size-1; id 0 (unknown word) gets "", which matches nothing."""
    digits = 2 if size <= 256 * 256 else 3
    base = max(2, math.ceil(size ** (1 / digits)))
    codes = [""]
    for i in range(1, size):
        chars = []
        for _ in range(digits):
            i, rem = divmod(i, base)
            chars.append(chr(_CODE_BASE + rem))
        codes.append("".join(reversed(chars)))
    return digits, codes


__all__ = ["FORMAT_VERSION", "MatchIndex", "window_and_stride"]
