"""Join a dialect's text streams to matcher sessions and apply the policy's actions.

``ResponseGuard`` is the ``TextFilter`` a dialect talks to: one per response, one
matcher ``Session`` per stream key.  It releases only text the session calls safe,
replaces redacted findings, and ends a stream at the first blocking finding.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from proxy.dialects._strays import strays
from proxy.dialects.base import DialectError
from proxy.matching.catalogue import Action
from proxy.matching.normalize import MAX_WORD_CHARS, words
from proxy.matching.seam import Finding, Matcher, Session, scan_once


class GuardObserver(Protocol):
    """Where the guard reports what it did (metrics, logs); no-ops are fine."""

    def finding(self, key: str, finding: Finding) -> None: ...

    def released(self, held_words: int, delay: float) -> None: ...


class NullObserver:
    def finding(self, key: str, finding: Finding) -> None:
        pass

    def released(self, held_words: int, delay: float) -> None:
        pass


@dataclass(slots=True)
class _Stream:
    session: Session
    held: str = ""  # original text from ``done`` to what was fed
    done: int = 0  # original offset up to which text is settled (sent or redacted)
    sent: list[str] = field(default_factory=list)
    redactions: list[Finding] = field(default_factory=list)
    arrivals: deque[tuple[int, float]] = field(default_factory=deque)
    blocked: bool = False
    closed: bool = False


class ResponseGuard:
    """The ``TextFilter`` for one response."""

    def __init__(
        self,
        index: Matcher,
        observer: GuardObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._index = index
        self._observer = observer or NullObserver()
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._strays: dict[str, str] = {}  # path -> the recent text of that stray field
        self._stray_hit = False
        self.findings: list[tuple[str, Finding]] = []

    # -- TextFilter ------------------------------------------------------------------------

    def push(self, key: str, text: str) -> str:
        stream = self._stream(key)
        if stream.blocked or stream.closed or not text:
            return ""
        stream.held += text
        stream.arrivals.append((stream.session.fed + len(text), self._clock()))
        return self._release(key, stream, stream.session.feed(text), final=False)

    def close(self, key: str) -> str:
        stream = self._stream(key)
        if stream.blocked or stream.closed:
            return ""
        out = self._release(key, stream, stream.session.flush(), final=True)
        stream.closed = True
        return out

    def blocked(self, key: str) -> bool:
        stream = self._streams.get(key)
        return stream is not None and stream.blocked

    def released(self, key: str) -> str:
        stream = self._streams.get(key)
        if stream is None:
            return ""
        if len(stream.sent) > 1:
            stream.sent[:] = ["".join(stream.sent)]
        return stream.sent[0] if stream.sent else ""

    def stray(self, path: str, text: str) -> bool:
        before = self._strays.get(path, "")
        joined = before + text
        # the last word counts as finished: nothing of a stray field is held back to wait
        found = [f for f in scan_once(self._index, joined) if f.end > len(before)]
        self._strays[path] = self._stray_tail(joined)
        hit = False
        for finding in found:
            key = f"stray{path}"
            if not any(k == key and f.work == finding.work for k, f in self.findings):
                self.findings.append((key, finding))
                self._observer.finding(key, finding)
            hit = hit or finding.action in (Action.BLOCK, Action.REDACT)
        self._stray_hit = self._stray_hit or hit
        return hit

    def _stray_tail(self, text: str) -> str:
        """What of a stray field's text the next piece must be checked with.

        A run that ends in the next piece has at most ``max_min_words - 1`` words before it,
        so only those are kept: each check stays as short as the run it looks for.  A word
        longer than any protected word breaks every run, so nothing before it matters and
        enough of it is kept to stay too long.
        """
        keep = self._index.max_min_words - 1
        spans = words(text)[-keep:] if keep > 0 else []
        start = spans[0][1] if spans else len(text)
        for _, a, b in reversed(spans):
            if b - a > MAX_WORD_CHARS:
                start = max(start, b - MAX_WORD_CHARS - 1)
                break
        return text[start:]

    def report(self) -> dict[str, Any] | None:
        if not self.findings:  # asked for on every streamed event
            return None
        shown = [(k, f) for k, f in self.findings if f.action is not Action.LOG]
        if not shown:
            return None
        return {"findings": [finding_json(k, f) for k, f in shown]}

    # -- helpers ---------------------------------------------------------------------------

    @property
    def any_blocked(self) -> bool:
        return self._stray_hit or any(s.blocked for s in self._streams.values())

    def _stream(self, key: str) -> _Stream:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(self._index.session())
        return stream

    def _release(self, key: str, stream: _Stream, settled: list[Finding], final: bool) -> str:
        for f in settled:
            self._record(key, f)
            if f.action is Action.REDACT:
                stream.redactions.append(f)
        session = stream.session
        limit = session.fed if final or not self._index.withholds else session.safe_until
        if settled or session.open:  # else nothing can block (the clean path skips this)
            blocking = [f for f in settled if f.action is Action.BLOCK]
            if not final and not blocking:
                blocking = [f for f in session.open_findings() if f.action is Action.BLOCK]
                for f in blocking:
                    self._record(key, f)
            if blocking:
                limit = min(limit, min(f.start for f in blocking))
                stream.blocked = True
        out = self._take(stream, limit)
        if stream.blocked:
            stream.held = ""
        return out

    def _take(self, stream: _Stream, limit: int) -> str:
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
                self._note_release(stream, start, out)
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
            self._advance(stream, max(stream.done, f.end))
        if limit > stream.done:
            pieces.append(self._slice(stream, stream.done, limit))
            self._advance(stream, limit)
        out = "".join(pieces)
        if out:
            stream.sent.append(out)
            self._note_release(stream, start, out)
        return out

    def _slice(self, stream: _Stream, a: int, b: int) -> str:
        base = stream.done
        return stream.held[a - base : b - base]

    def _advance(self, stream: _Stream, to: int) -> None:
        stream.held = stream.held[to - stream.done :]
        stream.done = to

    def _note_release(self, stream: _Stream, start: int, out: str) -> None:
        arrivals = stream.arrivals
        now = self._clock()
        if arrivals and arrivals[0][0] > start:  # as usual: the oldest arrival not yet out
            arrived = arrivals[0][1]
        else:
            arrived = next((t for end, t in arrivals if end > start), now)
        while arrivals and arrivals[0][0] <= stream.done:
            arrivals.popleft()
        self._observer.released(len(stream.held.split()), max(0.0, now - arrived))

    def _record(self, key: str, finding: Finding) -> None:
        if any(
            k == key and f.start == finding.start and f.work == finding.work
            for k, f in self.findings
        ):
            return
        self.findings.append((key, finding))
        self._observer.finding(key, finding)


def finding_json(key: str, f: Finding) -> dict[str, Any]:
    """A finding as the client sees it: which stream, which work, where."""
    return {"stream": key, **f.as_dict()}


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
