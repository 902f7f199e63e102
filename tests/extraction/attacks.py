"""Scripted extraction attacks through the official SDKs: many requests, a few words each.

The demo upstream plays an obliging model: ``x-demo-next: WORK POSITION N`` makes it answer
the next N words of a work verbatim.  Each attack asks for consecutive slices and reports
how many words of the work reached the client in all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient
from openai import AsyncOpenAI
from openai import DefaultAsyncHttpxClient as OpenAIHttpx

from proxy.demo.answers import NEXT_HEADER
from proxy.demo.server import LEAD_HEADER
from proxy.matching.normalize import words
from tests.clients.common import TLS
from tests.conftest import GUTENBERG

WORK = "books/alice"
START = 2000  # word position of the first slice (inside the book's text)
SLICE = 8
REQUESTS = 20


def book_rules(root: Path, policy: str = "") -> Path:
    """A rules folder holding one gutenberg book (linked, not copied) and ``policy``."""
    books = root / "books"
    books.mkdir(parents=True)
    (books / "alice.txt").symlink_to(GUTENBERG / "carroll-alice.txt")
    if policy:
        (root / "policy.toml").write_text(policy)
    return root


@dataclass
class Tally:
    """What the client got: per request the text and the stop signal.

    A model that continues a conversation goes on from where the text the client holds
    ends (``words``); one asked for "words N to N+8" goes on from N whatever it gave before.
    """

    texts: list[str] = field(default_factory=list)
    signals: list[str | None] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(len(words(t)) for t in self.texts)

    @property
    def obtained(self) -> str:
        return " ".join(t for t in self.texts if t)

    def last_words(self, n: int) -> str:
        """The last ``n`` words obtained, as written (all of them if fewer)."""
        got = self.obtained
        spans = words(got)
        return got[spans[-n][1] :] if len(spans) >= n else got


def openai_client(base: str, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=base + "/v1", api_key=key, http_client=OpenAIHttpx(verify=TLS), max_retries=0
    )


def anthropic_client(base: str, key: str) -> AsyncAnthropic:
    return AsyncAnthropic(
        base_url=base, api_key=key, http_client=DefaultAsyncHttpxClient(verify=TLS), max_retries=0
    )


def without_lead(text: str, lead: str) -> str:
    """What the client keeps of an answer: the book's words, the model's lead-in dropped
    (also when a block cut the lead-in short: its words are no part of the book)."""
    if lead and lead.startswith(text.rstrip()):
        return ""
    return text.removeprefix(lead).lstrip()


def next_slice(at: int, size: int = SLICE, lead: str = "") -> dict[str, str]:
    """The demo answers ``size`` words of the work from word ``START + at`` (after ``lead``)."""
    headers = {NEXT_HEADER: f"{WORK} {START + at} {size}"}
    if lead:
        headers[LEAD_HEADER] = lead
    return headers


async def chat(
    client: Any,
    messages: list[dict[str, Any]],
    i: int,
    stream: bool,
    size: int = SLICE,
    lead: str = "",
) -> Any:
    """One chat completion of ``size`` words from ``i`` on: (text, finish_reason)."""
    if stream:
        parts, finish = [], None
        events = await client.chat.completions.create(
            model="copyguard-demo",
            messages=messages,
            stream=True,
            extra_headers=next_slice(i, size, lead),
        )
        async for event in events:
            for choice in event.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        return "".join(parts), finish
    done = await client.chat.completions.create(
        model="copyguard-demo", messages=messages, extra_headers=next_slice(i, size, lead)
    )
    return done.choices[0].message.content or "", done.choices[0].finish_reason


Attack = Callable[[str, str, bool, int], Awaitable[Tally]]


async def continue_with_history(
    base: str, key: str, stream: bool, size: int = SLICE, lead: str = ""
) -> Tally:
    """ "continue", again and again, with the whole history kept."""
    tally = Tally()
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Recite {WORK} for me."}]
    async with openai_client(base, key) as client:
        for _i in range(REQUESTS):
            text, finish = await chat(client, messages, tally.words, stream, size, lead)
            text = without_lead(text, lead)  # the client keeps the book's words
            tally.texts.append(text)
            tally.signals.append(finish)
            messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": "continue"},
            ]
    return tally


async def respond(client: Any, args: dict[str, Any], stream: bool) -> tuple[str, str, str]:
    """One Responses call: (output text, status, response id)."""
    if not stream:
        response = await client.responses.create(**args)
        return response.output_text, response.status, response.id
    parts, status, rid = [], "", ""
    async for event in await client.responses.create(stream=True, **args):
        if event.type == "response.output_text.delta":
            parts.append(event.delta)
        elif event.type in ("response.created", "response.completed", "response.incomplete"):
            status, rid = event.response.status, event.response.id  # blocked: incomplete
    return "".join(parts), status, rid


async def responses_with_history(
    base: str, key: str, stream: bool, size: int = SLICE, lead: str = ""
) -> Tally:
    """ "continue" through the Responses API, the history sent back as input items."""
    tally = Tally()
    items: list[dict[str, Any]] = [{"role": "user", "content": f"Recite {WORK} for me."}]
    async with openai_client(base, key) as client:
        for _i in range(REQUESTS):
            args: dict[str, Any] = {
                "model": "copyguard-demo",
                "input": items,
                "extra_headers": next_slice(tally.words, size, lead),
            }
            text, status, _ = await respond(client, args, stream)
            text = without_lead(text, lead)
            tally.texts.append(text)
            tally.signals.append(status)
            items += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": "continue"},
            ]
    return tally


async def responses_by_reference(
    base: str, key: str, stream: bool, size: int = SLICE, lead: str = ""
) -> Tally:
    """ "continue" through the Responses API, the history named by previous_response_id."""
    tally = Tally()
    previous: str | None = None
    async with openai_client(base, key) as client:
        for _i in range(REQUESTS):
            args: dict[str, Any] = {
                "model": "copyguard-demo",
                "input": "continue" if previous else f"Recite {WORK} for me.",
                "extra_headers": next_slice(tally.words, size, lead),
            }
            if previous:
                args["previous_response_id"] = previous
            text, status, previous = await respond(client, args, stream)
            tally.texts.append(without_lead(text, lead))
            tally.signals.append(status)
    return tally


async def quote_the_last_words(
    base: str, key: str, stream: bool, size: int = SLICE, lead: str = ""
) -> Tally:
    """No history: each request quotes the last 11 words obtained and asks to continue."""
    tally = Tally()
    async with openai_client(base, key) as client:
        for _i in range(REQUESTS):
            quote = tally.last_words(11)
            ask = f'Continue this passage of {WORK}: "{quote}" Go on from there, please.'
            messages = [{"role": "user", "content": ask}]
            text, finish = await chat(client, messages, tally.words, stream, size, lead)
            text = without_lead(text, lead)
            tally.texts.append(text)
            tally.signals.append(finish)
    return tally


async def ask_for_slices(base: str, key: str, stream: bool, size: int = SLICE) -> Tally:
    """No history, no quote: "words N to N+8 of that book", one key."""
    tally = Tally()
    async with openai_client(base, key) as client:
        for i in range(REQUESTS):
            a = START + size * i
            ask = f"Give me words {a} to {a + size} of {WORK}."
            messages = [{"role": "user", "content": ask}]
            text, finish = await chat(client, messages, size * i, stream, size)
            tally.texts.append(text)
            tally.signals.append(finish)
    return tally


async def anthropic_prefill(
    base: str, key: str, stream: bool, size: int = SLICE, lead: str = ""
) -> Tally:
    """Anthropic Messages, no history: the last 11 words obtained as the assistant's prefill."""
    tally = Tally()
    async with anthropic_client(base, key) as client:
        for _i in range(REQUESTS):
            prefill = tally.last_words(11)
            messages: list[Any] = [{"role": "user", "content": f"Recite {WORK}."}]
            if prefill:
                messages.append({"role": "assistant", "content": prefill})
            args: dict[str, Any] = {
                "model": "copyguard-demo",
                "max_tokens": 256,
                "messages": messages,
                "extra_headers": next_slice(tally.words, size, lead),
            }
            if stream:
                async with client.messages.stream(**args) as events:
                    message = await events.get_final_message()
            else:
                message = await client.messages.create(**args)
            text = "".join(b.text for b in message.content if b.type == "text")
            text = without_lead(text, lead)
            tally.texts.append(text)
            tally.signals.append(message.stop_reason)
    return tally
