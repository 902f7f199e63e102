"""OpenAI Chat Completions (/v1/chat/completions) and legacy Completions (/v1/completions)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from proxy.demo.answers import last_user_text
from proxy.demo.formats import (
    SSE,
    SSE_DONE,
    BadRequest,
    Frame,
    JsonObject,
    Prompt,
    Reply,
    first_tool_name,
    new_id,
    want_bool,
    want_list,
)

FINGERPRINT = "fp_copyguard_demo"


def openai_error(status: int, message: str) -> JsonObject:
    """The OpenAI error body."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def openai_usage(reply: Reply) -> JsonObject:
    """The usage object of chat and completions replies."""
    done = reply.completion_tokens
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": done,
        "total_tokens": reply.prompt_tokens + done,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _stream_options(body: JsonObject) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _n(body: JsonObject) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        raise BadRequest("'n' must be an integer from 1 to 128")
    return n


def _token_logprob(token: str) -> JsonObject:
    return {
        "token": token,
        "logprob": -0.0125,
        "bytes": list(token.encode()),
        "top_logprobs": [],
    }


def _interleaved(reply: Reply) -> Iterator[tuple[int, str]]:
    """(choice index, chunk) pairs, one step of every choice at a time."""
    for step in itertools.zip_longest(*reply.choices):
        for index, piece in enumerate(step):
            if piece is not None:
                yield index, piece


class ChatCompletions:
    """POST /v1/chat/completions."""

    framing = SSE
    stream_default = False

    def parse(self, body: JsonObject) -> Prompt:
        messages = want_list(body, "messages")
        model = body.get("model")
        return Prompt(
            user_text=last_user_text(messages),
            stream=want_bool(body, "stream", False),
            model=model if isinstance(model, str) else None,
            n=_n(body),
            tool_name=first_tool_name(body.get("tools"), ("function", "name"), ("name",)),
            include_usage=_stream_options(body),
            logprobs=want_bool(body, "logprobs", False),
        )

    def stream(self, reply: Reply) -> Iterator[Frame]:
        cid = new_id("chatcmpl-")
        head: JsonObject = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": reply.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        if reply.include_usage:
            head["usage"] = None
        no_lp: JsonObject | None = {"content": [], "refusal": None} if reply.logprobs else None

        def chunk(
            index: int, delta: JsonObject, finish: str | None = None, lp: Any = None
        ) -> Frame:
            choice = {"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}
            return SSE.frame({**head, "choices": [choice]}, paced=bool(delta.get("content")))

        n = len(reply.choices)
        if reply.tool is not None:
            tool = reply.tool
            for i in range(n):
                call = {"index": 0, "id": tool.call_id, "type": "function"}
                call["function"] = {"name": tool.name, "arguments": ""}
                opening = {"role": "assistant", "content": None, "tool_calls": [call]}
                yield chunk(i, {**opening, "refusal": None})
            for piece, i in itertools.product(tool.chunks, range(n)):
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                yield chunk(i, delta)._replace(paced=True)
            finish = "tool_calls"
        else:
            for i in range(n):
                yield chunk(i, {"role": "assistant", "content": "", "refusal": None}, lp=no_lp)
            for i, piece in _interleaved(reply):
                lp = (
                    {"content": [_token_logprob(piece)], "refusal": None}
                    if reply.logprobs
                    else None
                )
                yield chunk(i, {"content": piece}, lp=lp)
            finish = "stop"
        for i in range(n):
            yield chunk(i, {}, finish)
        if reply.include_usage:
            yield SSE.frame({**head, "choices": [], "usage": openai_usage(reply)})
        yield SSE_DONE

    def complete(self, reply: Reply) -> JsonObject:
        choices = []
        for i, pieces in enumerate(reply.choices):
            message: JsonObject = {"role": "assistant", "content": "".join(pieces)}
            finish = "stop"
            if reply.tool is not None:
                function = {"name": reply.tool.name, "arguments": reply.tool.arguments}
                call = {"id": reply.tool.call_id, "type": "function", "function": function}
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                finish = "tool_calls"
            message.update(refusal=None, annotations=[])
            lp = None
            if reply.logprobs and reply.tool is None:
                lp = {"content": [_token_logprob(p) for p in pieces], "refusal": None}
            choices.append(
                {"index": i, "message": message, "logprobs": lp, "finish_reason": finish}
            )
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": reply.created,
            "model": reply.model,
            "choices": choices,
            "usage": openai_usage(reply),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }

    def error(self, status: int, message: str) -> JsonObject:
        return openai_error(status, message)


class Completions:
    """POST /v1/completions (legacy text completions)."""

    framing = SSE
    stream_default = False

    def parse(self, body: JsonObject) -> Prompt:
        prompt = body.get("prompt", "")
        if isinstance(prompt, list):
            texts = [p for p in prompt if isinstance(p, str)]
            prompt = texts[-1] if texts else ""
        if not isinstance(prompt, str):
            raise BadRequest("'prompt' must be a string or a list of strings")
        model = body.get("model")
        return Prompt(
            user_text=prompt,
            stream=want_bool(body, "stream", False),
            model=model if isinstance(model, str) else None,
            n=_n(body),
            include_usage=_stream_options(body),
        )

    def stream(self, reply: Reply) -> Iterator[Frame]:
        head: JsonObject = {
            "id": new_id("cmpl-"),
            "object": "text_completion",
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": FINGERPRINT,
        }
        if reply.include_usage:
            head["usage"] = None

        def chunk(index: int, text: str, finish: str | None = None) -> Frame:
            choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
            return SSE.frame({**head, "choices": [choice]}, paced=bool(text))

        for i, piece in _interleaved(reply):
            yield chunk(i, piece)
        for i in range(len(reply.choices)):
            yield chunk(i, "", "stop")
        if reply.include_usage:
            yield SSE.frame({**head, "choices": [], "usage": openai_usage(reply)})
        yield SSE_DONE

    def complete(self, reply: Reply) -> JsonObject:
        choices = [
            {"text": "".join(p), "index": i, "logprobs": None, "finish_reason": "stop"}
            for i, p in enumerate(reply.choices)
        ]
        usage = openai_usage(reply)
        return {
            "id": new_id("cmpl-"),
            "object": "text_completion",
            "created": reply.created,
            "model": reply.model,
            "choices": choices,
            "usage": {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
            "system_fingerprint": FINGERPRINT,
        }

    def error(self, status: int, message: str) -> JsonObject:
        return openai_error(status, message)
