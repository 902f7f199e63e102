"""``HistogramBatch`` exports what observing one value at a time would."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from proxy.metrics import HistogramBatch

BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


def _pair(labelled: bool) -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    out: list[object] = []
    for _ in range(2):
        registry = CollectorRegistry()
        labels = ["format"] if labelled else []
        hist = Histogram("h", "help", labels, buckets=BUCKETS, registry=registry)
        out += [registry, hist.labels("x") if labelled else hist]
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]


def test_batch_equals_observe() -> None:
    rng = random.Random(7)
    values = [float(rng.choice([0, 1, 2.5, 3, 7, 64, 65, 1e9])) for _ in range(300)]
    values += [rng.uniform(0, 70) for _ in range(300)]
    for labelled in (False, True):
        reg_a, direct, reg_b, batched = _pair(labelled)
        batch = HistogramBatch(batched, size=50)
        for v in values:
            direct.observe(v)
            batch.observe(v)
        batch.flush()
        batch.flush()  # nothing left: adds nothing
        a, b = _samples(reg_a), _samples(reg_b)
        assert a.keys() == b.keys()
        for name, value in a.items():  # the sum is added up in another order
            assert b[name] == (pytest.approx(value) if name.startswith("h_sum") else value)


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_batch_adds_every_size_observations() -> None:
    registry = CollectorRegistry()
    hist = Histogram("h", "help", buckets=BUCKETS, registry=registry)
    batch = HistogramBatch(hist, size=3)
    batch.observe(1)
    batch.observe(2)
    assert registry.get_sample_value("h_count") == 0
    batch.observe(5)
    assert registry.get_sample_value("h_count") == 3
    assert registry.get_sample_value("h_sum") == 8
    assert registry.get_sample_value("h_bucket", {"le": "1.0"}) == 1
