"""No fail-open secrets: empty, short or default values stop start, naming the variable and not the value."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from pipeline.errors import ConfigurationError

SECRETS = ["SCO_WEBHOOK_TOKEN", "SCO_API_TOKEN", "SCO_FLOWER_PASSWORD", "SCO_SLACK_SIGNING_SECRET"]


@pytest.mark.parametrize("variable", SECRETS)
@pytest.mark.parametrize("value", ["", "   ", "short-secret", "changeme", "aaaaaaaaaaaaaaaaaaaaaaaa"])
def test_a_weak_secret_stops_start_naming_the_variable(monkeypatch, tmp_path, variable, value) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings(data_dir=tmp_path)
    assert variable in str(raised.value)
    if value.strip():
        assert value not in str(raised.value)  # the secret itself never reaches the log


def test_a_strong_secret_is_accepted(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SCO_WEBHOOK_TOKEN", "f3a9c1d2e4b5a6978899aabbccddeeff")
    assert load_settings(data_dir=tmp_path).webhook_secret() == "f3a9c1d2e4b5a6978899aabbccddeeff"


def test_the_api_token_no_longer_defaults_to_the_webhook_token(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, webhook_token="f3a9c1d2e4b5a6978899aabbccddeeff")
    assert settings.api_secret() is None


def test_oidc_settings_come_together(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="SCO_OIDC_ISSUER"):
        load_settings(data_dir=tmp_path, oidc_issuer="https://idp.example")


def test_the_api_token_may_not_be_the_webhook_token(tmp_path) -> None:
    shared = "f3a9c1d2e4b5a6978899aabbccddeeff"
    with pytest.raises(ConfigurationError, match="SCO_API_TOKEN must differ"):
        load_settings(data_dir=tmp_path, webhook_token=shared, api_token=shared)
