"""Shared by the official-SDK tests: the demo answers, what each SDK call got, the checks.

Every SDK call is described once (``Call``) and run with both a sync client (in a worker
thread, so the servers' event loop keeps running) and an async client, each pointed at the
proxy (or, for the reference answer, at the demo upstream) with only its base URL changed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from proxy.demo import ANSWER_HEADER
from proxy.demo.answers import load_works
from proxy.matching.normalize import words
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import StartStack, index_for, string_lists_by_path


class Outcome(Enum):
    CLEAN = "clean"
    BLOCKED = "blocked"
    REDACTED = "redacted"


@dataclass(frozen=True)
class Answer:
    """A demo answer (``x-demo-answer``) and what the sample policy makes of it."""

    name: str
    outcome: Outcome


ANSWERS = [
    Answer("clean", Outcome.CLEAN),
    Answer("poems/lighthouse-keeper", Outcome.BLOCKED),
    Answer("prose/the-cartographers-daughter", Outcome.BLOCKED),
    Answer("songs/copper-river-blues", Outcome.REDACTED),
]
ANSWER_IDS = [a.outcome.value + "-" + a.name.split("/")[0] for a in ANSWERS]
SONG = load_works(SAMPLE_RULES)["songs/copper-river-blues"]
REPLACEMENT = f"[excerpt of “{SONG.title}” removed]"
SONG_TAIL = SONG.text[words(SONG.text)[-1][2] :]  # after the song's last word
FLAVOURS = ["sync", "async"]


@dataclass
class Got:
    """What a client ended up with: its accumulated text, the terminal signal, the objects."""

    text: str
    signal: str | None
    objects: list[Any]  # every object the SDK handed back (models or dicts)
    also: list[str] = field(default_factory=list)  # helper results that repeat ``text``


@dataclass(frozen=True)
class Call:
    """One SDK call, sync and async, and the signal it reports for each outcome."""

    name: str
    sync: Callable[[Any], Got]
    aio: Callable[[Any], Awaitable[Got]]
    signals: dict[Outcome, str]


def plain_call(
    name: str,
    make: Callable[[Any], Any],
    read: Callable[[Any], Got],
    signals: dict[Outcome, str],
    *,
    stream: bool,
) -> Call:
    """A call whose sync and async forms differ only by ``await`` (and draining the stream)."""

    def sync(client: Any) -> Got:
        result = make(client)
        return read(drain(result) if stream else result)

    async def aio(client: Any) -> Got:
        result = await make(client)
        return read(await adrain(result) if stream else result)

    return Call(name, sync, aio, signals)


def drain(stream: Any) -> list[Any]:
    """Every item of a sync SDK stream; the stream is closed whatever happens."""
    try:
        return list(stream)
    finally:
        stream.close()


async def adrain(stream: Any) -> list[Any]:
    """Every item of an async SDK stream; the stream is closed whatever happens."""
    try:
        return [item async for item in stream]
    finally:
        close = getattr(stream, "aclose", None) or stream.close
        await close()


# One default TLS context for every client: the SDKs would each load the CA bundle
# (~60 ms) for a loopback URL that never uses it.  Nothing else about the clients changes.
TLS = ssl.create_default_context()

SyncClient = Callable[[str, dict[str, str]], AbstractContextManager[Any]]
AsyncClient = Callable[[str, dict[str, str]], AbstractAsyncContextManager[Any]]


async def run(
    call: Call, flavour: str, base: str, answer: Answer, sync: SyncClient, aio: AsyncClient
) -> Got:
    """Make ``call`` with a fresh client of ``flavour`` at ``base``, closing it afterwards."""
    headers = {ANSWER_HEADER: answer.name}
    if flavour == "sync":

        def work() -> Got:
            with sync(base, headers) as client:
                return call.sync(client)

        return await asyncio.to_thread(work)
    async with aio(base, headers) as client:
        return await call.aio(client)


def strings_of(objects: Iterable[Any]) -> dict[str, list[str]]:
    """Every string field of the SDK's objects, in order, per JSON path."""
    return string_lists_by_path(
        obj.model_dump(mode="json", warnings=False) if hasattr(obj, "model_dump") else obj
        for obj in objects
    )


def assert_no_protected_run(got: Got) -> None:
    """No min_words run of a sample work in the text, a helper result or any object field."""
    index = index_for(SAMPLE_RULES)
    for text in [got.text, *got.also]:
        assert scan_text(index, text) == [], text
    for path, texts in strings_of(got.objects).items():
        # joined as a stream rebuilds them, and apart, so no single field hides at a seam
        for joined in ("".join(texts), "\n".join(texts)):
            assert scan_text(index, joined) == [], path


async def check_call(
    start_stack: StartStack,
    call: Call,
    flavour: str,
    answer: Answer,
    sync: SyncClient,
    aio: AsyncClient,
) -> None:
    """Run ``call`` through the proxy and check signal, leaks, helpers and the clean text."""
    stack = await start_stack()
    got = await run(call, flavour, stack.proxy, answer, sync, aio)
    assert got.signal == call.signals[answer.outcome]
    assert_no_protected_run(got)
    assert all(also == got.text for also in got.also), (got.text, got.also)
    if answer.outcome is Outcome.CLEAN:
        direct = await run(call, flavour, stack.upstream, answer, sync, aio)
        assert direct.signal == got.signal
        assert got.text == direct.text != ""
    elif answer.outcome is Outcome.BLOCKED:
        assert got.text.startswith("Certainly, here is")
    else:
        assert got.text.startswith(f'Certainly, here is "{SONG.title}" in full.')
        assert got.text.count(REPLACEMENT) == 1 and got.text.endswith(REPLACEMENT + SONG_TAIL)
