"""Fixtures for the fault tests: the same loopback stacks as the proxy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.proxy.harness import StartStack, stack_factory


@pytest.fixture
async def start_stack() -> AsyncIterator[StartStack]:
    """Start upstream + proxy pairs on loopback; everything stops after the test."""
    async for start in stack_factory():
        yield start
