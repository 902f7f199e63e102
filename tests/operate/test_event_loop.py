"""The ``event_loop`` setting chooses the loop ``copyguard serve`` runs on."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from proxy.serve import run_loop
from proxy.settings import Settings


@pytest.mark.parametrize(
    ("choice", "loop_type"),
    [("asyncio", asyncio.BaseEventLoop), ("uvloop", uvloop.Loop)],
)
def test_run_loop_uses_the_chosen_loop(choice: str, loop_type: type) -> None:
    """run_loop runs the server coroutine on the loop the setting names."""
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        seen.append(asyncio.get_running_loop())

    run_loop(Settings(event_loop=choice), main())
    assert len(seen) == 1
    assert isinstance(seen[0], loop_type)
    assert (choice == "uvloop") == isinstance(seen[0], uvloop.Loop)


def test_asyncio_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a setting the standard loop is used: its memory is flat under load (the soak)."""
    monkeypatch.delenv("COPYGUARD_EVENT_LOOP", raising=False)
    assert Settings().event_loop == "asyncio"
