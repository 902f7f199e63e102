"""Incremental matching of one output text stream, with the holdback answer.

Feed output text in pieces of any size; after each ``feed`` the session says up to
which original offset the text is *safe* to release.  Text is held while it is (a)
the live partial match: the longest suffix of the output's words that is a prefix of
some loaded window, with the word still under way after it, (b) a word under way that
could still begin a window, (c) part of a run aligned with a protected work that has
not ended yet, or a finding waiting to be settled, (d) a near-verbatim candidate past
its budget (``chains``), or (e) text the character pass has not settled.  Clean text is
therefore held only as long as it looks like a beginning.

Guarantee: a caller that releases only text before ``safe_until`` never releases
``min_words`` aligned words of a run that counts (exact, or near-verbatim under the gap
rule).  An exact stretch of seed length contains a whole loaded window starting within
its first ``stride`` words; from that window's first word on everything is held (with a
short stride, from its second word, and a word under way or a lone letter may go out
too: ``MatchIndex.loose``), so at most ``stride + 2`` words of it can be out before the
window completes and the run is found.  A finding's ``start`` can therefore lie before
what a caller has already released; it redacts or cuts from where it is.

A *strict* session also holds the ``stride - 1`` words before the live partial match (or
before the end, when there is none): every word an exact run could still begin with, and
gives up the short-stride allowance above.  Then no word of an exact run is released before
the run is found, and clean text waits ``stride - 1`` words longer.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.matching.aho import lone
from proxy.matching.aho.chains import Chains, Run
from proxy.matching.aho.lone import Fresh
from proxy.matching.aho.seeds import SeedIndex, cannot_start
from proxy.matching.aho.split import (
    ASCII_GAP,
    PLAIN_WORD_RE,
    one_word,
    plain_tail,
    regex_tail,
)
from proxy.matching.clean import Cleaner, Piece
from proxy.matching.normalize import (
    CONTINUATION_RE,
    MAX_WORD_CHARS,
    WORD_RE,
    SpanMap,
)
from proxy.matching.seam import Finding

# Ids of recent output words are kept this far behind the live partial match (for the
# backward extension of a new alignment), plus slack so trimming is amortised.
_TRIM_SLACK = 64


class MatchSession:
    """Matcher state for one output text stream (one choice, one content block, ...)."""

    def __init__(self, index: SeedIndex, strict: bool = False) -> None:
        self._index = index
        self._seeker = index.seeker()
        self._lead_in = index.stride - 1 if strict else 0  # words held before a live match
        self._pending = ""  # the last, possibly unfinished word
        self._pending_start = 0  # in cleaned text
        self._fed = 0
        self._cleaner = Cleaner()  # the character pass, ahead of word splitting
        self._spans = SpanMap()  # cleaned offsets back to what was fed
        self._cfed = 0  # cleaned characters so far
        self._overlong = False  # inside a word too long to be protected
        self._n = 0  # words seen
        self._base = 0  # word number of _ids[0]
        self._ids: list[int] = []
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._live = 0  # first word of the live partial match (== _n: none)
        self._runs: list[Run] = []
        # A window's postings that may all break off at the next word (``lone``), as one
        # group until then; they come after ``_runs`` in every respect.
        self._fresh: Fresh | None = None
        self._waiting: list[tuple[Run, int]] = []  # finished runs that count, by work
        self._chains = Chains(index)  # near-verbatim candidates
        self._active_hits = 0

    # -- public --------------------------------------------------------------------------

    @property
    def fed(self) -> int:
        """Characters fed so far."""
        return self._fed

    @property
    def safe_until(self) -> int:
        """Original offset before which no text can become part of a finding."""
        # Text the character pass has not settled yet is held, except, with a short stride,
        # a lone letter (one word at most, counted in the margin ``loose`` needs).
        loose = 0 if self._lead_in else self._index.loose  # strict: nothing goes out early
        safe = self._cleaner.held + (self._cleaner.lone_letter if loose else 0)
        # The first word of the live partial match may go out when the stride is shorter
        # than min_words (then fewer than min_words words of a run are out when its window
        # completes); otherwise the live match is held from its first word.
        if self._live < self._n:
            first = self._live + loose
            if first < self._n:
                safe = min(safe, self._starts[first - self._base])
            elif self._pending and not (loose and one_word(self._pending)):
                # it would be the live match's second word (one or two words may go out)
                safe = min(safe, self._spans.lo(self._pending_start))
        elif (
            self._pending
            and not (loose and one_word(self._pending))
            and not cannot_start(self._pending, self._index.starts_word)
        ):
            safe = min(safe, self._spans.lo(self._pending_start))
        if self._lead_in and self._n:
            # A run's first loaded window starts within its first ``stride`` words: the
            # words before it are the lead-in, held until the window shows or cannot.
            first = max(self._live - self._lead_in, self._base)
            if first < self._n:
                safe = min(safe, self._starts[first - self._base])
        # compared, not ``min()``: asked after every delta, with a run or two under way
        for run in self._runs:
            if run.start < safe:
                safe = run.start
        if self._fresh is not None and self._fresh.hold < safe:
            safe = self._fresh.hold
        for run, _ in self._waiting:  # findings waiting: rare
            safe = min(safe, run.start)
        return self._chains.hold(safe) if self._chains.items else safe

    @property
    def open(self) -> bool:
        """Whether any alignment is being followed or waits to be settled (else no findings)."""
        return bool(self._runs or self._fresh or self._waiting or self._chains.busy)

    def seal(self) -> None:
        """What was fed is the request: near-verbatim runs do not bridge into what follows."""
        self._end_pending()
        self._chains.seal(self._n)

    def feed(self, text: str) -> list[Finding]:
        """Take the next piece of output; return the findings settled by it."""
        if not text:
            return []
        self._fed += len(text)
        for piece in self._cleaner.feed(text):
            self._take(piece)
        if self._pending and self._pending[-1].isspace():
            # A word waiting only to see whether "'s" or "n't" follows is over when the
            # next character, still held by the character pass, is another letter.
            nxt = self._cleaner.next_char
            if nxt.isalpha() and nxt not in "nN":
                self._end_pending()
        if not self._waiting and self._chains.idle(self._n):
            return []  # the usual chunk: nothing to settle
        return self._settle()

    def _take(self, piece: Piece) -> None:
        """Split the next piece of cleaned text into words."""
        spans = self._spans
        text, lo, hi, ident = piece
        spans.add(text, lo, hi, ident)
        start = self._cfed
        self._cfed += len(text)
        if len(spans) > 32:
            spans.trim(self._pending_start if self._pending else start)
        if not text:
            return
        if self._overlong:
            m = CONTINUATION_RE.match(text)
            if m is None or m.end() == len(text):
                return
            self._overlong = False
            cut = m.end()
            text, start = text[cut:], start + cut
        buf = self._pending + text
        if buf.isalnum() and buf.isascii() and len(buf) <= MAX_WORD_CHARS:
            # A word under way, not ended yet: it stays the pending word (the common case
            # for small deltas; no splitting at all).
            if not self._pending:
                self._pending_start = start
            self._pending = buf
            return
        origin = start - len(self._pending)
        self._pending = ""
        size = len(buf)
        plain = buf.isascii() and "'" not in buf and "-" not in buf
        tail = plain_tail if plain else regex_tail
        for w in PLAIN_WORD_RE.finditer(buf) if plain else WORD_RE.finditer(buf):
            s, e = w.span()
            if e == size or (size - e < 8 and tail(buf, e)):
                if e - s > MAX_WORD_CHARS:
                    self._word((0,), origin + s, origin + e)
                    self._overlong = True
                else:
                    self._pending, self._pending_start = buf[s:], origin + s
                break
            if e - s > MAX_WORD_CHARS:
                self._word((0,), origin + s, origin + e)
            else:
                self._word(self._index.word_ids(w.group()), origin + s, origin + e)

    def _word(self, ids: tuple[int, ...], start: int, end: int) -> None:
        """Add a word found at cleaned offsets [start, end), with its original span."""
        self._add_word(ids, self._spans.lo(start), self._spans.hi(end - 1))

    def flush(self) -> list[Finding]:
        """End of stream: settle everything; afterwards all text is safe."""
        for piece in self._cleaner.feed("", final=True):
            self._take(piece)
        self._end_pending()
        self._overlong = False
        for run in self._runs:
            self._finish(run)
        self._runs = []
        if self._fresh is not None:
            self._chains.bury(self._fresh, list(range(len(self._fresh.gs))))
            self._fresh = None
        self._live = self._n
        return self._settle(final=True)

    def _end_pending(self) -> None:
        """The word under way is over: add it."""
        pending = self._pending
        if pending:
            word = pending.rstrip(ASCII_GAP)
            if word.isascii() and word.isalnum() and len(word) <= MAX_WORD_CHARS:
                start = self._pending_start  # plain ASCII: the word itself, no regex
                self._word(self._index.word_ids(word), start, start + len(word))
                self._pending = ""
                return
            origin = self._pending_start
            for m in WORD_RE.finditer(self._pending):
                s, e = m.span()
                raw = m.group()
                ids = (0,) if e - s > MAX_WORD_CHARS else self._index.word_ids(raw)
                self._word(ids, origin + s, origin + e)
            self._pending = ""

    def open_findings(self) -> list[Finding]:
        """Runs already long enough to be findings that may still grow (for early blocking)."""
        out = [self._finding(run, work) for run, work in self._waiting]
        for run in self._runs:
            work = run.work
            min_words = self._index.works[work].rule.min_words
            if self._index.own_words(run.g0, run.g) >= min_words:
                out.append(self._finding(run, work))
        for chain in self._chains.items:
            out += [self._finding(run, chain.work) for run in self._chains.qualifying(chain)]
        return out

    # -- words ---------------------------------------------------------------------------

    def _add_word(self, ids: tuple[int, ...], start: int, end: int) -> None:
        index = self._index
        for wid in ids:
            n = self._n
            if self._runs:
                source = index.source
                kept = []
                for run in self._runs:
                    if wid and source[run.g + 1] == wid:
                        run.g += 1
                        run.last, run.end = n, end
                        kept.append(run)
                    else:
                        self._finish(run)
                        self._chains.broke(run)
                self._runs = kept
            if self._fresh is not None:  # the window's grouped postings: on, or broken off
                on, dead = self._fresh.resolve(wid, n, end, index.source)
                self._runs += on
                self._chains.bury(self._fresh, dead)
                self._fresh = None
            if wid and self._chains.broken:
                self._chains.broken.resync(wid, n, start, end, self._runs)
            self._ids.append(wid)
            self._starts.append(start)
            self._ends.append(end)
            self._n = n + 1
            live, postings = self._seeker.push(wid)
            self._live = n + 1 - live
            if postings:
                self._hit(postings, self._live, n)
        if self._live - self._base > index.stride + 2 * _TRIM_SLACK:
            self._trim()

    def _hit(self, postings: Sequence[int], first: int, last: int) -> None:
        """A whole loaded window ends at output word ``last``: align it with its sources.

        With many postings, those that would be lone segments if they broke off at the next
        word (``lone``) wait there as one group, after the runs.
        """
        index, base = self._index, self._base
        source, ids = index.source, self._ids
        w1, end = index.window - 1, self._ends[last - base]
        if self._runs:  # a set, not a scan of the runs per posting: a window can have hundreds
            followed = {run.g for run in self._runs}
            if not followed.isdisjoint(map(w1.__add__, postings)):
                postings = [q for q in postings if q + w1 not in followed]
        if len(postings) < lone.GROUP_MIN:
            others = [(q, index.work_index(q)) for q in postings]
        else:
            # those reaching further back than the window (rare) are runs
            before = ids[first - 1 - base] if first > base else 0
            back: list[int] = []
            if before and before in map(source.__getitem__, map((-1).__add__, postings)):
                back = [q for q in postings if source[q - 1] == before]
            gone = set(back)
            plain = [q for q in postings if q not in gone] if back else postings
            span = (first, last, self._starts[first - base], end)
            self._fresh, grown = Fresh.gather(lone.tables(index), list(plain), index.window, span)
            others = [*((q, index.work_index(q)) for q in back), *grown]
        for q, work in others:
            i, p = first - 1, q - 1
            while i >= base and source[p] and source[p] == ids[i - base]:
                i -= 1
                p -= 1
            start = self._starts[i + 1 - base]
            self._runs.append(Run(p + 1, q + w1, i + 1, last, start, end, work))

    def _trim(self) -> None:
        drop = self._live - self._base - self._index.stride - _TRIM_SLACK
        if drop > 0:
            del self._ids[:drop], self._starts[:drop], self._ends[:drop]
            self._base += drop

    # -- findings ------------------------------------------------------------------------

    def _finish(self, run: Run) -> None:
        """A run ended: a finding if long enough, or a segment of a near-verbatim run."""
        index = self._index
        work = run.work
        rule = index.works[work].rule
        if rule.max_gap_words:
            self._chains.join(run, work, rule.max_gap_words)
            return
        min_words = rule.min_words
        if run.last - run.first + 1 < min_words or index.own_words(run.g0, run.g) < min_words:
            return  # too short, or long only with boilerplate
        self._keep(run, work)

    def _keep(self, run: Run, work: int) -> None:
        """A finding, merged with its work's neighbours, waits to be settled."""
        if self._index.allowed(run.g0, run.g):
            return
        kept = []
        for other, other_work in self._waiting:
            if other_work == work and other.first <= run.last + 1 and run.first <= other.last + 1:
                longest = run if run.last - run.first >= other.last - other.first else other
                merged = Run(longest.g0, longest.g, min(run.first, other.first), 0, 0, 0, work)
                merged.last, merged.start = max(run.last, other.last), min(run.start, other.start)
                merged.end = max(run.end, other.end)
                run = merged
            else:
                kept.append((other, other_work))
        kept.append((run, work))
        self._waiting = kept

    def _close_chains(self, final: bool) -> None:
        """Chains no later segment can join: their qualifying parts become findings."""
        if self._chains.busy:
            for run, work in self._chains.close(self._n, self._runs, final, self._fresh):
                self._keep(run, work)

    def _settle(self, final: bool = False) -> list[Finding]:
        """Hand out waiting findings that no later run can touch any more."""
        self._close_chains(final)
        if not self._waiting:
            return []
        horizon = self._live - self._index.stride
        for run in self._runs:
            horizon = min(horizon, run.first)
        if self._fresh is not None:
            horizon = min(horizon, self._fresh.first)
        horizon = self._chains.earliest(horizon)
        out, keep = [], []
        for run, work in self._waiting:
            if final or run.last + 1 < horizon:
                out.append(self._finding(run, work))
            else:
                keep.append((run, work))
        self._waiting = keep
        out.sort(key=lambda f: f.start)
        return out

    def _finding(self, run: Run, work: int) -> Finding:
        info = self._index.works[work]
        origin = self._index.work_starts[work]
        return Finding(
            work=info.id,
            title=info.title,
            collection=info.collection,
            action=info.rule.action,
            start=run.start,
            end=run.end,
            words=run.last - run.first + 1,
            source_start=run.g0 - origin,
            source_end=run.g - origin + 1,
        )
