"""Where each wire format keeps the conversation a request carries (no I/O).

Every turn's text counts, whoever wrote it: a user may paste what an earlier answer gave
them, and an assistant turn is text the client already holds.  The *tail* is text the
answer goes on from directly: an assistant prefill (Anthropic, or a chat request ending in
an assistant message), a completions prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from proxy.dialects.base import Conversation


def _text(content: Any) -> str:
    """A message's text: a string, or the text of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                for field in ("text", "content"):
                    value = part.get(field)
                    if isinstance(value, str):
                        parts.append(value)
                    elif isinstance(value, list):
                        parts.append(_text(value))
        return "\n".join(p for p in parts if p)
    return ""


def _messages(messages: Any, prefill: bool) -> Conversation:
    """Chat-shaped messages; with ``prefill``, a final assistant message is the tail."""
    if not isinstance(messages, list):
        return Conversation()
    items = [m for m in messages if isinstance(m, dict)]
    tail = ""
    if prefill and items and items[-1].get("role") == "assistant":
        tail = _text(items[-1].get("content"))
        items = items[:-1]
    return _split([(m.get("role"), _text(m.get("content"))) for m in items], tail)


def _split(said: list[tuple[Any, str]], tail: str = "") -> Conversation:
    """(role, text) pairs into the client's turns and the model's replies."""
    turns = tuple(t for role, t in said if t and role != "assistant")
    replies = tuple(t for role, t in said if t and role == "assistant")
    return Conversation(turns, replies, tail)


def _with(conversation: Conversation, first: Iterable[str]) -> Conversation:
    extra = tuple(t for t in first if t)
    return Conversation(extra + conversation.turns, conversation.replies, conversation.tail)


def openai_chat(payload: Mapping[str, Any]) -> Conversation:
    return _messages(payload.get("messages"), prefill=True)


def openai_completions(payload: Mapping[str, Any]) -> Conversation:
    prompt = payload.get("prompt")
    if isinstance(prompt, list):  # several prompts, one answer each: each one a tail
        texts = [p for p in prompt if isinstance(p, str)]
        return Conversation(tuple(texts[:-1]), (), texts[-1] if texts else "")
    return Conversation((), (), prompt if isinstance(prompt, str) else "")


def anthropic(payload: Mapping[str, Any]) -> Conversation:
    return _with(_messages(payload.get("messages"), prefill=True), [_text(payload.get("system"))])


def openai_responses(payload: Mapping[str, Any]) -> Conversation:
    given = payload.get("input")
    if isinstance(given, str):
        conversation = Conversation((given,))
    elif isinstance(given, list):
        items = [i for i in given if isinstance(i, dict)]
        conversation = _split(
            [(i.get("role"), _text(i.get("content") or i.get("output"))) for i in items]
        )
    else:
        conversation = Conversation()
    return _with(conversation, [_text(payload.get("instructions"))])


def ollama_chat(payload: Mapping[str, Any]) -> Conversation:
    return _messages(payload.get("messages"), prefill=True)


def ollama_generate(payload: Mapping[str, Any]) -> Conversation:
    prompt = payload.get("prompt")
    text = prompt if isinstance(prompt, str) else ""
    system = payload.get("system")
    turns = (system,) if isinstance(system, str) and system else ()
    # raw prompts are continued as they are; templated ones are a user turn
    return Conversation(turns, (), text) if payload.get("raw") else Conversation((*turns, text))


def gemini(payload: Mapping[str, Any]) -> Conversation:
    """``contents`` turns (role ``model`` is the model's); a final model turn is the tail."""
    contents = payload.get("contents")
    items = [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
    said = [
        ("assistant" if c.get("role") == "model" else "user", _text(c.get("parts"))) for c in items
    ]
    tail = said.pop()[1] if said and said[-1][0] == "assistant" else ""
    system = payload.get("systemInstruction") or payload.get("system_instruction")
    first = _text(system.get("parts")) if isinstance(system, dict) else _text(system)
    return _with(_split(said, tail), [first])
