"""observe_many counts exactly what one `observe` per value counts, buckets and sum."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram

from adapters.observability.metrics import observe_many

BOUNDS = (0.1, 0.5, 1.0, 5.0)
VALUES = [-1.0, 0.0, 0.1, 0.1000001, 0.5, 0.7, 1.0, 4.99, 5.0, 5.01, 1e9, math.inf, float("nan"), 0.3, 0.3]


def counts(histogram: Histogram) -> dict[str, float]:
    [family] = histogram.collect()
    return {f"{sample.name}{sample.labels.get('le', '')}": sample.value for sample in family.samples
            if not sample.name.endswith("_created")}


@pytest.mark.parametrize("values", [VALUES, [], [0.2] * 1000, [v for v in VALUES if v == v]])
def test_the_same_buckets_count_and_sum_as_observing_one_by_one(values) -> None:  # type: ignore[no-untyped-def]
    one, many = (Histogram("h", "h", buckets=BOUNDS, registry=CollectorRegistry()) for _ in range(2))
    for value in values:
        one.observe(value)
    observe_many(many, values)
    expected, got = counts(one), counts(many)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert got[key] == value or (math.isnan(value) and math.isnan(got[key])), key
