"""Join a dialect's text streams to matcher sessions and apply the policy's actions.

``ResponseGuard`` is the ``TextFilter`` a dialect talks to: one per response, one
matcher ``Session`` per stream key.  It releases only text the session calls safe,
replaces redacted findings, and ends a stream at the first blocking finding.  Strings no
stream guards are checked at once by ``proxy.stray_check``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from proxy.budget.watch import BudgetWatch, Extraction
from proxy.dialects._strays import strays
from proxy.dialects.base import DialectError, Sent
from proxy.matching.catalogue import Action
from proxy.matching.context import ContextSession
from proxy.matching.seam import Finding, Matcher, Session
from proxy.stray_check import StrayCheck


class GuardObserver(Protocol):
    """Where the guard reports each finding as it is made (metrics, logs); no-ops are fine."""

    def finding(self, key: str, finding: Finding) -> None: ...


class NullObserver:
    def finding(self, key: str, finding: Finding) -> None:
        pass


@dataclass(slots=True)
class _Stream:
    session: Session
    watch: BudgetWatch | None = None  # only for a key with a spent work
    held: str = ""  # original text from ``done`` to what was fed
    done: int = 0  # original offset up to which text is settled (sent or redacted)
    sent: list[str] = field(default_factory=list)
    redactions: list[Finding] = field(default_factory=list)
    arrivals: deque[tuple[int, float]] = field(default_factory=deque)
    blocked: bool = False
    closed: bool = False
    redacted: bool = False  # a replacement went out instead of original text


class ResponseGuard:
    """The ``TextFilter`` for one response.

    Besides the findings it keeps two figures of the response for metrics, read once when
    the response ends: ``longest_hold`` (seconds, the oldest text at any release) and
    ``most_held_words`` (the most words held between chunks, or after a release).
    """

    def __init__(
        self,
        index: Matcher,
        observer: GuardObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        strict: bool = False,
        extraction: Extraction | None = None,
    ) -> None:
        self._index = index
        self._withholds = index.withholds
        self._strict = strict  # holdback = "strict": no lead-in word of a run is released
        self.extraction = extraction or Extraction()
        self.reasons: dict[tuple[str, int, str], str] = {}  # (key, start, work) -> why
        self._observer = observer or NullObserver()
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self.findings: list[tuple[str, Finding]] = []
        # Characters of a withheld finding the client had already received when it was found.
        self._released: dict[tuple[str, int, str], int] = {}
        self.strays = StrayCheck(index, self._found)
        self.releases = 0
        self.longest_hold = 0.0
        self.most_held_words = 0
        self._most_held_chars = 0

    # -- TextFilter ------------------------------------------------------------------------

    def push(self, key: str, text: str) -> Sent:
        stream = self._streams.get(key) or self._stream(key)
        if stream.blocked or stream.closed or not text:
            return Sent("", stream.blocked)
        held = stream.held
        if len(held) > self._most_held_chars:
            # What waited for this chunk: text held in full and then released in one go
            # (a near-verbatim candidate that came to nothing) is never held after a release.
            self._most_held_chars = len(held)
            self.most_held_words = max(self.most_held_words, len(held.split()))
        stream.held = held + text
        session = stream.session
        now = self._clock()
        stream.arrivals.append((session.fed + len(text), now))
        settled = session.feed(text)
        if stream.watch is not None:  # short runs can block this stream (a spent work, context)
            over = stream.watch.feed(text)
            out = self._release(key, stream, settled, final=False, over=over)
        elif settled or session.open:
            out = self._release(key, stream, settled, final=False)
        else:  # the clean path: nothing found, nothing followed; release what is safe
            out = self._take(stream, session.safe_until if self._withholds else session.fed, now)
        return Sent(out, stream.blocked)

    def close(self, key: str) -> Sent:
        stream = self._stream(key)
        if stream.blocked or stream.closed:
            return Sent("", stream.blocked)
        settled = stream.session.flush()
        over = stream.watch.flush() if stream.watch is not None else []
        out = self._release(key, stream, settled, final=True, over=over)
        stream.closed = True
        return Sent(out, stream.blocked)

    def blocked(self, key: str) -> bool:
        stream = self._streams.get(key)
        return stream is not None and stream.blocked

    def altered(self, key: str) -> bool:
        stream = self._streams.get(key)
        return stream is not None and (stream.blocked or stream.redacted)

    def released(self, key: str) -> str:
        stream = self._streams.get(key)
        if stream is None:
            return ""
        if len(stream.sent) > 1:
            stream.sent[:] = ["".join(stream.sent)]
        return stream.sent[0] if stream.sent else ""

    def stray(self, path: str, text: str) -> bool:
        return self.strays.check(path, text)

    def report(self) -> dict[str, Any] | None:
        if not self.findings:  # asked for on every streamed event
            return None
        shown = [(k, f) for k, f in self.findings if f.action is not Action.LOG]
        if not shown:
            return None
        return {"findings": [self.finding_json(k, f) for k, f in shown]}

    def finding_json(self, key: str, f: Finding) -> dict[str, Any]:
        """A finding as the client sees it: which stream, which work, where, what got out.

        For a block or a redaction, ``withheld_start`` is where the client stopped receiving
        the run's text and ``released_chars`` how much of it came before: the lead-in words
        sent while they could not yet be known to begin a run (0 with holdback "strict").
        """
        out = finding_json(key, f, self.reason(key, f))
        released = self._released.get((key, f.start, f.work))
        if released is not None:
            out["withheld_start"], out["released_chars"] = f.start + released, released
        return out

    def reason(self, key: str, f: Finding) -> str | None:
        """Why a finding was made, when not for a run in the answer alone."""
        return self.reasons.get((key, f.start, f.work))

    # -- helpers ---------------------------------------------------------------------------

    @property
    def any_blocked(self) -> bool:
        return self.strays.hit or any(s.blocked for s in self._streams.values())

    def _stream(self, key: str) -> _Stream:
        stream = self._streams.get(key)
        if stream is None:
            x = self.extraction
            strict = self._strict
            session = (
                ContextSession(self._index, x.seed, strict)
                if x.seed
                else self._index.session(strict=strict)
            )
            # watched live only when short runs can block: a spent work, protected context
            watch = None
            if x.short is not None and (x.spent or x.carried):
                rules = {f.work: self._index.work_by_id[f.work].rule for f in x.carried}
                needs = {w: r.min_words for w, r in rules.items() if r.action is Action.BLOCK}
                watch = BudgetWatch(x.short, x.spent, x.carried, needs)
            stream = self._streams[key] = _Stream(session, watch)
        return stream

    def outputs(self) -> list[tuple[str, list[Finding] | None]]:
        """Per stream the text released and, if it was watched live, its short-run findings."""
        out: list[tuple[str, list[Finding] | None]] = []
        for key, stream in self._streams.items():
            sent = self.released(key)
            if stream.watch is None:
                out.append((sent, None))
            else:
                out.append((sent, [f for f in stream.watch.taken if f.start < len(sent)]))
        return out

    def _release(
        self,
        key: str,
        stream: _Stream,
        settled: list[Finding],
        final: bool,
        over: Sequence[tuple[Finding, str]] = (),
    ) -> str:
        for f in settled:
            self._record(key, f, stream)
            if f.action is Action.REDACT:
                stream.redactions.append(f)
        session = stream.session
        limit = session.fed if final or not self._index.withholds else session.safe_until
        blocking: list[Finding] = []
        if settled or session.open:  # else nothing can block (the clean path skips this)
            blocking = [f for f in settled if f.action is Action.BLOCK]
            if not final and not blocking:
                blocking = [f for f in session.open_findings() if f.action is Action.BLOCK]
                for f in blocking:
                    self._record(key, f, stream)
            if blocking:
                limit = min(limit, min(f.start for f in blocking))
                stream.blocked = True
        if stream.watch is not None and not final:
            limit = min(limit, stream.watch.limit(stream.held, stream.done))
        if over:  # a run of a spent work, or one going on from the request's protected text
            for f, why in over:
                self.reasons[(key, f.start, f.work)] = why
                self._record(key, f)
            limit = min(limit, min(f.start for f, _ in over))
            stream.blocked = True
        out = self._take(stream, limit)
        if stream.blocked:
            stream.held = ""
            if blocking:  # the cut happens now: say why, in the text itself
                out += self._notice(stream, min(blocking, key=lambda f: f.start))
        return out

    def _notice(self, stream: _Stream, f: Finding) -> str:
        """The blocking collection's ``block_notice``, sent (and kept) as the text's end."""
        template = self._index.work_by_id[f.work].rule.block_notice
        if not template:
            return ""
        notice = template.format(title=f.title, work=f.work, collection=f.collection)
        stream.sent.append(notice)
        return notice

    def _take(self, stream: _Stream, limit: int, now: float | None = None) -> str:
        """Settle original text up to ``limit``, applying redactions; return what to send."""
        start = stream.done
        if not stream.redactions:  # the clean path: one slice, no list of pieces
            if limit <= start:
                return ""
            out = stream.held[: limit - start]
            stream.held = stream.held[limit - start :]
            stream.done = limit
            if out:
                stream.sent.append(out)
                self._note_release(stream, start, now)
            return out
        pieces: list[str] = []
        stream.redactions.sort(key=lambda f: f.start)
        while stream.redactions and stream.redactions[0].start < limit:
            f = stream.redactions.pop(0)
            if f.end <= stream.done:
                continue  # inside a span already replaced
            pieces.append(self._slice(stream, stream.done, max(stream.done, f.start)))
            rule = self._index.work_by_id[f.work].rule
            pieces.append(
                rule.replacement.format(title=f.title, work=f.work, collection=f.collection)
            )
            stream.redacted = True
            self._advance(stream, max(stream.done, f.end))
        if limit > stream.done:
            pieces.append(self._slice(stream, stream.done, limit))
            self._advance(stream, limit)
        out = "".join(pieces)
        if out:
            stream.sent.append(out)
            self._note_release(stream, start)
        return out

    def _slice(self, stream: _Stream, a: int, b: int) -> str:
        base = stream.done
        return stream.held[a - base : b - base]

    def _advance(self, stream: _Stream, to: int) -> None:
        stream.held = stream.held[to - stream.done :]
        stream.done = to

    def _note_release(self, stream: _Stream, start: int, now: float | None = None) -> None:
        arrivals = stream.arrivals
        if now is None:
            now = self._clock()
        if arrivals and arrivals[0][0] > start:  # as usual: the oldest arrival not yet out
            arrived = arrivals[0][1]
        else:
            arrived = next((t for end, t in arrivals if end > start), now)
        while arrivals and arrivals[0][0] <= stream.done:
            arrivals.popleft()
        self.releases += 1
        if now - arrived > self.longest_hold:
            self.longest_hold = now - arrived
        # words are counted only when more text than ever stays held: rarely, not per word
        if len(stream.held) > self._most_held_chars:
            self._most_held_chars = len(stream.held)
            self.most_held_words = max(self.most_held_words, len(stream.held.split()))

    def _record(self, key: str, finding: Finding, stream: _Stream | None = None) -> None:
        if any(
            k == key and f.start == finding.start and f.work == finding.work
            for k, f in self.findings
        ):
            return
        if stream is not None and finding.action in (Action.BLOCK, Action.REDACT):
            released = min(stream.done, finding.end) - finding.start
            self._released[(key, finding.start, finding.work)] = max(0, released)
        self._found(key, finding)

    def _found(self, key: str, finding: Finding) -> None:
        self.findings.append((key, finding))
        self._observer.finding(key, finding)


def finding_json(key: str, f: Finding, reason: str | None = None) -> dict[str, Any]:
    """A finding as the client sees it: which stream, which work, where (and why, if not plain)."""
    out: dict[str, Any] = {"stream": key, **f.as_dict()}
    if reason is not None:
        out["reason"] = reason
    return out


def withholds_unread(guard: ResponseGuard, body: bytes) -> bool:
    """Whether a body no dialect reads (an upstream error) quotes a work that blocks or redacts.

    Each JSON string (escapes undone) is a text of its own; a body that is not JSON is one
    text.  The findings are recorded on ``guard`` like any other.
    """
    try:
        texts = strays(orjson.loads(body), {})
    except (orjson.JSONDecodeError, DialectError):  # not JSON, or nested past recursion
        texts = [("", body.decode("utf-8", "replace"))]
    for path, text in texts:
        guard.push(f"unread{path}", text)
        guard.close(f"unread{path}")
    return guard.any_blocked or any(f.action is Action.REDACT for _, f in guard.findings)
