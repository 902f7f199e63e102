"""The wire formats copyguard guards, in one explicit list."""

from __future__ import annotations

from proxy.dialects.anthropic import AnthropicMessages
from proxy.dialects.base import Dialect, DialectError, StrayText, StreamRewriter, TextFilter
from proxy.dialects.gemini import GeminiGenerate, GeminiStream
from proxy.dialects.ollama import OllamaChat, OllamaGenerate
from proxy.dialects.openai_chat import OpenAIChat
from proxy.dialects.openai_completions import OpenAICompletions
from proxy.dialects.openai_responses import OpenAIResponses


def default_dialects() -> list[Dialect]:
    return [
        OpenAIChat(),
        OpenAICompletions(),
        OpenAIResponses(),
        AnthropicMessages(),
        OllamaChat(),
        OllamaGenerate(),
        GeminiGenerate(),
        GeminiStream(),
    ]


__all__ = [
    "Dialect",
    "DialectError",
    "StrayText",
    "StreamRewriter",
    "TextFilter",
    "default_dialects",
]
