"""Where Responses API output text lives: the kinds of text stream and their stream keys.

Shared by the streamed and the complete-response rewriters.  Stream keys: ``"{o}/{i}"`` for
output_text and refusal parts, ``"{o}/reasoning/{i}"`` for reasoning summaries,
``"{o}/reasoning/text/{i}"`` for reasoning text, ``"{o}/args"`` for function (and custom
tool) call arguments; ``o`` is the output index, ``i`` the content or summary index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import JsonObject, TextFilter


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of streamed text: its events, its stream key and where its full text sits."""

    delta: str  # delta event type
    done: str  # done event type; its ``field`` repeats the full text
    field: str  # the text field of the done event and of the part or item holding the text
    key_format: str  # stream key, from output index ``o`` and part index ``i``
    index: str | None = None  # the done/delta event's part index field
    container: str | None = None  # item list holding the parts ("content"/"summary"); None: item
    part_type: str | None = None
    part_done: str | None = None  # event that repeats the finished part
    logprobs: bool = False

    def key(self, output_index: int, index: int) -> str:
        return self.key_format.format(o=output_index, i=index)


_R = "response."
OUTPUT_TEXT = Kind(
    _R + "output_text.delta", _R + "output_text.done", "text", "{o}/{i}", "content_index",
    "content", "output_text", _R + "content_part.done", logprobs=True,
)  # fmt: skip
REFUSAL = Kind(
    _R + "refusal.delta", _R + "refusal.done", "refusal", "{o}/{i}", "content_index",
    "content", "refusal", _R + "content_part.done",
)  # fmt: skip
SUMMARY = Kind(
    _R + "reasoning_summary_text.delta", _R + "reasoning_summary_text.done", "text",
    "{o}/reasoning/{i}", "summary_index", "summary", "summary_text",
    _R + "reasoning_summary_part.done",
)  # fmt: skip
REASONING = Kind(
    _R + "reasoning_text.delta", _R + "reasoning_text.done", "text", "{o}/reasoning/text/{i}",
    "content_index", "content", "reasoning_text", _R + "content_part.done",
)  # fmt: skip
ARGUMENTS = Kind(
    _R + "function_call_arguments.delta", _R + "function_call_arguments.done", "arguments",
    "{o}/args",
)  # fmt: skip
CUSTOM_INPUT = Kind(
    _R + "custom_tool_call_input.delta", _R + "custom_tool_call_input.done", "input", "{o}/args"
)
KINDS = (OUTPUT_TEXT, REFUSAL, SUMMARY, REASONING, ARGUMENTS, CUSTOM_INPUT)
BY_DELTA = {k.delta: k for k in KINDS}
BY_DONE = {k.done: k for k in KINDS}
_PART_KINDS = {"message": (OUTPUT_TEXT, REFUSAL), "reasoning": (SUMMARY, REASONING)}
_ITEM_KINDS = {"function_call": ARGUMENTS, "custom_tool_call": CUSTOM_INPUT}


# Output items of the types the rewriters guard; of any other type (a code interpreter or MCP
# call, a search, an image), every string but these ids and names is checked as a stray.
GUARDED_ITEMS = frozenset(("message", "reasoning", "function_call", "custom_tool_call"))
_ITEM_META: Fields = dict.fromkeys(
    ("type", "id", "status", "call_id", "name", "server_label", "container_id",
     "approval_request_id", "encrypted_content", "result"),
    None,
)  # fmt: skip


def check_other_items(items: dict[int, Any], guard: TextFilter) -> None:
    """Check the strings of output items (by output index) no rewriter guards."""
    for o, item in items.items():
        if isinstance(item, dict) and item.get("type") not in GUARDED_ITEMS:
            check_strays(item, _ITEM_META, guard, f"output/{o}")


def item_texts(item: JsonObject) -> Iterator[tuple[Kind, int, JsonObject]]:
    """The texts of one output item: (kind, part index, the dict holding ``kind.field``)."""
    if (kind := _ITEM_KINDS.get(item.get("type", ""))) is not None:
        yield kind, 0, item
    for kind in _PART_KINDS.get(item.get("type", ""), ()):
        parts = item.get(kind.container or "")
        for i, part in enumerate(parts if isinstance(parts, list) else ()):
            if isinstance(part, dict) and part.get("type") == kind.part_type:
                yield kind, i, part


def output_text(output: list[Any]) -> str:
    """The Responses ``output_text`` convenience field: all output_text parts, joined."""
    return "".join(
        part["text"]
        for item in output
        if isinstance(item, dict) and item.get("type") == "message"
        for kind, _, part in item_texts(item)
        if kind is OUTPUT_TEXT and isinstance(part.get("text"), str)
    )
