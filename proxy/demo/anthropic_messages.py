"""Anthropic Messages (/v1/messages): named SSE events and the message object."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from proxy.demo.answers import last_user_text
from proxy.demo.formats import (
    SSE,
    Frame,
    JsonObject,
    Prompt,
    Reply,
    first_tool_name,
    new_id,
    want_bool,
    want_list,
)


def _usage(reply: Reply, output_tokens: int) -> JsonObject:
    return {
        "input_tokens": reply.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _message(reply: Reply, content: list[JsonObject], stop: str | None, out: int) -> JsonObject:
    return {
        "id": new_id("msg_01", 22),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(reply, out),
    }


class Messages:
    """POST /v1/messages."""

    framing = SSE
    stream_default = False

    def parse(self, body: JsonObject) -> Prompt:
        model = body.get("model")
        return Prompt(
            user_text=last_user_text(want_list(body, "messages")),
            stream=want_bool(body, "stream", False),
            model=model if isinstance(model, str) else None,
            tool_name=first_tool_name(body.get("tools"), ("name",)),
        )

    def stream(self, reply: Reply) -> Iterator[Frame]:
        def event(kind: str, paced: bool = False, **fields: object) -> Frame:
            return SSE.frame({"type": kind, **fields}, kind, paced=paced)

        yield event("message_start", message=_message(reply, [], None, 1))
        tool = reply.tool
        if tool is not None:
            block: JsonObject = {
                "type": "tool_use",
                "id": _tool_id(tool.call_id),
                "name": tool.name,
            }
            yield event("content_block_start", index=0, content_block={**block, "input": {}})
            yield event("ping")
            for piece in tool.chunks:
                delta = {"type": "input_json_delta", "partial_json": piece}
                yield event("content_block_delta", True, index=0, delta=delta)
        else:
            yield event("content_block_start", index=0, content_block={"type": "text", "text": ""})
            yield event("ping")
            for piece in reply.choices[0]:
                delta = {"type": "text_delta", "text": piece}
                yield event("content_block_delta", True, index=0, delta=delta)
        yield event("content_block_stop", index=0)
        stop = {"stop_reason": _stop_reason(reply), "stop_sequence": None}
        yield event("message_delta", delta=stop, usage={"output_tokens": reply.completion_tokens})
        yield event("message_stop")

    def complete(self, reply: Reply) -> JsonObject:
        if reply.tool is not None:
            block = {
                "type": "tool_use",
                "id": _tool_id(reply.tool.call_id),
                "name": reply.tool.name,
                "input": orjson.loads(reply.tool.arguments),
            }
        else:
            block = {"type": "text", "text": reply.text()}
        return _message(reply, [block], _stop_reason(reply), reply.completion_tokens)

    def error(self, status: int, message: str) -> JsonObject:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return {"type": "error", "error": {"type": kind, "message": message}}


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool is not None else "end_turn"


def _tool_id(call_id: str) -> str:
    return "toolu_01" + call_id.removeprefix("call_")
