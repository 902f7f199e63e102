"""holdback "live" lets a run's lead-in words out (and says so); "strict" releases none."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from proxy.demo.answers import echo64
from proxy.guard import ResponseGuard
from proxy.matching.catalogue import Action
from proxy.matching.normalize import words
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import StartStack, events, index_for

WORK = (SAMPLE_RULES / "poems" / "lighthouse-keeper.txt").read_text().split("---")[-1]
WORK_WORDS = WORK.split()
SONG = (SAMPLE_RULES / "songs" / "copper-river-blues.txt").read_text().split("---")[-1].split()


def stream_through(strict: bool, text: str, chunk: int = 4) -> tuple[str, dict[str, Any]]:
    """Push ``text`` in ``chunk``-character pieces; what was released and the finding."""
    guard = ResponseGuard(index_for(SAMPLE_RULES), strict=strict)
    out = []
    for i in range(0, len(text), chunk):
        sent = guard.push("c0", text[i : i + chunk])
        out.append(sent.text)
        if sent.blocked:
            break
    else:
        out.append(guard.close("c0").text)
    report = guard.report()
    assert report is not None
    (finding,) = report["findings"]
    return "".join(out), finding


@pytest.mark.parametrize("skip", range(7))  # a run may begin anywhere relative to the stride
def test_strict_releases_no_word_of_the_run(skip: int) -> None:
    """Strict: whatever the run's alignment, the client gets only text before its start."""
    text = "Here you are: " + " ".join(WORK_WORDS[skip : skip + 30]) + " and so on."
    received, finding = stream_through(True, text)
    assert finding["action"] == Action.BLOCK and finding["released_chars"] == 0
    assert finding["withheld_start"] == finding["start"] and len(received) <= finding["start"]
    assert received == text[: len(received)]


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "live"])
def test_streamed_redaction_starts_where_the_client_stopped_receiving(strict: bool) -> None:
    """A redaction replaces the run from withheld_start: its start itself when strict."""
    prefix = "Sing along: "
    text = prefix + " ".join(SONG[3:30]) + " and that is all."
    received, f = stream_through(strict, text)
    assert f["action"] == Action.REDACT
    assert received.startswith(text[: f["withheld_start"]] + "[excerpt of “Copper River Blues”")
    assert received.endswith(" and that is all.")
    assert (f["released_chars"] == 0) if strict else (f["released_chars"] > 0)


def test_live_releases_lead_in_words_and_says_how_many() -> None:
    """Live: up to stride-1 words of the run may be out; the finding says exactly which part."""
    leaked = []
    for skip in range(7):
        text = "Here you are: " + " ".join(WORK_WORDS[skip : skip + 30]) + " and so on."
        received, f = stream_through(False, text)
        assert received == text[: f["withheld_start"]]  # everything before the cut, no more
        assert f["released_chars"] == f["withheld_start"] - f["start"] >= 0
        leaked.append(len(words(text[f["start"] : f["withheld_start"]])))
    assert max(leaked) > 0 and max(leaked) <= 6  # stride 7 at min_words 12


async def test_strict_holdback_over_http(start_stack: StartStack) -> None:
    """`holdback = "strict"` in the settings reaches the guard of every response."""
    stack = await start_stack(holdback="strict")
    prompt = echo64("Well then, " + " ".join(WORK_WORDS[3:40]))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(stack.proxy + "/v1/chat/completions", json=body) as r,
    ):
        chunks = events(await r.read())
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    (finding,) = chunks[-1]["copyguard"]["findings"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert finding["released_chars"] == 0 and len(text) <= finding["start"]


def test_a_top_level_work_reports_no_collection(tmp_path: Any) -> None:
    """The copyguard object (and the log) says collection null for a work in no collection."""
    (tmp_path / "ode.txt").write_text(" ".join(WORK_WORDS))
    guard = ResponseGuard(index_for(tmp_path))
    guard.push("c0", " ".join(WORK_WORDS[:20]))
    guard.close("c0")
    report = guard.report()
    assert report is not None and report["findings"][0]["collection"] is None
