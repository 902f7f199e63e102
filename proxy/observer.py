"""The metrics of one response: findings as they are made, the rest once when it ends.

Nothing is observed per chunk or per word: the holdback figures are the guard's
(``ResponseGuard.longest_hold``, ``most_held_words``), the chunk time is summed here, and
each histogram gets one observation per response through prometheus_client's public API.
"""

from __future__ import annotations

from proxy.guard import ResponseGuard
from proxy.matching.seam import Finding
from proxy.metrics import Metrics


class MetricsObserver:
    """The ``GuardObserver`` of one response, and its per-response observations."""

    def __init__(self, metrics: Metrics, dialect: str) -> None:
        self.metrics = metrics
        self._dialect = dialect
        self._chunk_seconds = 0.0
        self._chunks = 0

    def finding(self, key: str, finding: Finding) -> None:
        self.metrics.finding(finding)

    def chunk(self, seconds: float) -> None:
        """The proxy's time for one upstream read of a stream."""
        self._chunk_seconds += seconds
        self._chunks += 1

    def done(self, guard: ResponseGuard) -> None:
        """The response ended: observe its holdback and its mean time per upstream chunk."""
        metrics = self.metrics
        if guard.releases:
            metrics.held_words.observe(guard.most_held_words)
            metrics.holdback_delay.observe(guard.longest_hold)
        if self._chunks:
            latency = metrics.chunk_latency.labels(self._dialect)
            latency.observe(self._chunk_seconds / self._chunks)
