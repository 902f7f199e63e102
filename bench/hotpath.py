"""Offline micro-benchmark of copyguard's per-chunk hot path on clean traffic.

    python -m bench.hotpath [--streams 400] [--repeat 5] [--profile] [--evict KB]

What one upstream read costs the proxy, without sockets: a chat-completions SSE stream
as the demo upstream sends it (a role chunk, 200 content chunks of 4 characters of clean
English from the speeches corpus, a finish chunk, ``[DONE]``), one event per read, fed
through ``OpenAIChat().stream_rewriter(ResponseGuard(index, observer))`` with the
gutenberg index.  Per read it also does what ``handlers._stream`` does around the
rewriter (perf_counter, the fail-open resume point, the per-response chunk time), and the
guard's observer is the handler's, on a real ``Metrics`` object.  Reports process CPU
microseconds per content chunk (best of ``--repeat`` runs, each over ``--streams``
streams), so other load on the machine barely distorts it.

``--evict KB``: sixteen streams take turns event by event, and before each event the run
walks ``KB`` kilobytes of other memory (one byte per cache line, its time not counted),
as a busy server's other streams and its HTTP work do between two events of one stream.
The per-chunk figure then shows what the hot path costs with cold caches, which is what
it costs inside ``copyguard serve`` at one event a read (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from bench.passthrough import SseReencoder
from proxy.dialects.openai_chat import OpenAIChat
from proxy.guard import ResponseGuard
from proxy.matching.engines import load_matcher
from proxy.matching.seam import Matcher
from proxy.metrics import Metrics
from proxy.observer import MetricsObserver
from proxy.rules import load_rules

HERE = Path(__file__).resolve().parent
CORPORA = HERE.parent.parent / "shared" / "corpora"
CHUNKS = 200
CHUNK_CHARS = 4


def _event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def stream_events(text: str, n: int) -> list[bytes]:
    """The SSE events of one streamed chat answer carrying ``text`` (as the demo sends)."""
    head = {
        "id": f"chatcmpl-bench{n:06d}",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "copyguard-demo",
        "service_tier": "default",
        "system_fingerprint": "fp_copyguard_demo",
    }

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**head, "choices": [choice]})

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for i in range(0, len(text), CHUNK_CHARS):
        events.append(chunk({"content": text[i : i + CHUNK_CHARS]}))
    events.append(chunk({}, "stop"))
    events.append(b"data: [DONE]\n\n")
    return events


def clean_texts(corpora: Path, count: int) -> list[str]:
    """``count`` stretches of ``CHUNKS * CHUNK_CHARS`` characters of the speeches."""
    speeches = [
        " ".join(p.read_text(encoding="utf-8").split())
        for p in sorted((corpora / "speeches").rglob("*.txt"))
    ]
    size = CHUNKS * CHUNK_CHARS
    out = []
    for i in range(count):
        speech = speeches[i % len(speeches)]
        start = (i // len(speeches) * 977) % max(1, len(speech) - size)
        out.append(speech[start : start + size])
    return out


def run_stream(index: Matcher, metrics: Metrics, events: list[bytes]) -> bytes:
    """One response through the rewriter, with the handler's per-read work around it."""
    observer = MetricsObserver(metrics, "openai-chat")
    guard = ResponseGuard(index, observer)
    rewriter = OpenAIChat().stream_rewriter(guard, {"stream": True})
    out = []
    for chunk in [*events, b""]:
        t = time.perf_counter()  # the handler reads the clock before and after its await
        t = time.perf_counter()
        rewriter.unread()  # the fail-open resume point, taken before every read
        piece = rewriter.feed(chunk) if chunk else rewriter.flush()
        observer.chunk(time.perf_counter() - t)
        out.append(piece)
        if not chunk or rewriter.finished:
            break
    observer.done(guard)
    return b"".join(out)


def run_floor(events: list[bytes]) -> bytes:
    """The same response through the re-encode floor (``bench.passthrough``): every event's
    JSON parsed and dumped again, one event per read."""
    sse = SseReencoder()
    out = [sse.feed(chunk) for chunk in events]
    out.append(sse.flush())
    return b"".join(out)


def run_interleaved(
    index: Matcher, metrics: Metrics, streams: list[list[bytes]], evict: bytearray
) -> tuple[int, float]:
    """Sixteen streams at a time, event by event, ``evict`` walked before each event:
    (content chunks, CPU seconds not spent walking)."""
    chunks, walking = 0, 0.0
    for first in range(0, len(streams), 16):
        turns = []
        for events in streams[first : first + 16]:
            guard = ResponseGuard(index, MetricsObserver(metrics, "openai-chat"))
            turns.append((OpenAIChat().stream_rewriter(guard, {"stream": True}), events))
            chunks += len(events) - 3
        for at in range(max(len(events) for _, events in turns)):
            for rewriter, events in turns:
                if at < len(events):
                    t = time.process_time()
                    sum(evict[::64])  # one byte of every cache line
                    walking += time.process_time() - t
                    rewriter.feed(events[at])
        for rewriter, _ in turns:
            rewriter.flush()
    return chunks, walking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--cache", type=Path, default=HERE / "results" / "cache")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one run instead")
    parser.add_argument("--evict", type=int, default=0, help="KB walked before each event")
    args = parser.parse_args()
    index, _ = load_matcher(load_rules(args.corpora / "gutenberg"), args.cache)
    metrics = Metrics(CollectorRegistry())
    streams = [stream_events(t, n) for n, t in enumerate(clean_texts(args.corpora, 64))]
    chunks = sum(  # content chunks only: not the role, finish and [DONE] events
        len(streams[i % len(streams)]) - 3 for i in range(args.streams)
    )
    for events in streams:  # warm-up, and a check that clean text comes back whole
        out = run_stream(index, metrics, events)
        assert b"content_filter" not in out and b"[DONE]" in out
    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            for i in range(args.streams):
                run_stream(index, metrics, streams[i % len(streams)])
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    best = float("inf")
    if args.evict:
        evict = bytearray(args.evict << 10)
        for _ in range(args.repeat):
            t0 = time.process_time()
            count, walking = run_interleaved(index, metrics, streams, evict)
            best = min(best, (time.process_time() - t0 - walking) / count)
        print(f"{best * 1e6:.2f} µs CPU per content chunk (best of {args.repeat}, 16 streams "
              f"in turn, {args.evict} KB walked between events)")  # fmt: skip
        return
    floor = float("inf")
    for _ in range(args.repeat):  # copyguard and the floor in turn, in one run
        t0 = time.process_time()
        for i in range(args.streams):
            run_stream(index, metrics, streams[i % len(streams)])
        best = min(best, time.process_time() - t0)
        t0 = time.process_time()
        for i in range(args.streams):
            run_floor(streams[i % len(streams)])
        floor = min(floor, time.process_time() - t0)
    print(f"{best / chunks * 1e6:.2f} µs CPU per content chunk (best of {args.repeat}, "
          f"{args.streams} streams x {CHUNKS} chunks); re-encode floor "
          f"{floor / chunks * 1e6:.2f} µs; {best / floor:.2f}x the floor")  # fmt: skip


if __name__ == "__main__":
    main()
