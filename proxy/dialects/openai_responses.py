"""The OpenAI Responses API (``POST /v1/responses``).

Stream keys: ``"{output_index}/{content_index}"`` for output_text and refusal parts,
``"{output_index}/reasoning/{summary_index}"`` for reasoning summaries,
``"{output_index}/reasoning/text/{content_index}"`` for reasoning text, and
``"{output_index}/args"`` for function (and custom tool) call arguments.  A blocked text
makes the response ``incomplete`` with ``incomplete_details.reason == "content_filter"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.dialects import conversation
from proxy.dialects._openai import error_body
from proxy.dialects._strays import Fields
from proxy.dialects.base import Conversation, JsonObject, TextFilter
from proxy.dialects.openai_responses_items import check_other_items, item_texts, output_text
from proxy.dialects.openai_responses_stream import ResponsesStreamRewriter
from proxy.dialects.skeleton import JsonDialect, whole_text

# A response object's fields: the output the rewriter guards, and what echoes the request or
# is metadata.  Any other string (a field this version does not know) is checked as a stray.
RESPONSE_FIELDS: Fields = dict.fromkeys(
    ("id", "object", "created_at", "status", "model", "previous_response_id", "user",
     "service_tier", "truncation", "prompt_cache_key", "safety_identifier"),
    None,
) | dict.fromkeys(
    ("output", "output_text", "instructions", "tools", "tool_choice", "text", "reasoning",
     "metadata", "usage", "prompt", "conversation", "incomplete_details", "copyguard"),
    ...,
)  # fmt: skip


class OpenAIResponses(JsonDialect):
    """The Responses API dialect: streamed events and complete response objects."""

    name = "openai-responses"
    paths = ("/v1/responses",)
    body_fields = RESPONSE_FIELDS
    rewriter = ResponsesStreamRewriter

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.openai_responses(request)

    def rewrite(self, response: JsonObject, guard: TextFilter) -> bool | None:
        output = response.get("output")
        if not isinstance(output, list):
            return None  # not a response object (e.g. an error): nothing to guard
        check_other_items(dict(enumerate(output)), guard)
        changed = blocked = False
        for o, item in enumerate(output):
            if not isinstance(item, dict):
                continue
            for kind, i, holder in list(item_texts(item)):
                text = holder.get(kind.field)
                if not isinstance(text, str) or not text:
                    continue
                key = kind.key(o, i)
                safe, now_blocked = whole_text(guard, key, text)
                if safe != text:
                    holder[kind.field] = safe
                    if holder.get("logprobs"):
                        holder["logprobs"] = []
                    changed = True
                if now_blocked:
                    item["status"] = "incomplete"
                    blocked = True
        if blocked:
            response["status"] = "incomplete"
            response["incomplete_details"] = {"reason": "content_filter"}
        if changed and isinstance(response.get("output_text"), str):
            response["output_text"] = output_text(output)
        return changed or blocked

    def error_body(self, status: int, message: str) -> bytes:
        return error_body(status, message)
