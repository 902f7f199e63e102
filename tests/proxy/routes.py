"""The guarded routes: how to ask each one, and how to read what a client got."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.proxy.harness import events


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    request: Callable[[str, bool], dict[str, Any]]
    texts: Callable[[list[dict[str, Any]], bool], dict[int, str]]  # choice -> client text
    filtered: Callable[[list[dict[str, Any]], bool], bool]  # the format's block signal
    ndjson: bool = False
    stream_path: str | None = None  # where streams are asked for, if not ``path`` (Gemini)
    dialect: str | None = None  # the dialect's name, if not ``name``

    @property
    def format(self) -> str:
        return self.dialect or self.name

    @property
    def array(self) -> bool:
        """Streams come as one JSON array (Gemini without ``alt=sse``)."""
        return self.stream_path is not None and "alt=sse" not in self.stream_path

    def url(self, stream: bool) -> str:
        return self.stream_path if stream and self.stream_path else self.path

    def read(self, body: bytes, stream: bool) -> tuple[dict[int, str], bool]:
        objs = events(body)
        return self.texts(objs, stream), self.filtered(objs, stream)


def _chat_texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
    out: dict[int, str] = {}
    for o in objs:
        for c in o.get("choices", []):
            part = (c.get("delta") if stream else c.get("message")) or {}
            out[c["index"]] = out.get(c["index"], "") + (part.get("content") or "")
    return out


def _finish(objs: list[dict[str, Any]], stream: bool) -> bool:
    return any(
        c.get("finish_reason") == "content_filter" for o in objs for c in o.get("choices", [])
    )


def _completion_texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
    out: dict[int, str] = {}
    for o in objs:
        for c in o.get("choices", []):
            out[c["index"]] = out.get(c["index"], "") + (c.get("text") or "")
    return out


def _responses_texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
    if stream:
        return {
            0: "".join(o["delta"] for o in objs if o.get("type") == "response.output_text.delta")
        }
    return {
        0: "".join(
            part.get("text", "")
            for item in objs[0]["output"]
            if item.get("type") == "message"
            for part in item["content"]
        )
    }


def _responses_filtered(objs: list[dict[str, Any]], stream: bool) -> bool:
    final = objs[-1].get("response", {}) if stream else objs[0]
    return (
        final.get("status") == "incomplete"
        and (final.get("incomplete_details") or {}).get("reason") == "content_filter"
    )


def _anthropic_texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
    if stream:
        return {
            0: "".join(
                o["delta"].get("text", "") for o in objs if o.get("type") == "content_block_delta"
            )
        }
    return {0: "".join(b.get("text", "") for b in objs[0]["content"] if b["type"] == "text")}


def _anthropic_filtered(objs: list[dict[str, Any]], stream: bool) -> bool:
    if stream:
        return any(
            o.get("type") == "message_delta" and o["delta"].get("stop_reason") == "refusal"
            for o in objs
        )
    return objs[0].get("stop_reason") == "refusal"


def _ollama_texts(field: str) -> Callable[[list[dict[str, Any]], bool], dict[int, str]]:
    def texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
        if field == "message":
            return {0: "".join((o.get("message") or {}).get("content", "") for o in objs)}
        return {0: "".join(o.get("response", "") for o in objs)}

    return texts


def _ollama_filtered(objs: list[dict[str, Any]], stream: bool) -> bool:
    return objs[-1].get("done") is True and objs[-1].get("done_reason") == "content_filter"


def _gemini_texts(objs: list[dict[str, Any]], stream: bool) -> dict[int, str]:
    out: dict[int, str] = {}
    for o in objs:
        for n, c in enumerate(o.get("candidates", [])):
            for part in (c.get("content") or {}).get("parts", []):
                if not part.get("thought"):
                    index = c.get("index", n)
                    out[index] = out.get(index, "") + part.get("text", "")
    return out


def _gemini_filtered(objs: list[dict[str, Any]], stream: bool) -> bool:
    return any(c.get("finishReason") == "RECITATION" for o in objs for c in o.get("candidates", []))


def _gemini(name: str, query: str) -> Route:
    return Route(
        name,
        "/v1beta/models/m:generateContent",
        lambda p, s: {"contents": [{"role": "user", "parts": [{"text": p}]}]},
        _gemini_texts,
        _gemini_filtered,
        stream_path="/v1beta/models/m:streamGenerateContent" + query,
        dialect="gemini",
    )


ROUTES = [
    Route(
        "openai-chat",
        "/v1/chat/completions",
        lambda p, s: {"model": "m", "stream": s, "messages": [{"role": "user", "content": p}]},
        _chat_texts,
        _finish,
    ),
    Route(
        "openai-completions",
        "/v1/completions",
        lambda p, s: {"model": "m", "stream": s, "prompt": p},
        _completion_texts,
        _finish,
    ),
    Route(
        "openai-responses",
        "/v1/responses",
        lambda p, s: {"model": "m", "stream": s, "input": p},
        _responses_texts,
        _responses_filtered,
    ),
    Route(
        "anthropic-messages",
        "/v1/messages",
        lambda p, s: {
            "model": "m",
            "max_tokens": 1024,
            "stream": s,
            "messages": [{"role": "user", "content": p}],
        },
        _anthropic_texts,
        _anthropic_filtered,
    ),
    Route(
        "ollama-chat",
        "/api/chat",
        lambda p, s: {"model": "m", "stream": s, "messages": [{"role": "user", "content": p}]},
        _ollama_texts("message"),
        _ollama_filtered,
        ndjson=True,
    ),
    Route(
        "ollama-generate",
        "/api/generate",
        lambda p, s: {"model": "m", "stream": s, "prompt": p},
        _ollama_texts("response"),
        _ollama_filtered,
        ndjson=True,
    ),
    _gemini("gemini", "?alt=sse"),
    _gemini("gemini-array", ""),
]
