"""A real model reproducing texts it memorised, behind the real proxy.

Gemma 3 270M (the base model) under llama.cpp's server, greedy (temperature 0, fixed seed),
is asked for each text of tests/e2e/memorised.py twice: as a completion of the text's first
words, and in chat.  Directly, the longest verbatim run of its answer is measured; through
the proxy (rules: tests/e2e/rules plus the candidates), an answer with a run of min_words or
more must end with content_filter and leave no such run in what the client got, streamed and
not, and any other answer must arrive exactly as directly.  The table goes to
COPYGUARD_E2E_REPORT (docs/e2e.md).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from proxy.demo import DemoSettings
from proxy.matching.engines import load_matcher
from proxy.matching.normalize import words
from proxy.rules import load_rules
from proxy.scan import scan_text
from proxy.settings import Settings
from tests.e2e.conftest import LlamaServer, StartProxy
from tests.e2e.memorised import CANDIDATES, RULES, Text, longest_run, texts
from tests.proxy.harness import events, stack_factory

SEED = 1234
MIN_WORDS = 12  # tests/e2e/rules/policy.toml
# The shortest run of a request the context check keeps (the setting's default).
BUDGET_MIN_RUN: int = Settings.model_fields["budget_min_run"].default
MAX_TOKENS = {"completions": 96, "chat": 160}
TEXTS = texts()
CASES = [(t, route) for t in TEXTS for route in ("completions", "chat")]
# Clean prompts for the holdback figures: answers that reproduce nothing.
CLEAN_PROMPTS = [
    "The history of the bicycle begins in",
    "A good way to keep bread fresh for longer is",
    "Photosynthesis is the process by which",
]
REPORT_ENV = "COPYGUARD_E2E_REPORT"


@dataclass(frozen=True)
class Row:
    text: Text
    route: str
    prompt: str
    direct_words: int
    run: int  # longest verbatim run in the direct answer
    blocked: tuple[bool, bool]  # (streamed, whole) ended with content_filter
    reached: tuple[int, int]  # words the client got (streamed, whole)
    reached_run: int  # longest verbatim run in what the client got


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Any]]:
    """Rows and figures collected by the tests, written as markdown at the end."""
    out: dict[str, Any] = {"rows": [], "holdback": []}
    yield out
    lines = [
        "| text | route | prompt | direct: words / longest verbatim run | blocked (stream, whole) "
        "| words reaching the client (stream, whole) | longest run reaching the client |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows: list[Row] = sorted(out["rows"], key=lambda r: (not r.text.protected, r.text.id, r.route))
    for r in rows:
        prompt = r.prompt if len(r.prompt) < 70 else r.prompt[:67] + "..."
        yes = ", ".join("yes" if b else "no" for b in r.blocked)
        lines.append(
            f"| {r.text.title} | {r.route} | `{prompt}` | {r.direct_words} / **{r.run}** "
            f"| {yes} | {r.reached[0]}, {r.reached[1]} | {r.reached_run} |"
        )
    lines += ["", *out["holdback"]]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if os.environ.get(REPORT_ENV):
        Path(os.environ[REPORT_ENV]).write_text(text)


@pytest.fixture(scope="module")
def all_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/e2e/rules (the protected texts, its policy) plus the measured candidates."""
    root = tmp_path_factory.mktemp("memorised-rules")
    shutil.copytree(RULES, root, dirs_exist_ok=True)
    shutil.copytree(CANDIDATES, root / "candidates")
    return root


def body(text: Text, route: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """(path, request body) asking the model for `text` greedily."""
    common = {"temperature": 0, "seed": SEED, "max_tokens": MAX_TOKENS[route], "stream": stream}
    if route == "completions":
        return "/v1/completions", {"model": "gemma", "prompt": text.prefix, **common}
    messages = [{"role": "user", "content": text.ask.chat}]
    return "/v1/chat/completions", {"model": "gemma", "messages": messages, **common}


async def answer(base: str, path: str, req: dict[str, Any]) -> tuple[str, str, list[float]]:
    """(text, finish_reason, arrival times of text deltas) of one greedy request."""
    start = time.monotonic()
    text, finish, times = "", "", []
    async with aiohttp.ClientSession() as s, s.post(base + path, json=req) as resp:
        assert resp.status == 200, await resp.text()
        if req["stream"]:
            async for line in resp.content:
                if line.startswith(b"data: {"):
                    for obj in events(line):
                        for c in obj.get("choices", []):
                            part = (c.get("delta") or {}).get("content") or c.get("text") or ""
                            if part:
                                times.append(time.monotonic() - start)
                            text += part
                            finish = c.get("finish_reason") or finish
        else:
            (obj,) = events(await resp.read())
            c = obj["choices"][0]
            text = (c.get("message") or {}).get("content") or c.get("text") or ""
            finish = c.get("finish_reason") or ""
    return text, finish, times


@pytest.mark.parametrize(("text", "route"), CASES, ids=[f"{t.id}-{r}" for t, r in CASES])
async def test_memorised_text_through_proxy(
    memorised_server: LlamaServer,
    start_proxy: StartProxy,
    all_rules: Path,
    report: dict[str, Any],
    text: Text,
    route: str,
) -> None:
    """Asked directly, the model's answer reproduces `text` for some run; through the proxy
    an answer with a min_words run is cut with content_filter and none reaches the client,
    streamed and not; so is one that goes on from a prompt quoting the work (the request's
    run and the answer's are one run); a shorter reproduction arrives exactly as directly."""
    proxy = await start_proxy(memorised_server.url, all_rules)
    index = load_matcher(load_rules(all_rules), None)[0]
    # The server reuses the previous prompt's evaluated tokens: one warm-up request puts it in
    # the same state for every request below (a cold prompt can decode differently).
    await answer(memorised_server.url, *body(text, route, stream=False))
    direct_of, got = {}, {}
    for s in (True, False):
        direct_of[s] = (await answer(memorised_server.url, *body(text, route, s)))[:2]
        got[s] = (await answer(proxy.url, *body(text, route, s)))[:2]
    direct, _ = direct_of[False]
    run = longest_run(direct, text.text)
    row = Row(
        text,
        route,
        text.prefix if route == "completions" else text.ask.chat,
        len(words(direct)),
        run,
        (got[True][1] == "content_filter", got[False][1] == "content_filter"),
        (len(words(got[True][0])), len(words(got[False][0]))),
        max(longest_run(t, text.text) for t, _ in got.values()),
    )
    report["rows"].append(row)
    print(f"\n[{text.id}/{route}] run {run}: {direct!r}")
    assert bool(scan_text(index, direct)) == (run >= MIN_WORDS), direct
    # A completions prompt is the text the answer continues: a run of a work in it that the
    # answer carries on with is one run with the answer's words (the context check).  The
    # matcher says which runs count (boilerplate such as the MIT licence's wording does not).
    prompt = text.prefix if route == "completions" else ""
    quoted = longest_run(prompt, text.text)
    joined = scan_text(index, prompt + direct) if quoted >= BUDGET_MIN_RUN else []
    continues = any(f.start < len(prompt) < f.end for f in joined)
    for stream, (client_text, finish) in got.items():
        if run >= MIN_WORDS or continues:
            assert finish == "content_filter", (stream, client_text)
            assert scan_text(index, client_text) == []
            assert longest_run(client_text, text.text) < MIN_WORDS
            assert longest_run(prompt + client_text, text.text) <= max(quoted, MIN_WORDS - 1)
            assert direct_of[stream][0].startswith(client_text)
        else:
            assert (client_text, finish) == direct_of[stream]


def test_protected_texts_are_reproduced(report: dict[str, Any]) -> None:
    """Every text in tests/e2e/rules was reproduced for min_words or more by some route (and
    no candidate was): the rules folder is exactly what this model reproduces."""
    rows: list[Row] = report["rows"]
    if len(rows) < len(CASES):
        pytest.skip("needs every test_memorised_text_through_proxy case to have run")
    best: dict[str, int] = {}
    for r in rows:
        best[r.text.id] = max(best.get(r.text.id, 0), r.run)
    protected = {t.id for t in TEXTS if t.protected}
    assert len(protected) >= 3
    assert {i for i, run in best.items() if run >= MIN_WORDS} == protected, best


def _hist(registry: CollectorRegistry, name: str) -> tuple[float, float, list[tuple[float, float]]]:
    """(sum, count, cumulative buckets) of an unlabelled-or-summed histogram."""
    total = count = 0.0
    buckets: dict[float, float] = {}
    for metric in registry.collect():
        for s in metric.samples:
            if s.name == name + "_sum":
                total += s.value
            elif s.name == name + "_count":
                count += s.value
            elif s.name == name + "_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
    return total, count, sorted(buckets.items())


def _quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The upper bound of the bucket holding quantile q."""
    n = buckets[-1][1] if buckets else 0.0
    return next((le for le, c in buckets if c >= q * n), float("inf"))


async def test_holdback_on_real_tokens(
    memorised_server: LlamaServer, start_proxy: StartProxy, report: dict[str, Any]
) -> None:
    """Held-back words and added first-token latency on the model's own token stream, and on
    the same answers streamed by the demo upstream (4-character deltas), in one run."""
    figures = []
    answers = []
    proxy = await start_proxy(memorised_server.url, RULES)
    first_direct, first_proxied = [], []
    for prompt in CLEAN_PROMPTS:
        req = {"model": "gemma", "prompt": prompt, "temperature": 0, "seed": SEED}
        req |= {"max_tokens": 96, "stream": True}
        await answer(memorised_server.url, "/v1/completions", req)  # warm-up, as above
        direct, _, t_direct = await answer(memorised_server.url, "/v1/completions", req)
        proxied, _, t_proxied = await answer(proxy.url, "/v1/completions", req)
        assert proxied == direct
        answers.append(direct)
        first_direct.append(t_direct[0])
        first_proxied.append(t_proxied[0])
    figures.append(("llama.cpp, Gemma 3 270M tokens", proxy.state.metrics.registry))
    async for start in stack_factory():
        demo = await start(RULES, DemoSettings(rules_dir=RULES, delay_ms=20, chunk_chars=4))
        async with aiohttp.ClientSession() as s:
            for text in answers:
                req = {"model": "demo", "stream": True}
                req["messages"] = [{"role": "user", "content": f"echo: {text}"}]
                async with s.post(demo.proxy + "/v1/chat/completions", json=req) as resp:
                    await resp.read()
        figures.append(("demo upstream, 4-character deltas", demo.state.metrics.registry))
    lines = ["Holdback on clean answers (the same three answers, both sources):", ""]
    lines += ["| source | held-back words mean / p50 / p99 | added first token mean / p99 |"]
    lines += ["| --- | --- | --- |"]
    for name, registry in figures:
        wsum, wn, wb = _hist(registry, "copyguard_held_back_words")
        fsum, fn, fb = _hist(registry, "copyguard_first_token_added_seconds")
        assert wn > 0 and fn > 0
        lines.append(
            f"| {name} | {wsum / wn:.2f} / <= {_quantile(wb, 0.5):g} / <= {_quantile(wb, 0.99):g} "
            f"| {1000 * fsum / fn:.2f} ms / <= {1000 * _quantile(fb, 0.99):g} ms |"
        )
    lines += [
        "",
        f"Client-observed first token, llama.cpp: direct median "
        f"{1000 * statistics.median(first_direct):.0f} ms, through copyguard "
        f"{1000 * statistics.median(first_proxied):.0f} ms.",
    ]
    report["holdback"] = lines


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_smollm2_chat_reproduction_is_blocked(
    llama_server: LlamaServer, start_proxy: StartProxy, stream: bool
) -> None:
    """SmolLM2-135M-Instruct quotes the First Amendment in chat (the one text it reproduces):
    through the proxy that answer ends with content_filter and no min_words run arrives."""
    (text,) = [t for t in TEXTS if t.id == "first-amendment"]
    proxy = await start_proxy(llama_server.url, RULES)
    await answer(llama_server.url, *body(text, "chat", stream=False))  # warm-up, as above
    direct, _, _ = await answer(llama_server.url, *body(text, "chat", stream))
    got, finish, _ = await answer(proxy.url, *body(text, "chat", stream))
    run, reached = longest_run(direct, text.text), longest_run(got, text.text)
    print(f"\n[smollm2/chat/{stream}] run {run}, {len(words(got))} words reached, run {reached}")
    assert run >= MIN_WORDS, direct
    assert finish == "content_filter"
    assert reached < MIN_WORDS
    assert direct.startswith(got)
