"""A real Prometheus evaluates a rule, a real Alertmanager routes it with bearer auth to
SmartCloudOps, and the incident opens and resolves with the metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from peer_processes import PeerGroup, free_port, wait_until
from peer_stack import (
    ControlledTarget,
    RedisServer,
    alert_rules,
    alertmanager_config,
    prometheus_config,
    start_alertmanager,
    start_prometheus,
    start_smartcloudops,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SERVICE = "checkout"
DELIVERY_TIMEOUT_S = 60.0


def test_incident_opens_when_the_rule_fires_and_resolves_when_the_metric_recovers(
    peers: PeerGroup,
    tmp_path: Path,
    pg_url: str,
    controlled_target: ControlledTarget,
    webhook_token: str,
):
    redis = RedisServer(peers, tmp_path / "redis", free_port()).start()
    sco = start_smartcloudops(peers, tmp_path / "sco", redis.url, pg_url, webhook_token)
    alertmanager = start_alertmanager(
        peers, tmp_path / "alertmanager", alertmanager_config(sco.webhook_url(), webhook_token)
    )
    controlled_target.healthy = False
    start_prometheus(
        peers,
        tmp_path / "prometheus",
        prometheus_config({"checkout": controlled_target.url}, alertmanager),
        alert_rules(SERVICE),
    )

    (opened,) = wait_until(
        lambda: sco.incidents(SERVICE, "open"),
        timeout_s=DELIVERY_TIMEOUT_S,
        what="the incident opened by the Alertmanager webhook",
    )
    assert (opened["alertname"], opened["service"], opened["status"]) == (
        "CheckoutUnhealthy",
        SERVICE,
        "open",
    )
    assert opened["severity"] == "critical"
    assert opened["alert_count"] == 1

    controlled_target.healthy = True

    (resolved,) = wait_until(
        lambda: sco.incidents(SERVICE, "resolved"),
        timeout_s=DELIVERY_TIMEOUT_S,
        what="the incident resolved by Alertmanager's resolved notification",
    )
    assert resolved["id"] == opened["id"]
    assert resolved["resolved_at"] is not None
    assert sco.incidents(SERVICE, "open") == []
