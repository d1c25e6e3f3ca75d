"""Fixtures for the chat-understanding tests: a catalog the recogniser was not written for."""

from __future__ import annotations

import pytest

from pipeline.nlu.vocabulary import Vocabulary, vocabulary_from_catalog


@pytest.fixture(scope="session")
def vocabulary() -> Vocabulary:
    """Services and alerts that appear nowhere in the training templates."""
    return vocabulary_from_catalog(
        {
            "services": [
                {"name": "billing", "aliases": ["invoicing", "billing-api"]},
                {"name": "ledger", "aliases": ["ledger-svc"]},
                {"name": "user-profile", "aliases": ["profiles"]},
                {"name": "kafka-broker", "aliases": ["kafka"]},
                {"name": "media-cdn", "aliases": ["cdn"]},
                {"name": "search", "aliases": []},
                {"name": "web", "aliases": ["website"]},
                {"name": "notifications", "aliases": ["notify"]},
            ],
            "alerts": ["CPUThrottling", "OOMKilled", "HighLatency", "DiskPressure"],
        }
    )
