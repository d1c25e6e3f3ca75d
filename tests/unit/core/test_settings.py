"""Settings come from SCO_* variables; a bad value stops start naming the variable."""

import pytest

from config.settings import load_settings
from pipeline.errors import ConfigurationError


def test_embedded_defaults_need_no_servers(monkeypatch, tmp_path):
    monkeypatch.setenv("SCO_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.broker == f"sqla+sqlite:///{tmp_path}/broker.sqlite"
    assert settings.database == f"sqlite:///{tmp_path}/smartcloudops.sqlite"
    assert settings.remediation_mode == "dry_run"
    assert settings.grouping_labels == ("alertname", "service")


def test_generated_webhook_token_is_stable_and_private(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    token = settings.webhook_secret()
    assert len(token) >= 32 and load_settings(data_dir=tmp_path).webhook_secret() == token
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("variable", "value"), [
    ("SCO_CORRELATION_WINDOW_S", "soon"),
    ("SCO_CORRELATION_WINDOW_S", "-5"),
    ("SCO_HTTP_PORT", "70000"),
    ("SCO_BROKER_URL", "kafka://x"),
    ("SCO_DATABASE_URL", "mysql://x"),
    ("SCO_REMEDIATION_MODE", "yolo"),
    ("SCO_CORRELATION_LABELS", "alert name;service"),
])
def test_bad_value_names_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert variable in str(raised.value)


def test_basic_auth_needs_both_halves(monkeypatch):
    monkeypatch.setenv("SCO_WEBHOOK_USERNAME", "am")
    with pytest.raises(ConfigurationError, match="SCO_WEBHOOK_PASSWORD"):
        load_settings()


def test_cli_reports_bad_configuration_and_exits_2(monkeypatch, capsys):
    from smartcloudops.cli import main

    monkeypatch.setenv("SCO_HTTP_PORT", "not-a-port")
    assert main(["db", "current"]) == 2
    assert "SCO_HTTP_PORT" in capsys.readouterr().err
