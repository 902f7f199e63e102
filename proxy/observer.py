"""The guard's decisions into metrics: the ``GuardObserver`` of one response."""

from __future__ import annotations

from proxy.matching.seam import Finding
from proxy.metrics import HistogramBatch, Metrics


class MetricsObserver:
    """Feeds the guard's decisions into metrics (one per response).

    Releases happen about once per streamed chunk: their two histograms are batched
    (``HistogramBatch``); ``flush`` when the response ends.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._held_words = HistogramBatch(metrics.held_words)
        self._holdback_delay = HistogramBatch(metrics.holdback_delay)

    def finding(self, key: str, finding: Finding) -> None:
        self.metrics.finding(finding)

    def released(self, held_words: int, delay: float) -> None:
        self._held_words.observe(held_words)
        self._holdback_delay.observe(delay)

    def flush(self) -> None:
        self._held_words.flush()
        self._holdback_delay.flush()
