"""Alertmanager delivers while the broker is down: SmartCloudOps answers 503, Alertmanager
retries, and once Redis is back the alert arrives exactly once, nothing lost."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis as redis_client
from prometheus_client.parser import text_string_to_metric_families

from peer_processes import PeerGroup, free_port, wait_until
from peer_stack import (
    ControlledTarget,
    RedisServer,
    alert_rules,
    alertmanager_config,
    prometheus_config,
    reader_token,
    start_alertmanager,
    start_prometheus,
    start_smartcloudops,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SERVICE = "payments"
WEBHOOK_ROUTE = "/v1/alerts/alertmanager"
DELIVERY_TIMEOUT_S = 60.0


def samples(url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample a /metrics endpoint exposes, as (name, labels, value)."""
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(url: str, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples(url) if n == name and labels.items() <= ls.items())


def webhook_answers(sco_url: str) -> dict[str, float]:
    """How many webhook requests SmartCloudOps answered, by status code."""
    return {
        ls["status"]: v
        for n, ls, v in samples(sco_url)
        if n == "smartcloudops_http_requests_total" and ls["route"] == WEBHOOK_ROUTE
    }


def test_alert_sent_while_the_broker_is_down_arrives_once_after_it_returns(
    peers: PeerGroup,
    tmp_path: Path,
    pg_url: str,
    controlled_target: ControlledTarget,
    webhook_token: str,
):
    redis = RedisServer(peers, tmp_path / "redis", free_port()).start()
    sco = start_smartcloudops(peers, tmp_path / "sco", redis.url, pg_url, webhook_token)
    redis.stop()
    wait_until(
        lambda: httpx.get(f"{sco.url}/readyz", timeout=5.0).status_code == 503,
        timeout_s=30,
        what="/readyz to report the broker down",
    )

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

    # Alertmanager has tried more than once and every answer was a retryable 503.
    wait_until(
        lambda: (
            total(
                alertmanager,
                "alertmanager_notification_requests_failed_total",
                integration="webhook",
            )
            >= 2
        ),
        timeout_s=DELIVERY_TIMEOUT_S,
        what="Alertmanager to retry the webhook at least twice",
    )

    # The server counts a request just after answering it: wait, do not race it.
    def two_503s_counted() -> dict[str, float] | None:
        answers = webhook_answers(sco.url)
        return answers if answers.get("503", 0) >= 2 else None

    answers = wait_until(
        two_503s_counted,
        timeout_s=10,
        what="SmartCloudOps to count the 503 answers",
    )
    assert set(answers) == {"503"}, f"only 503s while the broker is down, got {answers}"
    assert sco.incidents(SERVICE) == []

    redis.start()

    (incident,) = wait_until(
        lambda: sco.incidents(SERVICE),
        timeout_s=DELIVERY_TIMEOUT_S,
        what="the retried alert to open an incident once Redis is back",
    )
    wait_until(
        lambda: (
            total(alertmanager, "alertmanager_notifications_total", integration="webhook")
            > total(alertmanager, "alertmanager_notifications_failed_total", integration="webhook")
        ),
        timeout_s=DELIVERY_TIMEOUT_S,
        what="Alertmanager to record the successful delivery",
    )
    # Nothing left in flight that could still add a duplicate: queue empty, every message acked.
    with redis_client.Redis.from_url(redis.url) as broker:
        wait_until(
            lambda: broker.llen("events") == 0 and broker.hlen("unacked") == 0,
            timeout_s=30,
            what="the events queue to drain and every message to be acked",
        )
        assert broker.llen("dead_letter") == 0

    # repeat_interval may resend the same alert once more; SmartCloudOps must absorb that too.
    assert webhook_answers(sco.url).get("202", 0) >= 1
    (final,) = sco.incidents(SERVICE)
    assert final["id"] == incident["id"]
    assert (final["alertname"], final["status"], final["alert_count"]) == (
        "CheckoutUnhealthy",
        "open",
        1,
    )
    detail = httpx.get(
        f"{sco.url}/v1/incidents/{incident['id']}",
        timeout=5.0,
        headers={"Authorization": f"Bearer {reader_token(webhook_token)}"},
    ).json()
    assert [alert["alertname"] for alert in detail["alerts"]] == ["CheckoutUnhealthy"]
