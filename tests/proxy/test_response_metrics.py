"""Holdback and per-chunk time are observed once per response, through the public API."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from tests.proxy.harness import StartStack
from tests.proxy.routes import ROUTES
from tests.proxy.test_guarded_routes import POEM, WORKS, post

CHAT = next(r for r in ROUTES if r.path == "/v1/chat/completions")
# The poem's first words (a live partial match: held) and then clean words that end the match
OPENING = " ".join(WORKS[POEM].text.split()[:4]) + " zebras juggle amber pebbles quietly today."


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_one_observation_per_response(start_stack: StartStack, stream: bool) -> None:
    """Three answers make three observations of the holdback histograms, not one per chunk."""
    stack = await start_stack()
    for _ in range(3):
        body = CHAT.request("echo: " + OPENING, stream)
        status, _, _ = await post(stack.proxy + CHAT.path, body)
        assert status == 200
    registry = stack.state.metrics.registry
    assert _value(registry, "copyguard_held_back_words_count") == 3
    assert _value(registry, "copyguard_holdback_delay_seconds_count") == 3
    latency = _value(registry, "copyguard_added_latency_seconds_count", format="openai-chat")
    assert latency == (3 if stream else 0)  # the per-chunk time is a streamed response's
    if stream:  # the opening words waited for the words after them, in every response
        assert _value(registry, "copyguard_holdback_delay_seconds_sum") > 0
        assert _value(registry, "copyguard_held_back_words_sum") >= 3
