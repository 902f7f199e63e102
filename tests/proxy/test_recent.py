"""What the proxy remembers for previous_response_id: bounded, and only protected pieces."""

from __future__ import annotations

from proxy.dialects import default_dialects
from proxy.dialects.base import Conversation
from proxy.recent import IdSniffer, RecentReplies, with_previous


def test_recent_is_bounded_by_entries_and_characters() -> None:
    """The oldest entries go first once either bound is passed; empty pieces are not kept."""
    recent = RecentReplies(max_entries=2, max_chars=10)
    recent.remember("resp_a", "aaaa")
    recent.remember("resp_b", "bbbb")
    recent.remember("resp_c", "cccc")
    assert (recent.recall("resp_a"), recent.recall("resp_b")) == ("", "bbbb")
    recent.remember("resp_d", "dddddddd")  # 12 characters with c's: b and c go
    assert recent.recall("resp_c") == "" and recent.recall("resp_d") == "dddddddd"
    recent.remember("resp_e", "")
    assert recent.recall("resp_e") == ""


def test_previous_response_comes_back_as_an_earlier_reply() -> None:
    """A request naming a remembered id gets its pieces first among the replies."""
    recent = RecentReplies()
    recent.remember("resp_1", "protected words")
    given = Conversation(("continue",), ("later",))
    got = with_previous(given, {"previous_response_id": "resp_1"}, recent)
    assert got == Conversation(("continue",), ("protected words", "later"))
    assert with_previous(given, {"previous_response_id": "resp_2"}, recent) is given


def test_sniffer_reads_the_response_id_once() -> None:
    """The first resp_ id in the bytes to the client is the response's."""
    responses = next(d for d in default_dialects() if d.name == "openai-responses")
    sniffer = IdSniffer(responses)
    sniffer.note(b'event: response.created\\ndata: {"response": {"id": "resp_abc", "x": 1}}')
    sniffer.note(b'{"id": "resp_other"}')
    assert sniffer.response_id == "resp_abc" and sniffer.name == responses.name
