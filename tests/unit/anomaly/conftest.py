"""Shared fixture for the anomaly tests: a forest fitted on the small feature spec."""

import pytest
from anomaly_helpers import SMALL_SPEC

from pipeline.anomaly.synthetic import synthetic_corpus
from pipeline.anomaly.training import TrainingSeries, fit


@pytest.fixture(scope="session")
def small_model():
    generated = synthetic_corpus(6, length=600, seed=3)
    series = [TrainingSeries(g.name, g.timestamps, g.values) for g in generated]
    return fit(series, spec=SMALL_SPEC)
