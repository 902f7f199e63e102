"""OpenAI Chat Completions (``POST /v1/chat/completions``), streamed and not.

Stream keys of choice ``i``: ``"i"`` (content), ``"i/reasoning"`` (``reasoning_content`` or
``reasoning``, as vLLM and others send), ``"i/refusal"``, ``"i/tool/j"`` (arguments of tool
call ``j``) and ``"i/function_call"`` (the deprecated single function call).
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

_REASONING = ("reasoning_content", "reasoning")
_CALL: Fields = {"name": None, "arguments": None}
_MESSAGE: Fields = {
    "role": None, "content": None, "reasoning_content": None, "reasoning": None,
    "refusal": None, "function_call": _CALL,
    "tool_calls": {"*": {"index": None, "id": None, "type": None, "function": _CALL}},
}  # fmt: skip
STREAM_FIELDS: Fields = TOP_FIELDS | {"choices": {"*": CHOICE_FIELDS | {"delta": _MESSAGE}}}
WHOLE_FIELDS: Fields = TOP_FIELDS | {"choices": {"*": CHOICE_FIELDS | {"message": _MESSAGE}}}


def _slots(i: int, holder: Mapping[str, Any], streamed: bool) -> list[Slot]:
    """Every output text field of a chat delta (streamed) or message, with its stream key."""
    slots: list[Slot] = []
    if isinstance(holder.get("content"), str):
        slots.append(Slot(f"{i}", "content", holder, "content"))
    has_reasoning = "reasoning_content" in holder or "reasoning" in holder  # rare: skip the scan
    reasoning = [f for f in _REASONING if isinstance(holder.get(f), str)] if has_reasoning else []
    if reasoning:
        slot = Slot(f"{i}/reasoning", reasoning[0], holder, reasoning[0])
        if len(reasoning) == 2 and holder[reasoning[0]] == holder[reasoning[1]]:
            slot.mirror = reasoning[1]  # some servers send both names with the same text
        slots.append(slot)
    if isinstance(holder.get("refusal"), str):
        slots.append(Slot(f"{i}/refusal", "refusal", holder, "refusal"))
    calls = holder.get("tool_calls")
    for pos, call in enumerate(calls if isinstance(calls, list) else ()):
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            j = call.get("index", pos) if streamed else pos
            slots.append(Slot(f"{i}/tool/{j}", f"tool:{j}", fn, "arguments"))
    fc = holder.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
        slots.append(Slot(f"{i}/function_call", "function_call", fc, "arguments"))
    return slots


def _lp_keys(i: int, slots: list[Slot]) -> dict[str, str]:
    """Which stream key each logprobs list of choice ``i`` belongs to."""
    keys = {s.key for s in slots}
    content = f"{i}/reasoning" if f"{i}/reasoning" in keys and f"{i}" not in keys else f"{i}"
    return {"content": content, "refusal": f"{i}/refusal"}


def _lp_lists(choice: Mapping[str, Any]) -> dict[str, list[Any]]:
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return {}
    return {f: v for f in ("content", "refusal") if isinstance(v := lp.get(f), list)}


def _tokens(entries: list[Any]) -> list[str]:
    return [str(e.get("token", "")) if isinstance(e, dict) else "" for e in entries]


_PLAIN = frozenset(("content", "role"))  # a delta with only these carries only text


class _ChatStream(OpenAIStream):
    fields = STREAM_FIELDS

    def plain_text(self, choice: JsonObject) -> tuple[JsonObject, str] | None:
        delta = choice.get("delta")
        if type(delta) is dict and type(delta.get("content")) is str and delta.keys() <= _PLAIN:
            return delta, "content"
        return None

    @staticmethod
    def tracks_logprobs(request: Mapping[str, Any]) -> bool:
        return bool(request.get("logprobs"))

    def slots(self, i: int, choice: JsonObject) -> list[Slot]:
        delta = choice.get("delta")
        return _slots(i, delta, streamed=True) if isinstance(delta, dict) else []

    def logprobs_in(
        self, i: int, choice: JsonObject, slots: list[Slot]
    ) -> dict[str, tuple[list[Any], list[str]]]:
        keys = _lp_keys(i, slots)
        return {keys[f]: (v, _tokens(v)) for f, v in _lp_lists(choice).items()}

    def logprobs_out(self, i: int, choice: JsonObject, released: dict[str, list[Any]]) -> bool:
        before = _lp_lists(choice)
        after = {
            "content": released.get(f"{i}", []) + released.get(f"{i}/reasoning", []),
            "refusal": released.get(f"{i}/refusal", []),
        }
        if all(_same(before.get(f, []), after[f]) for f in after):
            return False
        lp = choice.get("logprobs")
        lp = dict(lp) if isinstance(lp, dict) else {"content": None, "refusal": None}
        for f, entries in after.items():
            if entries or f in before:
                lp[f] = entries
        choice["logprobs"] = lp
        return True

    def text_choice(self, i: int, texts: dict[str, tuple[str, str]]) -> JsonObject:
        delta: JsonObject = {}
        for kind, text in texts.values():
            if kind.startswith("tool:"):
                call = {"index": int(kind[5:]), "function": {"arguments": text}}
                delta.setdefault("tool_calls", []).append(call)
            elif kind == "function_call":
                delta["function_call"] = {"arguments": text}
            else:
                delta[kind] = text
        return {"index": i, "delta": delta, "logprobs": None, "finish_reason": None}

    def stop_choice(self, i: int) -> JsonObject:
        return {"index": i, "delta": {}, "logprobs": None, "finish_reason": "content_filter"}


def _released(slots: list[Slot], key: str) -> str:
    return next((s.get() for s in slots if s.key == key), "")


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class OpenAIChat(OpenAIDialect):
    """The Chat Completions dialect."""

    name = "openai-chat"
    paths = ("/v1/chat/completions",)
    body_fields = WHOLE_FIELDS
    rewriter = _ChatStream

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.openai_chat(request)

    def rewrite_choice(self, i: int, choice: JsonObject, guard: TextFilter) -> bool:
        """A ``chat.completion`` choice: every text of its message, then its logprobs."""
        if not isinstance(choice.get("message"), dict):
            raise DialectError("chat completion choice without a message")
        slots = _slots(i, choice["message"], streamed=False)
        changed = blocked = False
        for slot in slots:
            out = ""
            if not blocked:
                out, blocked = whole_text(guard, slot.key, slot.original)
            if out != slot.original:
                slot.set(out)
                changed = True
        if blocked:
            choice["finish_reason"] = "content_filter"
        originals = {s.key: s.original for s in slots}
        for f, key in _lp_keys(i, slots).items():
            entries = _lp_lists(choice).get(f)
            if entries:
                kept = keep_logprobs(
                    originals.get(key, ""), _released(slots, key), entries, _tokens(entries)
                )
                if len(kept) != len(entries):
                    choice["logprobs"][f] = kept
                    changed = True
        return changed or blocked
