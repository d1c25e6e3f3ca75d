"""Fixtures: an OIDC provider in the test (tests/oidc_provider.py) with an RSA and an EC key."""

from __future__ import annotations

import pytest

from tests.oidc_provider import Provider, SigningKey


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey("RS256", kid="rsa-1")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey("ES256", kid="ec-1")


@pytest.fixture(scope="session")
def impostor_key() -> SigningKey:
    """Same key id as the provider's RSA key, different private key: a forged signature."""
    return SigningKey("RS256", kid="rsa-1")


@pytest.fixture
def provider(rsa_key, ec_key):
    served = Provider()
    served.keys = [rsa_key, ec_key]
    yield served
    served.close()
