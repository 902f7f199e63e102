"""Fixtures for the budget tests: a real Redis server, stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.budget.redis_server import RedisServer
from tests.extraction.conftest import book, start_stack

__all__ = ["book", "redis_server", "start_stack"]  # the extraction tests' fixtures, shared


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server on a free loopback port (the test is skipped without one)."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
