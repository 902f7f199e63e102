"""Ollama native API (/api/chat, /api/generate): NDJSON lines, streaming by default."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson

from proxy.demo.answers import last_user_text
from proxy.demo.formats import (
    NDJSON,
    BadRequest,
    Frame,
    JsonObject,
    Prompt,
    Reply,
    first_tool_name,
    want_bool,
    want_list,
)

_NS_PER_TOKEN = 20_000_000


def ollama_error(status: int, message: str) -> JsonObject:
    """Ollama's error body (also the shape of an in-stream error line)."""
    return {"error": message}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _totals(reply: Reply) -> JsonObject:
    evals = reply.completion_tokens
    prompt_ns = reply.prompt_tokens * 1_000_000
    return {
        "done": True,
        "done_reason": "stop",
        "total_duration": 5_000_000 + prompt_ns + evals * _NS_PER_TOKEN,
        "load_duration": 5_000_000,
        "prompt_eval_count": reply.prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": evals,
        "eval_duration": evals * _NS_PER_TOKEN,
    }


def _model(body: JsonObject) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


class OllamaChat:
    """POST /api/chat."""

    framing = NDJSON
    stream_default = True

    def parse(self, body: JsonObject) -> Prompt:
        return Prompt(
            user_text=last_user_text(want_list(body, "messages")),
            stream=want_bool(body, "stream", True),
            model=_model(body),
            tool_name=first_tool_name(body.get("tools"), ("function", "name"), ("name",)),
        )

    def _line(self, reply: Reply, message: JsonObject) -> JsonObject:
        return {"model": reply.model, "created_at": _now(), "message": message, "done": False}

    def stream(self, reply: Reply) -> Iterator[Frame]:
        if reply.tool is not None:
            yield NDJSON.frame(self._line(reply, self._tool_message(reply)), paced=True)
        for piece in reply.choices[0]:
            message = {"role": "assistant", "content": piece}
            yield NDJSON.frame(self._line(reply, message), paced=True)
        last = self._line(reply, {"role": "assistant", "content": ""})
        yield NDJSON.frame({**last, **_totals(reply)})

    def complete(self, reply: Reply) -> JsonObject:
        message = {"role": "assistant", "content": reply.text()}
        if reply.tool is not None:
            message = self._tool_message(reply)
        return {**self._line(reply, message), **_totals(reply)}

    def _tool_message(self, reply: Reply) -> JsonObject:
        assert reply.tool is not None
        function = {"name": reply.tool.name, "arguments": orjson.loads(reply.tool.arguments)}
        return {"role": "assistant", "content": "", "tool_calls": [{"function": function}]}

    def error(self, status: int, message: str) -> JsonObject:
        return ollama_error(status, message)


class OllamaGenerate:
    """POST /api/generate."""

    framing = NDJSON
    stream_default = True

    def parse(self, body: JsonObject) -> Prompt:
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise BadRequest("'prompt' must be a string")
        return Prompt(user_text=prompt, stream=want_bool(body, "stream", True), model=_model(body))

    def _line(self, reply: Reply, text: str) -> JsonObject:
        return {"model": reply.model, "created_at": _now(), "response": text, "done": False}

    def _context(self, reply: Reply) -> list[int]:
        return [1000 + ord(c) % 30000 for c in reply.text()[:256]] or [1]

    def stream(self, reply: Reply) -> Iterator[Frame]:
        for piece in reply.choices[0]:
            yield NDJSON.frame(self._line(reply, piece), paced=True)
        last = {**self._line(reply, ""), **_totals(reply), "context": self._context(reply)}
        yield NDJSON.frame(last)

    def complete(self, reply: Reply) -> JsonObject:
        line = self._line(reply, reply.text())
        return {**line, **_totals(reply), "context": self._context(reply)}

    def error(self, status: int, message: str) -> JsonObject:
        return ollama_error(status, message)
