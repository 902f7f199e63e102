"""Fixtures for operating copyguard: a writable copy of the sample rules, the proxy stack."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import StartStack, stack_factory


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the sample rules that a test may change."""
    target = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, target, ignore=shutil.ignore_patterns("README.md"))
    return target


@pytest.fixture
async def start_stack() -> AsyncIterator[StartStack]:
    """Start upstream + proxy pairs on loopback; everything stops after the test."""
    async for start in stack_factory():
        yield start
