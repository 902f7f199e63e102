"""Where each format keeps the conversation a request carries."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.dialects import default_dialects
from proxy.dialects.base import Conversation

CASES: list[tuple[str, dict[str, Any], Conversation]] = [
    (
        "openai-chat",
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "continue"},
            ]
        },
        Conversation(("be brief", "hi", "continue"), ("hello",)),
    ),
    (
        "openai-chat",
        {"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": "I"}]},
        Conversation(("go",), (), "I"),
    ),
    ("openai-completions", {"prompt": "Once upon"}, Conversation((), (), "Once upon")),
    ("openai-completions", {"prompt": ["a", "b"]}, Conversation(("a",), (), "b")),
    (
        "anthropic-messages",
        {
            "system": [{"type": "text", "text": "sys"}],
            "messages": [
                {"role": "user", "content": "recite"},
                {"role": "assistant", "content": [{"type": "text", "text": "prefill"}]},
            ],
        },
        Conversation(("sys", "recite"), (), "prefill"),
    ),
    (
        "openai-responses",
        {
            "instructions": "inst",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "a"}],
                },
                {"type": "function_call_output", "output": "tool said"},
            ],
        },
        Conversation(("inst", "q", "tool said"), ("a",)),
    ),
    ("openai-responses", {"input": "just this"}, Conversation(("just this",))),
    ("ollama-chat", {"messages": [{"role": "user", "content": "x"}]}, Conversation(("x",))),
    ("ollama-generate", {"prompt": "p", "system": "s"}, Conversation(("s", "p"))),
    ("ollama-generate", {"prompt": "p", "raw": True}, Conversation((), (), "p")),
    ("openai-chat", {"messages": "not a list"}, Conversation()),
    (
        "gemini",
        {
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "recite"}]},
                {"role": "model", "parts": [{"text": "so far"}]},
                {"role": "user", "parts": [{"text": "go on"}]},
                {"role": "model", "parts": [{"text": "prefill"}]},
            ],
        },
        Conversation(("sys", "recite", "go on"), ("so far",), "prefill"),
    ),
    ("gemini", {"contents": [{"parts": [{"text": "hi"}]}]}, Conversation(("hi",))),
]
DIALECTS = {d.name: d for d in default_dialects()}  # Gemini's two routes share one reading


@pytest.mark.parametrize(("name", "payload", "expected"), CASES)
def test_conversation_of(name: str, payload: dict[str, Any], expected: Conversation) -> None:
    """Turns in order, every role; the prefill or prompt the answer continues is the tail."""
    assert DIALECTS[name].conversation(payload) == expected


def test_every_dialect_says_where_its_conversation_is() -> None:
    """Each registered dialect reads the messages of a request of its format."""
    assert {name for name, _, _ in CASES} == set(DIALECTS)
