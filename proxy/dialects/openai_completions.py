"""OpenAI legacy Completions (``POST /v1/completions``), streamed and not.

Stream key of choice ``i``: ``"i"`` (its ``text``).  Logprobs are four parallel lists
(``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``); one entry is one
position across them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.dialects import conversation
from proxy.dialects._logprobs import keep_logprobs
from proxy.dialects._openai import CHOICE_FIELDS, TOP_FIELDS, OpenAIDialect, OpenAIStream, Slot
from proxy.dialects._strays import Fields
from proxy.dialects.base import Conversation, DialectError, JsonObject, TextFilter
from proxy.dialects.skeleton import whole_text

_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")
FIELDS: Fields = TOP_FIELDS | {"choices": {"*": CHOICE_FIELDS | {"text": None}}}
Entry = tuple[Any, ...]


def _entries(choice: Mapping[str, Any]) -> tuple[list[Entry], list[str]] | None:
    """The logprob positions of a choice (one tuple across the parallel lists), and tokens."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict) or not isinstance(lp.get("tokens"), list):
        return None
    tokens: list[Any] = lp["tokens"]
    columns = [lp.get(f) if isinstance(lp.get(f), list) else None for f in _LISTS]
    rows = [
        tuple(col[k] if col is not None and k < len(col) else None for col in columns)
        for k in range(len(tokens))
    ]
    return rows, [t if isinstance(t, str) else "" for t in tokens]


def _set_entries(choice: JsonObject, rows: list[Entry]) -> None:
    lp = choice.get("logprobs")
    lp = dict(lp) if isinstance(lp, dict) else {}
    for n, f in enumerate(_LISTS):
        if f in lp or rows or choice.get("logprobs") is None:
            lp[f] = [row[n] for row in rows]
    choice["logprobs"] = lp


class _CompletionsStream(OpenAIStream):
    fields = FIELDS

    def plain_text(self, choice: JsonObject) -> tuple[JsonObject, str] | None:
        return (choice, "text") if type(choice.get("text")) is str else None

    @staticmethod
    def tracks_logprobs(request: Mapping[str, Any]) -> bool:
        return request.get("logprobs") is not None  # logprobs=0 still returns the chosen token

    def slots(self, i: int, choice: JsonObject) -> list[Slot]:
        return [Slot(f"{i}", "text", choice, "text")] if isinstance(choice.get("text"), str) else []

    def logprobs_in(
        self, i: int, choice: JsonObject, slots: list[Slot]
    ) -> dict[str, tuple[list[Any], list[str]]]:
        found = _entries(choice)
        return {} if found is None else {f"{i}": found}

    def logprobs_out(self, i: int, choice: JsonObject, released: dict[str, list[Any]]) -> bool:
        rows = released.get(f"{i}", [])
        found = _entries(choice)
        if found is None and not rows:
            return False
        if found is not None and found[0] == rows:
            return False
        _set_entries(choice, rows)
        return True

    def text_choice(self, i: int, texts: dict[str, tuple[str, str]]) -> JsonObject:
        text = "".join(t for _, t in texts.values())
        return {"index": i, "text": text, "logprobs": None, "finish_reason": None}

    def stop_choice(self, i: int) -> JsonObject:
        return {"index": i, "text": "", "logprobs": None, "finish_reason": "content_filter"}


class OpenAICompletions(OpenAIDialect):
    """The legacy Completions dialect."""

    name = "openai-completions"
    paths = ("/v1/completions",)
    body_fields = FIELDS
    rewriter = _CompletionsStream

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.openai_completions(request)

    def rewrite_choice(self, i: int, choice: JsonObject, guard: TextFilter) -> bool:
        """A ``text_completion`` choice: its text, then its logprob positions."""
        text = choice.get("text")
        if not isinstance(text, str):
            raise DialectError("completion choice without text")
        out, blocked = whole_text(guard, f"{i}", text)
        changed = out != text
        if changed:
            choice["text"] = out
        if blocked:
            choice["finish_reason"] = "content_filter"
            changed = True
        found = _entries(choice)
        if found is not None:
            kept = keep_logprobs(text, out, found[0], found[1])
            if len(kept) != len(found[0]):
                _set_entries(choice, kept)
                changed = True
        return changed
