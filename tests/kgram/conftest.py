"""Fixtures for the index engine's tests: the loopback stacks of the fault tests."""

from __future__ import annotations

from tests.faults.conftest import start_stack

__all__ = ["start_stack"]
