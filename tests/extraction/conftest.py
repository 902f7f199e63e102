"""Fixtures for the extraction tests: a one-book catalogue, demo upstream + proxy on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import need_corpora
from tests.extraction.attacks import book_rules
from tests.proxy.harness import StartStack, stack_factory


@pytest.fixture
async def start_stack() -> AsyncIterator[StartStack]:
    """Start upstream + proxy pairs on loopback; everything stops after the test."""
    async for start in stack_factory():
        yield start


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A rules folder with one gutenberg book and the default policy."""
    need_corpora()
    return book_rules(tmp_path / "rules")
