"""Budgets and context cost no ordinary user: the clean speeches against all 17 books."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from proxy.budget.identity import client_key
from proxy.budget.store import MemoryStore
from proxy.demo import DemoSettings
from proxy.demo.answers import echo64
from tests.conftest import GUTENBERG, SPEECHES, need_corpora
from tests.proxy.harness import StartStack

REQUESTS = 1000
TURNS = 10  # each conversation: ten requests, the history kept


def paragraphs(size: int = 80) -> list[str]:
    """The speeches cut into pieces of ``size`` words, in a fixed order."""
    out = []
    for path in sorted(SPEECHES.rglob("*.txt")):
        said = path.read_text(encoding="utf-8", errors="replace").split()
        out += [" ".join(said[i : i + size]) for i in range(0, len(said) - size, size)]
    return out


async def test_a_thousand_speech_requests_through_one_key(start_stack: StartStack) -> None:
    """1000 requests in conversations of ten turns: no budget and no context finding at all."""
    need_corpora()
    texts = paragraphs()
    assert len(texts) >= 2 * REQUESTS
    stack = await start_stack(
        rules=GUTENBERG, demo=DemoSettings(rules_dir=Path("/nonexistent"), delay_ms=0)
    )
    headers = {"Authorization": "Bearer sk-citizen"}
    findings, words_out = 0, 0
    async with aiohttp.ClientSession() as s:
        messages: list[dict[str, str]] = []
        for i in range(REQUESTS):
            if i % TURNS == 0:
                messages = []
            said = texts[2 * i + 1]
            messages.append({"role": "user", "content": f"{echo64(said)} {texts[2 * i]}"})
            body = {"model": "copyguard-demo", "messages": messages}
            async with s.post(
                stack.proxy + "/v1/chat/completions", json=body, headers=headers
            ) as r:
                assert r.status == 200
                data = await r.json()
            choice = data["choices"][0]
            assert choice["finish_reason"] == "stop", data.get("copyguard")
            assert choice["message"]["content"] == said
            findings += len(data.get("copyguard", {}).get("findings", []))
            words_out += len(said.split())
            messages.append({"role": "assistant", "content": said})
    store = stack.state.budgets.store if stack.state.budgets else None
    assert isinstance(store, MemoryStore)
    counts = store.counts(client_key(headers, None))
    print(f"{REQUESTS} requests, {words_out} words answered, {findings} findings, counts {counts}")
    assert findings == 0
    assert all(n < 100 for n in counts.values())
