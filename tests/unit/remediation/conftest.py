"""Fixtures of the remediation unit tests; the estate itself is in remediation_support.py."""

from __future__ import annotations

import pytest
from remediation_support import CATALOG, FakeClock, make_policy

from pipeline.catalog import Catalog
from pipeline.policy import Policy
from pipeline.remediation import InMemoryGuardStore


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.model_validate(CATALOG)


@pytest.fixture
def policy() -> Policy:
    return make_policy()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryGuardStore:
    return InMemoryGuardStore()
