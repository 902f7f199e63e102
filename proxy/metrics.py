"""Prometheus metrics, registered on a registry passed in (one per app, never global).

With several worker processes (``copyguard serve --workers N``) the parent sets
``PROMETHEUS_MULTIPROC_DIR`` before starting them: prometheus_client then keeps every value
in files there and ``render`` adds up all workers' files.  Gauges say how to combine.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from proxy.matching.seam import Finding, Matcher

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_UPSTREAM = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_WORDS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class Metrics:
    """Everything copyguard measures.  Label values are bounded (see ``work_label``)."""

    def __init__(self, registry: CollectorRegistry, work_labels: int = 50) -> None:
        self.registry = registry
        self._work_labels = work_labels
        self._labelled: set[str] = set()
        r = registry
        self.requests = Counter(
            "copyguard_requests", "Requests handled", ["route", "format", "status"], registry=r
        )
        self.upstream_ttfb = Histogram(
            "copyguard_upstream_ttfb_seconds",
            "Upstream time to response headers",
            ["format"],
            buckets=_UPSTREAM,
            registry=r,
        )
        self.upstream_duration = Histogram(
            "copyguard_upstream_duration_seconds",
            "Upstream response duration",
            ["format"],
            buckets=_UPSTREAM,
            registry=r,
        )
        self.upstream_errors = Counter(
            "copyguard_upstream_errors", "Upstream faults", ["format", "kind"], registry=r
        )
        self.chunk_latency = Histogram(
            "copyguard_added_latency_seconds",
            "Proxy time per upstream chunk (parse, match, encode; recorded in batches)",
            ["format"],
            buckets=_LATENCY,
            registry=r,
        )
        self.first_token_latency = Histogram(
            "copyguard_first_token_added_seconds",
            "From the first upstream body chunk to the first bytes written to the client",
            ["format"],
            buckets=_LATENCY,
            registry=r,
        )
        self.findings = Counter(
            "copyguard_findings", "Findings", ["collection", "work", "action"], registry=r
        )
        self.blocked = Counter(
            "copyguard_blocked_streams", "Blocked responses", ["format"], registry=r
        )
        self.redacted = Counter(
            "copyguard_redacted_streams", "Responses with redactions", ["format"], registry=r
        )
        self.held_words = Histogram(
            "copyguard_held_back_words",
            "Words held back after each release (recorded in batches per response)",
            buckets=_WORDS,
            registry=r,
        )
        self.holdback_delay = Histogram(
            "copyguard_holdback_delay_seconds",
            "Age of the oldest released text when released (recorded in batches per response)",
            buckets=_LATENCY,
            registry=r,
        )
        self.active_streams = Gauge(
            "copyguard_active_streams",
            "Responses in flight",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.fail_open = Counter(
            "copyguard_fail_open", "Streams passed unscanned after a matcher failure", registry=r
        )
        self.matcher_failures = Counter(
            "copyguard_matcher_failures", "Matcher failures", ["mode"], registry=r
        )
        # every worker loads the same rules; dead workers drop out
        recent: Final = "livemostrecent"
        self.rules_works = Gauge(
            "copyguard_rules_works",
            "Protected works in force",
            registry=r,
            multiprocess_mode=recent,
        )
        self.rules_words = Gauge(
            "copyguard_rules_words",
            "Protected words in force",
            registry=r,
            multiprocess_mode=recent,
        )
        self.rules_load_seconds = Gauge(
            "copyguard_rules_load_seconds",
            "Time to load the rules in force",
            registry=r,
            multiprocess_mode=recent,
        )
        self.rules_loaded_at = Gauge(
            "copyguard_rules_last_success_timestamp_seconds",
            "When the rules in force loaded",
            registry=r,
            multiprocess_mode=recent,
        )
        # A gauge, not an Info (Info has no multiprocess mode): 1 for the hash in force, 0 for
        # hashes replaced since; the samples read as an Info's would.
        self.rules_info = Gauge(
            "copyguard_rules_info",
            "Content hash of the rules in force (1) and of rules replaced since (0)",
            ["hash"],
            registry=r,
            multiprocess_mode=recent,
        )
        self.rules_reloads = Counter(
            "copyguard_rules_reload", "Rules reloads by result", ["result"], registry=r
        )
        self._rules_hash: str | None = None

    def rules_loaded(self, index: Matcher, load_seconds: float, when: float) -> None:
        """Record the rules now in force."""
        self.rules_works.set(len(index.works))
        self.rules_words.set(index.word_count)
        self.rules_load_seconds.set(load_seconds)
        self.rules_loaded_at.set(when)
        new = index.content_hash[:16]
        old, self._rules_hash = self._rules_hash, new
        if old is not None and old != new:
            self.rules_info.labels(old).set(0)  # other workers' files may still say 1
            if not multiprocess():
                self.rules_info.remove(old)
        self.rules_info.labels(new).set(1)

    def render(self) -> bytes:
        """The exposition text: this registry, or every worker's values in multiprocess mode."""
        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def work_label(self, work: str) -> str:
        """The work id for the first ``work_labels`` distinct works, then "other"."""
        if work in self._labelled:
            return work
        if len(self._labelled) < self._work_labels:
            self._labelled.add(work)
            return work
        return "other"

    def finding(self, finding: Finding) -> None:
        self.findings.labels(
            finding.collection or "-", self.work_label(finding.work), finding.action.value
        ).inc()


class HistogramBatch:
    """Observations of one histogram (or labelled child) gathered locally, added in batches.

    Per streamed chunk copyguard observes up to three histograms; ``Histogram.observe``
    takes a lock and walks the buckets for every value, a few microseconds each.  This
    counts the values into the same buckets locally and adds the counts and the sum every
    ``size`` observations and on ``flush`` (end of the response): the exported histogram
    is the same, only up to ``size`` observations later.  Uses prometheus_client's
    histogram internals (``_upper_bounds``, ``_buckets``, ``_sum``): tests/proxy/
    test_metrics_batch.py checks that the result equals observing one by one.
    """

    __slots__ = ("_bounds", "_counts", "_hist", "_n", "_size", "_sum")

    def __init__(self, hist: Histogram, size: int = 64) -> None:
        self._hist = hist
        self._bounds: list[float] = hist._upper_bounds  # ascending, ends with +Inf
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._n = 0
        self._size = size

    def observe(self, amount: float) -> None:
        # the first bucket whose bound is >= amount, as Histogram.observe picks it
        self._counts[bisect_left(self._bounds, amount)] += 1
        self._sum += amount
        self._n += 1
        if self._n >= self._size:
            self.flush()

    def flush(self) -> None:
        """Add what was gathered to the histogram."""
        if not self._n:
            return
        hist, counts = self._hist, self._counts
        hist._sum.inc(self._sum)
        for i, count in enumerate(counts):
            if count:
                hist._buckets[i].inc(count)
                counts[i] = 0
        self._sum, self._n = 0.0, 0


def multiprocess() -> bool:
    """Whether metric values live in a directory shared by worker processes."""
    return bool(os.environ.get(MULTIPROC_ENV))
