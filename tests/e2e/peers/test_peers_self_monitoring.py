"""A real Prometheus scrapes `smartcloudops up` as jobs smartcloudops-api and
smartcloudops-worker and evaluates the shipped rules against what they really expose."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from peer_processes import PeerGroup, free_port, wait_until
from peer_stack import (
    SHIPPED_RULES,
    PrometheusApi,
    RedisServer,
    SmartCloudOps,
    prometheus_config,
    start_prometheus,
    start_smartcloudops,
)
from smartcloudops.demo_payloads import alert, webhook

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

WEBHOOK = 'job="smartcloudops-api", route="/v1/alerts/alertmanager", method="POST"'
SCRAPE_TIMEOUT_S = 60.0


def shipped_rule_names() -> set[str]:
    groups = yaml.safe_load(SHIPPED_RULES.read_text())["groups"]
    return {rule.get("alert", rule.get("record")) for g in groups for rule in g["rules"]}


def post_alert(sco: SmartCloudOps, token: str | None) -> int:
    firing = alert(
        "DiskFull",
        "billing",
        "i-0123456789abcdef0",
        status="firing",
        starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(sco.webhook_url(), json=webhook([firing]), headers=headers, timeout=10.0)
    return response.status_code


def seen(prometheus: PrometheusApi, status: str, count: int) -> None:
    """Wait until Prometheus has scraped `count` webhook answers with `status`."""
    wait_until(
        lambda: (
            prometheus.value(f'smartcloudops_http_requests_total{{{WEBHOOK}, status="{status}"}}')
            == count
        ),
        timeout_s=SCRAPE_TIMEOUT_S,
        what=f"Prometheus to scrape {count} webhook answer(s) with status {status}",
    )


def test_prometheus_sees_webhook_traffic_and_evaluates_every_shipped_rule_cleanly(
    peers: PeerGroup, tmp_path: Path, pg_url: str, webhook_token: str
):
    redis = RedisServer(peers, tmp_path / "redis", free_port()).start()
    sco = start_smartcloudops(peers, tmp_path / "sco", redis.url, pg_url, webhook_token)
    prometheus = PrometheusApi(
        start_prometheus(
            peers,
            tmp_path / "prometheus",
            prometheus_config(
                {"smartcloudops-api": sco.url, "smartcloudops-worker": sco.worker_metrics_url}
            ),
        )
    )

    # A rate needs the same series scraped before and after it grows: answer, scrape, answer.
    assert post_alert(sco, webhook_token) == 202
    seen(prometheus, "202", 1)
    assert post_alert(sco, webhook_token) == 202
    assert post_alert(sco, token=None) == 401
    seen(prometheus, "202", 2)
    seen(prometheus, "401", 1)
    wait_until(
        lambda: (
            prometheus.value(
                'route:smartcloudops_http_requests:rate10m{route="/v1/alerts/alertmanager"}'
            )
            > 0
        ),
        timeout_s=SCRAPE_TIMEOUT_S,
        what="the request-rate recording rule to see the webhook traffic",
    )

    def evaluated_shipped_rules() -> list[dict] | None:
        rules = prometheus.rules(SHIPPED_RULES)
        return rules if rules and all(r["health"] != "unknown" for r in rules) else None

    rules = wait_until(
        evaluated_shipped_rules,
        timeout_s=SCRAPE_TIMEOUT_S,
        what="every shipped rule to be evaluated",
    )
    assert {r["name"] for r in rules} == shipped_rule_names()
    assert {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"} == {}
    # The worker timed the two alert batches it consumed; the API reports the queue depths.
    wait_until(
        lambda: (
            prometheus.value(
                'sum(smartcloudops_task_duration_seconds_count{job="smartcloudops-worker",'
                ' task="alerts.record_batch"})'
            )
            == 2
        ),
        timeout_s=SCRAPE_TIMEOUT_S,
        what="Prometheus to scrape the worker's two alert batches",
    )
    assert (
        prometheus.value('smartcloudops_queue_depth{job="smartcloudops-api", queue="events"}') == 0
    )
    assert prometheus.value('up{job="smartcloudops-api"}') == 1
    assert prometheus.value('up{job="smartcloudops-worker"}') == 1
    assert prometheus.query('ALERTS{alertname=~"SmartCloudOps(Api|Worker)Absent"}') == []
    assert prometheus.query("route:smartcloudops_http_requests_5xx:ratio_rate10m") == []
