"""A scripted TextFilter for testing dialects without the matcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.dialects.base import Sent


@dataclass
class _Stream:
    pending: str = ""
    sent: str = ""
    blocked: bool = False
    closed: bool = False


@dataclass
class ScriptedFilter:
    """Blocks at ``block``, replaces ``redact`` with ``[…]``, always holds the last ``hold`` chars.

    Good enough to drive every branch of a dialect: held text, released text,
    rewritten text and blocked streams, all deterministic.
    """

    block: str | None = None
    redact: str | None = None
    hold: int = 0
    streams: dict[str, _Stream] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def _stream(self, key: str) -> _Stream:
        return self.streams.setdefault(key, _Stream())

    def _release(self, key: str, final: bool) -> str:
        s = self._stream(key)
        if s.blocked:
            return ""
        if self.block and self.block in s.pending:
            out = s.pending[: s.pending.index(self.block)]
            s.pending = ""
            s.blocked = True
        else:
            text = s.pending
            if self.redact:
                text = text.replace(self.redact, "[…]")
            cut = len(text) if final else max(0, len(text) - self.hold)
            if self.redact and not final:
                # never release a prefix of the redacted word
                for i in range(len(self.redact) - 1, 0, -1):
                    if text[:cut].endswith(self.redact[:i]):
                        cut -= i
                        break
            out, rest = text[:cut], text[cut:]
            s.pending = rest
        s.sent += out
        return out

    def push(self, key: str, text: str) -> Sent:
        s = self._stream(key)
        self.events.append(("push", key, text))
        if s.blocked:
            return Sent("", True)
        s.pending += text
        return Sent(self._release(key, final=False), s.blocked)

    def close(self, key: str) -> Sent:
        self.events.append(("close", key, ""))
        out = self._release(key, final=True)
        self._stream(key).closed = True
        return Sent(out, self._stream(key).blocked)

    def blocked(self, key: str) -> bool:
        return self._stream(key).blocked

    def released(self, key: str) -> str:
        return self._stream(key).sent

    def altered(self, key: str) -> bool:
        pushed = "".join(t for op, k, t in self.events if op == "push" and k == key)
        s = self._stream(key)
        return s.blocked or not pushed.startswith(s.sent)

    def report(self) -> dict[str, Any] | None:
        hit = [k for k, s in self.streams.items() if s.blocked]
        if not hit and not (self.redact and any("[…]" in s.sent for s in self.streams.values())):
            return None
        return {"findings": [{"stream": k, "action": "block"} for k in hit]}

    def stray(self, path: str, text: str) -> bool:
        self.events.append(("stray", path, text))
        return bool(self.block and self.block in text)
