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

import orjson

from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import DialectError, TextFilter
from proxy.dialects.openai_responses_items import check_other_items, item_texts, output_text
from proxy.dialects.openai_responses_stream import ResponsesStreamRewriter

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

_ERROR_TYPES = {
    400: "invalid_request_error",
    413: "request_too_large",
    502: "upstream_error",
    504: "upstream_error",
}


class OpenAIResponses:
    """The Responses API dialect: streamed events and complete response objects."""

    name = "openai-responses"
    paths = ("/v1/responses",)
    stream_media_type = "text/event-stream"

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        stream = request.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise DialectError("'stream' must be a boolean")
        return bool(stream)

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> ResponsesStreamRewriter:
        return ResponsesStreamRewriter(guard, max_event_bytes)

    def rewrite_body(self, body: bytes, guard: TextFilter) -> bytes:
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise DialectError(f"response body is not JSON: {exc}") from None
        if not isinstance(response, dict):
            raise DialectError("response body is not a JSON object")
        check_strays(response, RESPONSE_FIELDS, guard)
        output = response.get("output")
        if not isinstance(output, list):
            return body  # not a response object (e.g. an error): nothing to guard
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
                safe = guard.push(key, text) + guard.close(key)
                if safe != text:
                    holder[kind.field] = safe
                    if holder.get("logprobs"):
                        holder["logprobs"] = []
                    changed = True
                if guard.blocked(key):
                    item["status"] = "incomplete"
                    blocked = True
        if blocked:
            response["status"] = "incomplete"
            response["incomplete_details"] = {"reason": "content_filter"}
        if changed and isinstance(response.get("output_text"), str):
            response["output_text"] = output_text(output)
        if (report := guard.report()) is not None:
            response["copyguard"] = report
        elif not changed and not blocked:
            return body
        return orjson.dumps(response)

    def error_body(self, status: int, message: str) -> bytes:
        kind = _ERROR_TYPES.get(status, "api_error")
        return orjson.dumps(
            {"error": {"message": message, "type": kind, "param": None, "code": None}}
        )
