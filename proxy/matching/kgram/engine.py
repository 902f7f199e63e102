"""The k-gram index engine: the automaton engine's run rules over a memory-mapped file.

Same windows as the automaton engine (``window`` words at every ``stride``-th position of
each work, or every position in strict mode), the same run layer (``aho.session``), but
the seeds come from sorted hashed k-grams in a read-only mapping (``layout``): a table of
window hashes with their source positions, a table of window-prefix hashes (the live
partial match), a table of the words' hashes (the vocabulary) and of the character
prefixes of window-starting words.  A lookup is a bucket directory read and a C bisect
over a memoryview (``hashing.Table``); a hit is checked word for word against ``source``,
so a hash collision can only hold text back a little longer, never make a finding.

Why this structure (measured on this machine, 2 cores shared, load 6-9; 5 M Zipf tokens):

- tokengrams (MIT, Rust suffix table, memory-mapped): builds in 5.3 s, ``contains`` 16.6 us
  a query from Python, and its table alone is 8 B a token (12 B a word with the tokens);
- pydivsufsort (MIT): an int32 suffix array in 3.7 s (8 B a word with the tokens), but a
  prefix search needs a binary search over it, 67 us a query in Python;
- numpy ``searchsorted``: 1.9 us for a batch of 8 sorted keys, but a single Python-int
  query costs ~1 ms (the array is converted), and the live partial match is one query
  per word that depends on the last answer, so batching per delta gains little;
- this table: 0.41 us a probe from Python with no compiled code of ours (the bisect is C),
  about 10 B per loaded window (fingerprint, position, directory share), so the file is
  6.8-7.6 B a catalogue word at 10^8-10^7 words (8.9-10.1 B with the short-run windows of
  ``Seeds(short=True)``; docs/benchmarks.md), and per-delta CPU on clean text is 1.0-1.2
  times the automaton engine's: the per-word path is one to three probes, most of them
  answered from a small per-process cache.
infini-gram was not used: its licence was non-commercial up to 2.2 and is unclear since.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from typing import Any

import numpy as np
import xxhash

from proxy.matching.aho.index import ids_of_word, longest_run
from proxy.matching.aho.session import MatchSession
from proxy.matching.boilerplate import BoilerplateRun
from proxy.matching.catalogue import Action, Boilerplate, Echo, Policy, Rule
from proxy.matching.kgram.hashing import SEED, Table, mix, run_state, step
from proxy.matching.kgram.layout import IndexFile
from proxy.matching.normalize import MAX_WORD_CHARS
from proxy.matching.seam import WorkInfo

_CACHE_LIMIT = 200_000
_VECTOR_POSTINGS = 16  # a window with this many postings is checked with numpy


def policy_from_json(doc: dict[str, Any]) -> Policy:
    """The policy ``build.policy_to_json`` wrote."""

    def rule(r: dict[str, Any]) -> Rule:
        # The enums by value: a plain "allow" would never be ``Echo.ALLOW`` (``is``).
        enums: dict[str, Any] = {"action": Action(r["action"])}
        if "echo" in r:  # an index built before the echo rule: the default
            enums["echo"] = Echo(r["echo"])
        return Rule(**{**r, **enums})

    bp = doc["boilerplate"]
    return Policy(
        rule(doc["default"]),
        {k: rule(v) for k, v in doc["collections"].items()},
        tuple(doc["allow_phrases"]),
        frozenset(doc["allow_works"]),
        Boilerplate(**{**bp, "keep": frozenset(bp["keep"])}),
    )


class Seeds:
    """An index file as the run layer sees it (``aho.session.SeedIndex``)."""

    def __init__(
        self, file: IndexFile, withdrawn: frozenset[int] = frozenset(), short: bool = False
    ) -> None:
        meta = file.meta
        self.file = file
        self.meta = meta
        # ``short``: the second windows, for runs of ``min_run`` words (exact runs only, as
        # the automaton engine's short-run form: ``aho.fine``)
        tables = meta["short"] if short else meta
        k = "s" if short else ""
        self.short = short
        self.window: int = tables["window"]
        self.stride: int = tables["stride"]
        self.policy = policy_from_json(meta["policy"])
        rules = {c: self.policy.rule(c) for _, _, c in meta["works"]}
        if short:
            run = tables["min_run"]
            rules = {
                c: dataclasses.replace(r, min_words=run, max_gap_words=0) for c, r in rules.items()
            }
        self.works = tuple(WorkInfo(i, t, c, rules[c]) for i, t, c in meta["works"])
        self.withdrawn = withdrawn
        self.source = file.view("source")
        self.work_starts = file.view("work_starts")
        self._vocab_keys = file.view("vocab_keys")
        self._vocab_ids = file.view("vocab_ids")
        self._vocab_off = file.view("vocab_off")
        self._vocab_blob = file.view("vocab_blob")
        self._starter = file.view(f"{k}starter")
        self._chars = file.view(f"{k}chr_keys")
        self._windows = Table(file.view(f"{k}win_dir"), file.view(f"{k}win_fp"), tables["win_bits"])
        self._win_pos = file.view(f"{k}win_pos")
        self._np_source = np.frombuffer(self.source, dtype=np.uint32)
        self._np_win_pos = np.frombuffer(self._win_pos, dtype=np.uint32)
        self._prefixes = Table(
            file.view(f"{k}pre_dir"), file.view(f"{k}pre_fp"), tables["pre_bits"]
        )
        # as ``MatchIndex.loose``: whether a live partial match's first words may go out
        least = min((w.rule.min_words for w in self.works), default=self.window + self.stride - 1)
        self.loose = int(self.stride + 3 < least)
        self._allow = [tuple(ids) for ids in meta["allow_ids"]]
        self._bp_start, self._bp_end = file.view("bp_start"), file.view("bp_end")
        if short:  # as the automaton engine's: runs this short count boilerplate too
            self._bp_start = self._bp_end = memoryview(b"").cast("I")
        self._word_cache: dict[str, tuple[int, ...]] = {}
        self._prefix_cache: dict[int, bool] = {}

    def with_withdrawn(self, withdrawn: frozenset[int]) -> Seeds:
        return Seeds(self.file, withdrawn, self.short)

    # -- words ---------------------------------------------------------------------------

    def word_ids(self, raw: str) -> tuple[int, ...]:
        """Ids of one raw output word (0 for words no protected work contains)."""
        cached = self._word_cache.get(raw)
        if cached is None:
            cached = (0,) if len(raw) > MAX_WORD_CHARS else ids_of_word(raw, self.word_id)
            if len(self._word_cache) >= _CACHE_LIMIT:
                self._word_cache.clear()
            self._word_cache[raw] = cached
        return cached

    def word_id(self, norm: str) -> int:
        data = norm.encode()
        h = xxhash.xxh3_64_intdigest(data)
        keys = self._vocab_keys
        i = bisect_left(keys, h)
        off, blob = self._vocab_off, self._vocab_blob
        while i < len(keys) and keys[i] == h:
            wid = self._vocab_ids[i]
            if blob[off[wid] : off[wid + 1]] == data:
                return wid
            i += 1
        return 0

    def starts_word(self, prefix: str) -> bool:
        """Whether some word that begins a loaded window begins with ``prefix``."""
        return self._char_prefix(prefix)

    def _char_prefix(self, text: str) -> bool:
        h = xxhash.xxh3_64_intdigest(text.encode())
        keys = self._chars
        i = bisect_left(keys, h)
        return i < len(keys) and keys[i] == h

    # -- windows -------------------------------------------------------------------------

    def seeker(self) -> _Seeker:
        return _Seeker(self)

    def is_starter(self, wid: int) -> bool:
        return wid < len(self._starter) and self._starter[wid] != 0

    def has_prefix(self, h: int) -> bool:
        """Whether some loaded window begins with the run of hash ``h`` (2..window-1 words)."""
        known = self._prefix_cache.get(h)
        if known is None:
            lo, hi = self._prefixes.find(h)
            known = lo < hi
            if len(self._prefix_cache) >= _CACHE_LIMIT:
                self._prefix_cache.clear()
            self._prefix_cache[h] = known
        return known

    def postings(self, h: int, ids: list[int]) -> list[int]:
        """Where the loaded window ``ids`` (hash ``h``) starts in ``source``."""
        lo, hi = self._windows.find(h)
        if lo == hi:
            return []
        source, n = self.source, len(ids)
        if hi - lo < _VECTOR_POSTINGS:
            found = [q for q in self._win_pos[lo:hi] if source[q : q + n].tolist() == ids]
        else:  # a common window: every posting checked at once
            at = self._np_win_pos[lo:hi].astype(np.int64)
            words = self._np_source[at[:, None] + np.arange(n)]
            found = at[(words == np.array(ids, dtype=np.uint32)).all(axis=1)].tolist()
        if self.withdrawn:  # tombstoned works never start a run (nor show as open findings)
            found = [q for q in found if self.work_index(q) not in self.withdrawn]
        return found

    # -- source --------------------------------------------------------------------------

    def work_index(self, pos: int) -> int:
        return bisect_right(self.work_starts, pos) - 1

    def own_words(self, first: int, last: int) -> int:
        """Source words [first, last] that are not boilerplate."""
        total = last - first + 1
        ends, starts = self._bp_end, self._bp_start
        i = bisect_right(ends, first)
        while i < len(starts) and starts[i] <= last:
            total -= min(ends[i], last + 1) - max(starts[i], first)
            i += 1
        return total

    def allowed(self, first: int, last: int) -> bool:
        """Whether source words [first, last] lie within an allow-listed phrase."""
        if not self._allow:
            return False
        needle = tuple(self.source[first : last + 1])
        n = len(needle)
        return any(
            phrase[i : i + n] == needle for phrase in self._allow for i in range(len(phrase))
        )


class _Seeker:
    """The live partial match over word ids, with its FNV state for O(1) extension."""

    __slots__ = ("_ids", "_seeds", "_state")

    def __init__(self, seeds: Seeds) -> None:
        self._seeds = seeds
        self._ids: list[int] = []
        self._state = SEED

    def push(self, wid: int) -> tuple[int, list[int]]:
        ids = self._ids
        if not wid:
            ids.clear()
            self._state = SEED
            return 0, []
        seeds = self._seeds
        window = seeds.window
        ids.append(wid)
        state = step(self._state, wid)
        while True:
            n = len(ids)
            if n == window:
                postings = seeds.postings(mix(state), ids)
                if postings:
                    self._state = state
                    return n, postings
            elif n == 1:
                if seeds.is_starter(wid):
                    self._state = state
                    return 1, []
            elif n < window and seeds.has_prefix(mix(state)):
                self._state = state
                return n, []
            del ids[0]
            if not ids:
                self._state = SEED
                return 0, []
            state = run_state(ids)


class KgramMatcher:
    """A mapped index as a ``seam.Matcher``; ``withdrawn`` works no longer match."""

    def __init__(
        self, file: IndexFile, withdrawn: frozenset[str] = frozenset(), short: bool = False
    ) -> None:
        probe = Seeds(file, short=short)
        numbers = frozenset(i for i, w in enumerate(probe.works) if w.id in withdrawn)
        self.seeds = probe.with_withdrawn(numbers) if numbers else probe
        self.file = file
        self.withdrawn = numbers
        self.works: tuple[WorkInfo, ...] = tuple(
            w for i, w in enumerate(self.seeds.works) if i not in numbers
        )
        self.work_by_id: Mapping[str, WorkInfo] = {w.id: w for w in self.works}
        meta = file.meta
        self._withdrawn_ids = withdrawn
        self._short: dict[int, KgramMatcher] = {}
        gone = sum(self._length(i) for i in numbers)
        self.word_count: int = meta["words"] - gone
        self.withholds = any(w.rule.action in (Action.BLOCK, Action.REDACT) for w in self.works)
        window, stride = self.seeds.window, self.seeds.stride
        self.max_min_words = max(
            (longest_run(w.rule) for w in self.works), default=window + stride - 1
        )
        number = {
            i: n for n, i in enumerate(i for i in range(len(self.seeds.works)) if i not in numbers)
        }
        self.boilerplate_runs = tuple(
            BoilerplateRun(number[w], s, e, n, bool(b))
            for w, s, e, n, b in meta["boilerplate_runs"]
            if w in number and not short
        )
        tag = ",".join(sorted(withdrawn & {w.id for w in self.seeds.works}))
        self.content_hash: str = meta["content_hash"] + (f"-{tag}" if tag else "")

    def _length(self, i: int) -> int:
        starts = self.seeds.work_starts
        end = starts[i + 1] if i + 1 < len(starts) else len(self.seeds.source)
        return int(end - starts[i] - 1)

    def session(self, context: str | None = None, strict: bool = False) -> MatchSession:
        """A session for one output stream (``context`` is not used by this engine yet)."""
        return MatchSession(self.seeds, strict)

    def short_runs(self, min_run: int) -> KgramMatcher | None:
        """This index matched for runs of ``min_run`` words, if it was built with windows for
        that length (``build-index --short-run``); memoised."""
        short = self.file.meta.get("short")
        if self.seeds.short or not short or short["min_run"] != min_run:
            return None
        if min_run not in self._short:
            self._short[min_run] = KgramMatcher(self.file, self._withdrawn_ids, short=True)
        return self._short[min_run]


def work_words(seeds: Seeds, i: int) -> memoryview:
    """The word ids of work number ``i``."""
    starts = seeds.work_starts
    end = starts[i + 1] - 1 if i + 1 < len(starts) else len(seeds.source) - 1
    return seeds.source[starts[i] : end]
