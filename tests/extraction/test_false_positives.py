"""Context costs ordinary users nothing: clean conversations, summaries, pasted quotes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.demo import DemoSettings
from proxy.demo.answers import echo64, load_works, next_words
from proxy.matching.normalize import words
from tests.extraction.attacks import START, WORK, book_rules, next_slice
from tests.proxy.harness import Stack, StartStack

SUMMARY = (
    "In this passage Alice finds a little cake with the words EAT ME on it, decides to eat "
    "it whatever it does to her size, and then waits anxiously to see what happens next."
)


WORKS: dict[str, Any] = {}


def passage(n: int, at: int = START) -> str:
    """``n`` words of the work from word ``at``, as the book has them."""
    return next_words(f"{WORK} {at} {n}", WORKS)


@pytest.fixture(autouse=True)
def _works(book: Path) -> None:
    WORKS.update(load_works(book))


async def ask(
    base: str, messages: list[dict[str, str]], key: str = "sk-user", **headers: str
) -> tuple[str, str]:
    """One chat completion through ``base``: (content, finish_reason)."""
    body = {"model": "copyguard-demo", "messages": messages}
    headers = {"Authorization": f"Bearer {key}", **headers}
    async with (
        aiohttp.ClientSession() as s,
        s.post(base + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        choice = (await r.json())["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


async def both(stack: Stack, messages: list[dict[str, str]]) -> tuple[str, str]:
    """Ask through the proxy and straight at the demo: the two answers must be the same."""
    got = await ask(stack.proxy, messages)
    assert got == await ask(stack.upstream, messages)
    return got


async def start(start_stack: StartStack, rules: Path) -> Stack:
    return await start_stack(rules=rules, demo=DemoSettings(rules_dir=rules, delay_ms=0))


async def test_clean_ten_turn_conversation_passes_unchanged(
    start_stack: StartStack, book: Path
) -> None:
    """Ten turns about the book, with short quotes of it, and every answer arrives as sent."""
    stack = await start(start_stack, book)
    messages: list[dict[str, str]] = []
    for turn in range(10):
        short = passage(4, START + 40 * turn)  # a few words of the book: below any run
        messages.append({"role": "user", "content": echo64(f"Turn {turn}: what of '{short}'?")})
        content, finish = await both(stack, messages)
        assert finish == "stop" and content.startswith(f"Turn {turn}")
        messages.append({"role": "assistant", "content": content})


async def test_summary_of_a_pasted_passage_passes(start_stack: StartStack, book: Path) -> None:
    """60 pasted words of the work and a request for a summary: the summary gets through."""
    stack = await start(start_stack, book)
    pasted = passage(60)
    assert len(words(pasted)) == 60
    ask_for = [{"role": "user", "content": f"Summarise this for me:\n\n{pasted}"}]
    content, finish = await ask(stack.proxy, ask_for, **{"x-demo-answer": "clean"})
    assert finish == "stop"
    messages = [{"role": "user", "content": f"{echo64(SUMMARY)}\n\n{pasted}"}]
    assert await ask(stack.proxy, messages) == (SUMMARY, "stop")


@pytest.mark.parametrize(("echo", "finish"), [("allow", "stop"), ("block", "content_filter")])
async def test_quoting_back_a_pasted_passage_follows_echo(
    start_stack: StartStack, tmp_path: Path, echo: str, finish: str
) -> None:
    """An answer quoting back what the user pasted passes under echo = allow, not under block."""
    rules = book_rules(tmp_path / f"rules-{echo}", f'echo = "{echo}"\n')
    WORKS.update(load_works(rules))
    stack = await start(start_stack, rules)
    pasted = passage(60)
    quoted = passage(30, START + 20)
    messages = [{"role": "user", "content": f"What does this mean?\n\n{pasted}"}]
    content, got = await ask(stack.proxy, messages, **{"x-demo-next": f"{WORK} {START + 20} 30"})
    assert got == finish
    assert (content == quoted) is (echo == "allow")


async def test_quoting_back_beyond_the_pasted_passage_is_blocked(
    start_stack: StartStack, book: Path
) -> None:
    """Quoting the pasted passage and going on past its end is extraction: blocked."""
    stack = await start(start_stack, book)
    messages = [{"role": "user", "content": f"What does this mean?\n\n{passage(60)}"}]
    content, finish = await ask(stack.proxy, messages, **{"x-demo-next": f"{WORK} {START + 20} 48"})
    assert finish == "content_filter"
    assert len(words(content)) < 40  # none of the words past the pasted passage


async def test_a_different_key_starts_from_zero(start_stack: StartStack, book: Path) -> None:
    """Once one key has spent its budget for the work, another key still gets its answer."""
    stack = await start(start_stack, book)
    for i in range(14):  # 14 x 8 words: past budget_words = 100
        await ask(stack.proxy, [{"role": "user", "content": "next"}], "sk-a", **next_slice(8 * i))
    blocked = await ask(
        stack.proxy, [{"role": "user", "content": "next"}], "sk-a", **next_slice(200)
    )
    fresh = await ask(stack.proxy, [{"role": "user", "content": "next"}], "sk-b", **next_slice(200))
    assert blocked[1] == "content_filter" and blocked[0] == ""
    assert fresh[1] == "stop" and len(words(fresh[0])) == 8
