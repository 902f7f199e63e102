"""The proxy's route tests again, with a second engine behind the seam (tests/fake_engine.py).

The stack below runs the real proxy over real sockets; only the matcher is the plain
substring one.  The checks of each test still scan with the real engine, so "nothing leaks"
is judged the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest

from proxy.rules import load_rules
from tests.fake_engine import SubstringMatcher
from tests.proxy.harness import StartStack, stack_factory
from tests.proxy.test_guarded_routes import (  # noqa: F401 - collected here, on this engine
    test_blocking_closes_the_upstream,
    test_choices_are_guarded_independently,
    test_clean_answer_is_byte_identical,
    test_log_only_policy_is_invisible,
    test_protected_answer_is_blocked,
    test_redaction_leaves_the_rest_intact,
    test_stored_objects_fetched_back_are_guarded,
)


@cache
def substring_matcher(rules: Path) -> SubstringMatcher:
    return SubstringMatcher(load_rules(rules))


@pytest.fixture
async def start_stack() -> AsyncIterator[StartStack]:
    """The stacks of this module match with the substring engine."""
    async for start in stack_factory(substring_matcher):
        yield start


def test_the_fake_engine_is_a_matcher() -> None:
    """It satisfies the seam's protocol (mypy checks the types; this checks it runs)."""
    from proxy.matching.seam import Matcher
    from tests.conftest import SAMPLE_RULES

    matcher: Matcher = substring_matcher(SAMPLE_RULES)
    session = matcher.session()
    assert session.feed("nothing protected here. ") == [] and session.flush() == []
    assert session.safe_until == session.fed and not session.open
