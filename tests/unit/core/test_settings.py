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


def test_shared_redis_defaults_to_a_redis_broker(tmp_path):
    """The docs say SCO_REDIS_URL defaults to the broker when the broker is Redis."""
    assert load_settings(data_dir=tmp_path, broker_url="redis://h:6379/1").shared_redis_url == "redis://h:6379/1"
    assert load_settings(data_dir=tmp_path, broker_url="redis://h:6379/1",
                         redis_url="redis://other:6379/2").shared_redis_url == "redis://other:6379/2"
    assert load_settings(data_dir=tmp_path).shared_redis_url is None


def test_a_redis_broker_shares_guard_state_without_warning(tmp_path, monkeypatch):
    """With only SCO_BROKER_URL=redis://… neither process warns 'SCO_REDIS_URL unset'."""
    import structlog

    from adapters.guard_store import RedisGuardStore
    from smartcloudops.bootstrap import guard_store

    with structlog.testing.capture_logs() as logs:
        store = guard_store(load_settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0"))
    assert isinstance(store, RedisGuardStore)
    assert not [entry for entry in logs if entry["event"] == "remediation.guards_in_memory"]


def test_http_keep_alive_outlives_prometheus_idle_connections(tmp_path):
    """Prometheus keeps remote-write connections idle up to 5 min; a shorter server timeout resets them."""
    assert load_settings(data_dir=tmp_path).http_keep_alive_s > 300


def test_serve_passes_the_keep_alive_to_uvicorn(tmp_path, monkeypatch):
    import argparse

    import uvicorn

    from smartcloudops.commands import runtime

    seen: dict = {}
    monkeypatch.setenv("SCO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCO_HTTP_KEEP_ALIVE_S", "400")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr("smartcloudops.bootstrap.build_http_app", lambda settings: object())
    assert runtime.serve_command(argparse.Namespace()) == 0
    assert seen["timeout_keep_alive"] == 400
