"""Google Gemini (``models/{model}:generateContent`` and ``:streamGenerateContent``).

Streamed as SSE with ``alt=sse`` (what the google-genai SDK asks for), otherwise as one JSON
array sent element by element, pretty-printed like Google's.  Every response is a
``GenerateContentResponse``; a stream's last one carries ``finishReason`` with the last text.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

import orjson

from proxy.demo.formats import (
    SSE,
    BadRequest,
    Frame,
    Framing,
    JsonObject,
    Prompt,
    Reply,
    new_id,
    want_list,
)

JSON_ARRAY = Framing("application/json; charset=UTF-8", b"\r\n,\r\n{this is not json\n}", sse=False)
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}  # fmt: skip


def gemini_error(status: int, message: str) -> JsonObject:
    """Google's error body (also the shape of an in-stream error)."""
    name = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def _user_text(contents: list[Any]) -> str:
    """The text parts of the last user turn (a turn without a role is the user's)."""
    found = ""
    for turn in contents:
        if isinstance(turn, dict) and turn.get("role", "user") == "user":
            parts = turn.get("parts")
            texts = [p.get("text") for p in parts if isinstance(p, dict)] if parts else []
            found = "".join(t for t in texts if isinstance(t, str))
    return found


def _tool_name(tools: Any) -> str | None:
    try:
        name = tools[0]["functionDeclarations"][0]["name"]
    except (LookupError, TypeError):
        return None
    return name if isinstance(name, str) else None


class Gemini:
    """One of the two routes: a whole ``GenerateContentResponse`` or a stream of them."""

    stream_default = False

    def __init__(self, stream: bool = False, sse: bool = True) -> None:
        self.streams = stream
        self.framing = SSE if sse else JSON_ARRAY

    def parse(self, body: JsonObject) -> Prompt:
        config = body.get("generationConfig") or {}
        n = config.get("candidateCount", 1) if isinstance(config, dict) else 1
        if not isinstance(n, int) or not 1 <= n <= 8:
            raise BadRequest("'generationConfig.candidateCount' must be an integer from 1 to 8")
        return Prompt(
            user_text=_user_text(want_list(body, "contents")),
            stream=self.streams,
            n=n,
            tool_name=_tool_name(body.get("tools")),
        )

    def stream(self, reply: Reply) -> Iterator[Frame]:
        rid = new_id("", 22)
        steps: list[tuple[str | None, ...]] = list(zip_longest(*reply.choices))
        if reply.tool is not None or not steps:
            steps = [(None,) * len(reply.choices)]
        sent = 0
        for step, pieces in enumerate(steps):
            last = step == len(steps) - 1
            candidates = [
                _candidate(i, [_call(reply)] if reply.tool else [{"text": piece or ""}], last)
                for i, piece in enumerate(pieces)
                if piece is not None or last
            ]
            sent += sum(piece is not None for piece in pieces)
            obj = _response(reply, rid, candidates, reply.completion_tokens if last else sent)
            if self.framing.sse:
                yield SSE.frame(obj, paced=True)
            else:
                head = b"[" if step == 0 else b"\r\n,\r\n"
                yield Frame(head + orjson.dumps(obj, option=orjson.OPT_INDENT_2), paced=True)
        if not self.framing.sse:
            yield Frame(b"\r\n]", paced=False)

    def complete(self, reply: Reply) -> JsonObject:
        texts = [[{"text": reply.text(i)}] for i in range(len(reply.choices))]
        parts = [[_call(reply)]] if reply.tool is not None else texts
        candidates = [_candidate(i, p, True) for i, p in enumerate(parts)]
        return _response(reply, new_id("", 22), candidates, reply.completion_tokens)

    def error(self, status: int, message: str) -> JsonObject:
        return gemini_error(status, message)


def _response(reply: Reply, rid: str, candidates: list[JsonObject], tokens: int) -> JsonObject:
    usage = {
        "promptTokenCount": reply.prompt_tokens,
        "candidatesTokenCount": tokens,
        "totalTokenCount": reply.prompt_tokens + tokens,
    }
    # Google sends the ids last; first here, so that a stream's last bytes are the same on
    # every run (tests compare them).
    return {
        "responseId": rid,
        "modelVersion": reply.model,
        "candidates": candidates,
        "usageMetadata": usage,
    }


def _candidate(index: int, parts: list[JsonObject], last: bool) -> JsonObject:
    candidate: JsonObject = {"content": {"parts": parts, "role": "model"}, "index": index}
    if last:
        candidate["finishReason"] = "STOP"
    return candidate


def _call(reply: Reply) -> JsonObject:
    assert reply.tool is not None
    return {"functionCall": {"name": reply.tool.name, "args": orjson.loads(reply.tool.arguments)}}
