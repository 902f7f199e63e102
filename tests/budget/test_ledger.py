"""What counts toward a budget, and who is asking (pure parts)."""

from __future__ import annotations

import pytest

from proxy.budget.identity import ANONYMOUS, client_key
from proxy.budget.ledger import takes
from proxy.matching.catalogue import Action
from proxy.matching.seam import Finding


def run(work: str, a: int, b: int) -> Finding:
    return Finding(work, work, "", Action.BLOCK, 0, 1, b - a, a, b)


def test_takes_are_distinct_positions_less_what_the_request_carried() -> None:
    """Overlapping runs count once; words the request itself carried do not count."""
    got = takes([run("w", 0, 8), run("w", 4, 12)], [run("w", 0, 2)], {"w": 100})
    assert got["w"].positions == frozenset(range(2, 12)) and got["w"].limit == 100


def test_takes_are_bounded_and_skip_works_without_budget() -> None:
    """At most limit + 1 positions per work; a work with budget 0 is not counted."""
    got = takes([run("w", 0, 5000), run("free", 0, 50)], [], {"w": 100, "free": 0})
    assert set(got) == {"w"} and len(got["w"].positions) == 101


@pytest.mark.parametrize(
    ("headers", "key_header", "same_as"),
    [
        ({"Authorization": "Bearer sk-1"}, None, {"Authorization": "Bearer sk-1"}),
        ({"x-api-key": "sk-1"}, None, {"x-api-key": "sk-1"}),
        (
            {"X-User-Id": "alice", "Authorization": "Bearer sk-2"},
            "X-User-Id",
            {"X-User-Id": "alice"},
        ),
    ],
)
def test_client_key_is_a_stable_hash(
    headers: dict[str, str], key_header: str | None, same_as: dict[str, str]
) -> None:
    """The key names the client without containing its secret; a gateway header wins."""
    key = client_key(headers, key_header)
    assert key == client_key(same_as, key_header) != ANONYMOUS
    assert all(v.split()[-1] not in key for v in headers.values())


def test_requests_without_a_key_share_one_budget() -> None:
    """No key at all: one shared anonymous budget; two keys differ."""
    assert client_key({}, None) == ANONYMOUS == client_key({"X-User-Id": "a"}, None)
    assert client_key({"x-api-key": "a"}, None) != client_key({"x-api-key": "b"}, None)
