"""Shared shapes of the demo's wire formats: the parsed prompt, the planned reply, framing.

Each format module (OpenAI chat/completions, Responses, Anthropic, Ollama) turns a
request body into a ``Prompt`` and a ``Reply`` into frames or one JSON object.  No I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson

JsonObject = dict[str, Any]


class BadRequest(ValueError):
    """A request body the demo cannot answer (HTTP 400)."""


@dataclass(frozen=True)
class Framing:
    """How events are laid out on the wire: SSE (``event:``/``data:``) or NDJSON lines."""

    content_type: str
    garbage: bytes
    sse: bool

    def frame(self, obj: JsonObject, event: str | None = None, *, paced: bool = False) -> Frame:
        """One event carrying ``obj``; ``paced`` frames carry output text."""
        if not self.sse:
            return Frame(orjson.dumps(obj) + b"\n", paced)
        head = b"event: " + event.encode() + b"\n" if event else b""
        return Frame(head + b"data: " + orjson.dumps(obj) + b"\n\n", paced)


SSE = Framing("text/event-stream; charset=utf-8", b"data: {this is not json\n\n", sse=True)
NDJSON = Framing("application/x-ndjson", b"{this is not json\n", sse=False)


class Frame(NamedTuple):
    """One event on the wire; the server sleeps ``delay_ms`` before each paced frame."""

    data: bytes
    paced: bool


SSE_DONE = Frame(b"data: [DONE]\n\n", paced=False)


@dataclass(frozen=True)
class Prompt:
    """What a request asks for, independent of its wire format."""

    user_text: str
    stream: bool
    model: str | None = None
    n: int = 1
    tool_name: str | None = None
    include_usage: bool = False
    logprobs: bool = False


@dataclass(frozen=True)
class ToolCall:
    """A function call the demo model makes instead of answering in text."""

    name: str
    arguments: str
    chunks: tuple[str, ...]
    call_id: str = field(default_factory=lambda: new_id("call_", 24))


@dataclass(frozen=True)
class Reply:
    """The planned answer: per choice the text chunks, or one tool call."""

    model: str
    created: int
    choices: tuple[tuple[str, ...], ...]
    prompt_tokens: int
    tool: ToolCall | None = None
    include_usage: bool = False
    logprobs: bool = False

    def text(self, index: int = 0) -> str:
        """The whole text of choice ``index``."""
        return "".join(self.choices[index])

    @property
    def completion_tokens(self) -> int:
        """One token per chunk, over all choices (and the tool call's argument chunks)."""
        tool = len(self.tool.chunks) if self.tool else 0
        return sum(len(c) for c in self.choices) + tool


class Format(Protocol):
    """One wire format served by the demo upstream."""

    framing: Framing
    stream_default: bool

    def parse(self, body: JsonObject) -> Prompt:
        """Read the request body; raise BadRequest if it is unusable."""
        ...

    def stream(self, reply: Reply) -> Iterator[Frame]:
        """Every event of a streamed reply, terminal event included."""
        ...

    def complete(self, reply: Reply) -> JsonObject:
        """The non-streamed reply body."""
        ...

    def error(self, status: int, message: str) -> JsonObject:
        """This format's JSON error body."""
        ...


def new_id(prefix: str, length: int = 29) -> str:
    """A random id in the style of the real APIs (``chatcmpl-...``, ``msg_...``)."""
    return prefix + secrets.token_hex(length)[:length]


def want_bool(body: JsonObject, key: str, default: bool) -> bool:
    """``body[key]`` if it is a boolean, ``default`` when absent."""
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be a boolean")
    return value


def want_list(body: JsonObject, key: str) -> list[Any]:
    """``body[key]`` as a list (required)."""
    value = body.get(key)
    if not isinstance(value, list):
        raise BadRequest(f"'{key}' must be a list")
    return value


def first_tool_name(tools: Any, *paths: tuple[str, ...]) -> str | None:
    """The name of the first tool, looked up at the first path that yields a string."""
    if not isinstance(tools, list) or not tools:
        return None
    for path in paths:
        node: Any = tools[0]
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node
    return None


def count_tokens(text: str) -> int:
    """A rough token count for usage fields: about one token per four characters."""
    return max(1, (len(text) + 3) // 4)
