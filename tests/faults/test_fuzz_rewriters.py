"""Every dialect's stream rewriter under arbitrary bytes split anywhere (hypothesis).

Whatever the upstream sends, only ``DialectError`` may escape ``feed``/``flush``, ``fail``
never raises, the output stays proportional to the input, and no event grows without end.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.demo import DemoSettings
from proxy.demo.answers import load_works
from proxy.demo.server import FORMATS, plan_reply
from proxy.dialects import Dialect, DialectError, default_dialects
from proxy.guard import ResponseGuard
from tests.conftest import SAMPLE_RULES
from tests.faults.common import POEM
from tests.proxy.harness import index_for
from tests.proxy.routes import ROUTES

DIALECTS = default_dialects()
MAX_EVENT = 1024
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def real_stream(name: str, answer: str) -> bytes:
    """What the demo model streams in format ``name`` for ``answer`` (no sockets: frames only)."""
    route = next(r for r in ROUTES if r.format == name)
    fmt = next(f for p, f in FORMATS if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", p), route.path))
    prompt = fmt.parse(route.request("hi", True))
    demo = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0, chunk_chars=3)
    reply = plan_reply(prompt, {"x-demo-answer": answer}, demo, load_works(SAMPLE_RULES))
    return b"".join(frame.data for frame in fmt.stream(reply))


@st.composite
def upstream_bytes(draw: st.DrawFn, name: str) -> bytes:
    """Pure noise, or a real stream damaged by a splice and a truncation."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=3000))
    base = real_stream(name, draw(st.sampled_from([POEM, "clean"])))
    at = draw(st.integers(0, len(base)))
    junk = draw(st.binary(max_size=64) | st.sampled_from([b"\n", b"\r", b"\n\n", b"\xff", b"{"]))
    end = draw(st.integers(at, len(base)))
    return base[:at] + junk + base[at:end]


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def _run(dialect: Dialect, chunks: list[bytes]) -> bytes:
    """Feed, flush; on a DialectError end with fail() as the proxy does; return all output."""
    guard = ResponseGuard(index_for(SAMPLE_RULES))
    rewriter = dialect.stream_rewriter(guard, {"stream": True}, MAX_EVENT)
    out = bytearray()
    try:
        for chunk in chunks:
            out += rewriter.feed(chunk)
            if rewriter.finished:
                break
        else:
            out += rewriter.flush()
    except DialectError:
        out += rewriter.fail("the model server's stream broke off")
    out += rewriter.fail("late failure")  # a second end must be harmless too
    return bytes(out)


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.name for d in DIALECTS])
@FUZZ
@given(data=st.data())
def test_rewriter_survives_any_bytes(dialect: Dialect, data: st.DataObject) -> None:
    """Arbitrary (and damaged real) bytes at arbitrary splits: only DialectError, bounded out."""
    raw = data.draw(upstream_bytes(dialect.name))
    cuts = data.draw(st.lists(st.integers(0, 1 << 16), max_size=12))
    out = _run(dialect, _split(raw, cuts))
    assert len(out) <= 4 * len(raw) + 8 * MAX_EVENT


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.name for d in DIALECTS])
@FUZZ
@given(size=st.integers(MAX_EVENT + 1, 8 * MAX_EVENT), piece=st.integers(1, 700))
def test_endless_event_is_refused(dialect: Dialect, size: int, piece: int) -> None:
    """An event or line that never ends is refused once past max_event_bytes, not buffered."""
    prefix = b"data: " if dialect.stream_media_type.startswith("text/") else b""
    raw = prefix + b'{"x":"' + b"a" * size
    guard = ResponseGuard(index_for(SAMPLE_RULES))
    rewriter = dialect.stream_rewriter(guard, {"stream": True}, MAX_EVENT)
    fed = 0
    with pytest.raises(DialectError):
        for start in range(0, len(raw), piece):
            rewriter.feed(raw[start : start + piece])
            fed += piece
    assert fed <= MAX_EVENT + piece
