"""A real model behind the real proxy: llama.cpp's server with SmolLM2-135M-Instruct.

Real tokenisation (sub-word deltas, multi-byte characters made of several tokens), the
server's own chunk shapes and usage: clean answers reach an official SDK client through the
proxy exactly as they come directly, and a real answer that reproduces a work is cut.
Greedy decoding (temperature 0, fixed seed) makes the two requests comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI, OpenAI

from proxy.matching.engines import load_matcher
from proxy.matching.normalize import words
from proxy.matching.seam import Matcher
from proxy.rules import load_rules
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.e2e.conftest import LlamaServer, StartProxy
from tests.proxy.harness import events

SEED = 1234
MIN_WORDS = 12  # the default policy
CHAT_PROMPTS = {
    "sky": "Explain in a few sentences why the sky is blue.",
    # answers in Japanese, Chinese and Cyrillic script: characters made of several byte tokens
    "multibyte": "How do you say 'thank you' in Japanese, Chinese and Russian?",
}
COMPLETION_PROMPT = "Once upon a time, in a small village,"
STORY_PROMPT = "Tell me a short story about a dragon who bakes bread."
STORY_TOKENS = 160
SAFE_WORDS = 24  # the story's first words stay unprotected: they reach the client


def client(base: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=base + "/v1", api_key="sk-e2e", max_retries=0, timeout=300)


def chat_body(prompt: str, stream: bool, max_tokens: int = 96) -> dict[str, Any]:
    return {
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
        "seed": SEED,
        "max_tokens": max_tokens,
        "stream": stream,
    }


def completion_body(prompt: str, stream: bool, max_tokens: int = 64) -> dict[str, Any]:
    return {
        "model": "smollm2",
        "prompt": prompt,
        "temperature": 0,
        "seed": SEED,
        "max_tokens": max_tokens,
        "stream": stream,
    }


async def raw_post(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects of an answer as the server sent them (SSE events, or the one body)."""
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return events(await resp.read())


def deltas(objs: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for o in objs:
        for c in o.get("choices", []):
            message = c.get("delta") or c.get("message")  # streamed chat, whole chat
            part = message.get("content") if isinstance(message, dict) else c.get("text")
            if part:
                out.append(part)
    return out


def splits_inside_words(parts: list[str]) -> int:
    """How many boundaries between consecutive deltas fall inside a word."""
    return sum(
        1 for a, b in zip(parts, parts[1:], strict=False) if a[-1].isalnum() and b[0].isalnum()
    )


def shape(objs: list[dict[str, Any]]) -> list[Any]:
    """The events with what differs between two requests (ids, timestamps, text) blanked."""

    def blank(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: blank(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [blank(v) for v in node]
        if key in ("id", "created", "content", "text"):
            return type(node).__name__
        return node

    return [blank(o) for o in objs]


async def chat(base: str, prompt: str, stream: bool, max_tokens: int = 96) -> tuple[str, str]:
    """(text, finish_reason) an openai SDK client gets for a greedy chat completion."""
    async with client(base) as c:
        if not stream:
            resp = await c.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                seed=SEED,
                max_tokens=max_tokens,
            )
            return resp.choices[0].message.content or "", str(resp.choices[0].finish_reason)
        text, finish = "", ""
        chunks = await c.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            seed=SEED,
            max_tokens=max_tokens,
            stream=True,
        )
        async for chunk in chunks:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return text, finish


async def complete(base: str, prompt: str, stream: bool) -> tuple[str, str, Any]:
    """(text, finish_reason, usage) an openai SDK client gets for a greedy completion."""
    async with client(base) as c:
        if not stream:
            resp = await c.completions.create(
                model="smollm2", prompt=prompt, temperature=0, seed=SEED, max_tokens=64
            )
            return resp.choices[0].text, str(resp.choices[0].finish_reason), resp.usage
        text, finish, usage = "", "", None
        chunks = await c.completions.create(
            model="smollm2", prompt=prompt, temperature=0, seed=SEED, max_tokens=64, stream=True
        )
        async for chunk in chunks:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text += choice.text
                finish = choice.finish_reason or finish
        return text, finish, usage


def text_only(event: Any) -> bool:
    """A shape() event that only carries text (no role, no finish_reason, no usage)."""
    choices = event.get("choices") or [{}]
    return "usage" not in event and all(
        c.get("finish_reason") is None and set(c.get("delta", {"content": 1})) == {"content"}
        for c in choices
    )


RAW_CASES = [("chat", "sky"), ("chat", "multibyte"), ("completions", "village")]


@pytest.mark.parametrize(("route", "prompt"), RAW_CASES, ids=["-".join(c) for c in RAW_CASES])
async def test_raw_stream_passes_through(
    llama_server: LlamaServer, start_proxy: StartProxy, route: str, prompt: str
) -> None:
    """The server's own SSE events, split inside words, reach the client with the same text."""
    proxy = await start_proxy(llama_server.url, SAMPLE_RULES)
    if route == "chat":
        path, body = "/v1/chat/completions", chat_body(CHAT_PROMPTS[prompt], stream=True)
    else:
        path, body = "/v1/completions", completion_body(COMPLETION_PROMPT, stream=True)
    await raw_post(llama_server.url + path, body)  # same prompt-cache state for both below
    direct = await raw_post(llama_server.url + path, body)
    proxied = await raw_post(proxy.url + path, body)
    (whole,) = await raw_post(llama_server.url + path, body | {"stream": False})
    parts = deltas(direct)
    tokens = whole["usage"]["completion_tokens"]
    print(
        f"\n[{route}/{prompt}] {len(direct)} events, {len(parts)} text deltas for {tokens} "
        f"tokens, {splits_inside_words(parts)} delta boundaries inside a word, "
        f"{sum(not p.isascii() for p in parts)} deltas with multi-byte characters; "
        f"through the proxy: {len(proxied)} events"
    )
    assert splits_inside_words(parts) > 0, parts  # real sub-word tokenisation
    assert "".join(deltas(proxied)) == "".join(parts) == "".join(deltas([whole]))
    # The same events with the same fields; text still held at the end may be released in one
    # extra text-only event just before the finish event.
    expect, got = shape(direct), shape(proxied)
    assert [e for e in got if not text_only(e)] == [e for e in expect if not text_only(e)]
    assert all(e in expect for e in got)
    assert len(expect) <= len(got) <= len(expect) + 1
    if prompt == "multibyte":
        assert sum(not p.isascii() for p in parts) >= 5, parts
        assert tokens > len(parts)  # some characters took more than one token


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("prompt", list(CHAT_PROMPTS), ids=str)
async def test_sdk_chat_same_text_through_proxy(
    llama_server: LlamaServer, start_proxy: StartProxy, prompt: str, stream: bool
) -> None:
    """An openai SDK client gets the same chat answer through the proxy as directly."""
    proxy = await start_proxy(llama_server.url, SAMPLE_RULES)
    await chat(llama_server.url, CHAT_PROMPTS[prompt], stream)
    direct = await chat(llama_server.url, CHAT_PROMPTS[prompt], stream)
    assert direct[0] and direct[1] in ("stop", "length")
    assert await chat(proxy.url, CHAT_PROMPTS[prompt], stream) == direct


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_sdk_completions_same_text_through_proxy(
    llama_server: LlamaServer, start_proxy: StartProxy, stream: bool
) -> None:
    """An openai SDK client gets the same completion (and usage) through the proxy."""
    proxy = await start_proxy(llama_server.url, SAMPLE_RULES)
    await complete(llama_server.url, COMPLETION_PROMPT, stream)
    direct = await complete(llama_server.url, COMPLETION_PROMPT, stream)
    assert direct[0] and direct[1] in ("stop", "length")
    assert await complete(proxy.url, COMPLETION_PROMPT, stream) == direct


@dataclass(frozen=True)
class Story:
    answer: str  # the model's greedy answer to STORY_PROMPT
    work: str  # its text from word SAFE_WORDS on: the protected work
    rules: Path  # a rules folder with that one work


@pytest.fixture(scope="module")
def story(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Story:
    """A protected work made of the model's own words: the tail of its answer to a prompt."""
    with OpenAI(base_url=llama_server.url + "/v1", api_key="sk-e2e", max_retries=0) as c:
        resp = c.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": STORY_PROMPT}],
            temperature=0,
            seed=SEED,
            max_tokens=STORY_TOKENS,
        )
    answer = resp.choices[0].message.content or ""
    assert len(words(answer)) >= SAFE_WORDS + 3 * MIN_WORDS, answer
    work = answer[words(answer)[SAFE_WORDS][1] :]
    rules = tmp_path_factory.mktemp("model-rules")
    (rules / "dragon-story.txt").write_text(
        "---\ntitle: The Dragon Who Bakes Bread\n---\n" + work + "\n", encoding="utf-8"
    )
    return Story(answer, work, rules)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_real_answer_reproducing_a_work_is_blocked(
    llama_server: LlamaServer, start_proxy: StartProxy, story: Story, stream: bool
) -> None:
    """The model's own words as a protected work: asked again through the proxy, the answer
    is cut with content_filter; the client gets the clean start and no min_words run of it."""
    proxy = await start_proxy(llama_server.url, story.rules)
    index: Matcher = load_matcher(load_rules(story.rules), None)[0]
    assert len(scan_text(index, story.answer)) == 1  # the unguarded answer reproduces it
    text, finish = await chat(proxy.url, STORY_PROMPT, stream, max_tokens=STORY_TOKENS)
    print(
        f"\n[blocked/{'stream' if stream else 'whole'}] the model's answer has "
        f"{len(words(story.answer))} words, the work its last {len(words(story.work))}; "
        f"the client got {len(words(text))} words"
    )
    assert finish == "content_filter"
    assert scan_text(index, text) == []
    assert story.answer.startswith(text)
    assert SAFE_WORDS - 2 <= len(words(text)) < SAFE_WORDS + MIN_WORDS
