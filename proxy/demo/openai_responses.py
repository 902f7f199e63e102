"""OpenAI Responses (/v1/responses): the full streaming event sequence and the response object."""

from __future__ import annotations

import time
from collections.abc import Iterator

from proxy.demo.answers import last_user_text
from proxy.demo.formats import (
    SSE,
    BadRequest,
    Frame,
    JsonObject,
    Prompt,
    Reply,
    first_tool_name,
    new_id,
    want_bool,
)
from proxy.demo.openai_chat import openai_error


def _response(rid: str, reply: Reply, status: str, output: list[JsonObject]) -> JsonObject:
    done = status == "completed"
    usage = None
    if done:
        usage = {
            "input_tokens": reply.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
    return {
        "id": rid,
        "object": "response",
        "created_at": reply.created,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": reply.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _part(text: str) -> JsonObject:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message(mid: str, status: str, content: list[JsonObject]) -> JsonObject:
    return {"id": mid, "type": "message", "status": status, "content": content, "role": "assistant"}


def _call(fid: str, reply: Reply, status: str, arguments: str) -> JsonObject:
    assert reply.tool is not None
    return {
        "id": fid,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": reply.tool.call_id,
        "name": reply.tool.name,
    }


class Responses:
    """POST /v1/responses."""

    framing = SSE
    stream_default = False

    def parse(self, body: JsonObject) -> Prompt:
        given = body.get("input", "")
        if isinstance(given, str):
            text = given
        elif isinstance(given, list):
            text = last_user_text(given)
        else:
            raise BadRequest("'input' must be a string or a list of items")
        model = body.get("model")
        return Prompt(
            user_text=text,
            stream=want_bool(body, "stream", False),
            model=model if isinstance(model, str) else None,
            tool_name=first_tool_name(body.get("tools"), ("name",), ("function", "name")),
        )

    def stream(self, reply: Reply) -> Iterator[Frame]:
        rid = new_id("resp_", 48)
        seq = 0

        def event(kind: str, fields: JsonObject, paced: bool = False) -> Frame:
            nonlocal seq
            seq += 1
            return SSE.frame(
                {"type": kind, "sequence_number": seq - 1, **fields}, kind, paced=paced
            )

        yield event("response.created", {"response": _response(rid, reply, "in_progress", [])})
        yield event("response.in_progress", {"response": _response(rid, reply, "in_progress", [])})
        if reply.tool is not None:
            at: JsonObject = {"item_id": new_id("fc_", 48), "output_index": 0}
            item = _call(at["item_id"], reply, "in_progress", "")
            yield event("response.output_item.added", {"output_index": 0, "item": item})
            for piece in reply.tool.chunks:
                yield event("response.function_call_arguments.delta", {**at, "delta": piece}, True)
            args = reply.tool.arguments
            yield event("response.function_call_arguments.done", {**at, "arguments": args})
            item = _call(at["item_id"], reply, "completed", args)
        else:
            at = {"item_id": new_id("msg_", 48), "output_index": 0, "content_index": 0}
            item = _message(at["item_id"], "in_progress", [])
            yield event("response.output_item.added", {"output_index": 0, "item": item})
            yield event("response.content_part.added", {**at, "part": _part("")})
            for piece in reply.choices[0]:
                delta = {**at, "delta": piece, "logprobs": []}
                yield event("response.output_text.delta", delta, True)
            text = reply.text()
            yield event("response.output_text.done", {**at, "text": text, "logprobs": []})
            yield event("response.content_part.done", {**at, "part": _part(text)})
            item = _message(at["item_id"], "completed", [_part(text)])
        yield event("response.output_item.done", {"output_index": 0, "item": item})
        completed = _response(rid, reply, "completed", [item])
        yield event("response.completed", {"response": completed})

    def complete(self, reply: Reply) -> JsonObject:
        if reply.tool is not None:
            item = _call(new_id("fc_", 48), reply, "completed", reply.tool.arguments)
        else:
            item = _message(new_id("msg_", 48), "completed", [_part(reply.text())])
        return _response(new_id("resp_", 48), reply, "completed", [item])

    def error(self, status: int, message: str) -> JsonObject:
        return openai_error(status, message)
