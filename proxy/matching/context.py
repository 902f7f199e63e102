"""Checks across the turns of a conversation: the answer continues what the request carries.

A request carries text the client already has: earlier turns, a completions prompt, an
assistant prefill.  ``analyse`` keeps only the protected pieces of it (runs of at least
``budget_min_run`` words, found with the fine index), in order, joined, with the text the
answer continues directly (prefill, prompt) last and whole.  A ``ContextSession`` wraps an
ordinary session: it feeds the seed first, releasing nothing of it, so a run that begins in
the request and goes on in the answer is one run, already live when the answer starts:
none of its new words get out.  A run whose answer part only repeats what the request
carried is an *echo*, governed by the work's ``echo`` rule; a run wholly inside the request
is the client's own text and never a finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from proxy.matching.catalogue import Echo
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher, Session, scan_once

# Bounds on what one request's context may cost: the seed is fed to every output stream.
MAX_SEED_CHARS = 64 << 10
MAX_TURN_CHARS = 1 << 20


class Conversation(Protocol):
    """What a request carries (a dialect reads it): the client's turns, the model's earlier
    replies, and the text the answer continues directly (prefill, prompt)."""

    @property
    def turns(self) -> tuple[str, ...]: ...

    @property
    def replies(self) -> tuple[str, ...]: ...

    @property
    def tail(self) -> str: ...


def analyse(
    fine: Matcher, conversation: Conversation, tail_words: int
) -> tuple[str, list[Finding]]:
    """The seed for the answer's sessions, and the short-run findings of what the request
    carries (for totals, budgets and the watch), with one scan of each text.

    The seed holds the protected pieces in order: the earlier turns, the replies, the last
    turn (a quote the client asks to have continued is there), then the tail's end, so the
    text the answer would go on from comes last.  Bounded: the newest text is kept.
    """
    turns = [t[-MAX_TURN_CHARS:] for t in conversation.turns if t]
    replies = " ".join(conversation.replies)[-MAX_TURN_CHARS:]
    tail = conversation.tail[-MAX_TURN_CHARS:]
    found: list[Finding] = []
    pieces: list[str] = []
    for text in [*turns[:-1], replies, *turns[-1:]]:
        if not text:
            continue
        scanned = sorted(scan_once(fine, text), key=lambda f: f.start)
        found += scanned
        end = -1
        for f in scanned:
            if f.start < end:  # overlapping runs of two works: the text once
                if f.end > end:
                    pieces[-1] += text[end : f.end]
                    end = f.end
                continue
            pieces.append(text[f.start : f.end])
            end = f.end
    if tail:
        scanned = sorted(scan_once(fine, tail), key=lambda f: f.start)
        found += scanned
        spans = words(tail)
        keep = spans[-tail_words][1] if len(spans) >= tail_words else 0
        for f in scanned:
            if f.start >= keep:
                break
            pieces.append(tail[f.start : min(f.end, keep)])
        pieces.append(tail[keep:])
    return " ".join(pieces)[-MAX_SEED_CHARS:], found


def size_of(conversation: Conversation) -> int:
    """Characters ``analyse`` would read (to decide whether to do it off the event loop)."""
    return (
        sum(min(len(t), MAX_TURN_CHARS) for t in conversation.turns)
        + min(sum(len(r) + 1 for r in conversation.replies), MAX_TURN_CHARS)
        + min(len(conversation.tail), MAX_TURN_CHARS)
    )


class ContextSession:
    """A session seeded with a conversation's protected text (offsets are the answer's)."""

    def __init__(self, index: Matcher, seed: str, strict: bool = False) -> None:
        self._index = index
        self._seed = seed
        self._origin = len(seed) + 1
        self._covered: dict[str, list[tuple[int, int]]] = {}
        for f in scan_once(index, seed):
            self._covered.setdefault(f.work, []).append((f.source_start, f.source_end))
        self._inner: Session = index.session(strict=strict)
        self._inner.feed(seed + "\n")  # the request's own runs are no findings: dropped
        # An edit may not join the request to the answer: "It says: <quote>" would read as
        # a near-verbatim continuation of the pasted text's end.  Exact continuation still
        # makes one run.
        self._inner.seal()

    @property
    def fed(self) -> int:
        return self._inner.fed - self._origin

    @property
    def safe_until(self) -> int:
        return max(0, self._inner.safe_until - self._origin)

    @property
    def open(self) -> bool:
        return self._inner.open

    def feed(self, text: str) -> list[Finding]:
        return self._judge(self._inner.feed(text))

    def seal(self) -> None:
        self._inner.seal()

    def flush(self) -> list[Finding]:
        return self._judge(self._inner.flush())

    def open_findings(self) -> list[Finding]:
        return self._judge(self._inner.open_findings()) if self._inner.open else []

    def _judge(self, found: Sequence[Finding]) -> list[Finding]:
        out = []
        origin = self._origin
        for f in found:
            if f.end <= origin:
                continue  # wholly the request's text
            first = f.source_start
            if f.start < origin:  # words of the run that came from the request
                first += len(words(self._seed[f.start :]))
            if self._repeats(f.work, first, f.source_end):
                rule = self._index.work_by_id[f.work].rule
                if rule.echo is Echo.ALLOW:
                    continue
            out.append(replace(f, start=max(0, f.start - origin), end=f.end - origin))
        return out

    def _repeats(self, work: str, first: int, end: int) -> bool:
        """Whether source words [first, end) of ``work`` all lie in what the request carried."""
        at = first
        for a, b in sorted(self._covered.get(work, ())):
            if a <= at < b:
                at = b
            if at >= end:
                return True
        return at >= end


def carried(found: Sequence[Finding]) -> dict[str, int]:
    """Per work, how many distinct protected words the findings cover."""
    seen: dict[str, set[int]] = {}
    for f in found:
        seen.setdefault(f.work, set()).update(range(f.source_start, f.source_end))
    return {work: len(positions) for work, positions in seen.items()}
