"""Issue 13 #6: the risk, step and guard metrics are observed from the committed audit rows."""

from datetime import UTC, datetime

from adapters.observability import audit_metrics, metrics
from pipeline.audit import AuditRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _row(kind: str, **data) -> AuditRecord:
    return AuditRecord(kind=kind, occurred_at=NOW, actor="system", data=data)


def _value(name: str, labels: dict | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_a_risk_assessment_row_observes_its_score():
    before = _value("smartcloudops_risk_score_count")
    audit_metrics.observe(_row("risk.assessed", score=72.5, decision="needs_approval"))
    assert _value("smartcloudops_risk_score_count") == before + 1
    assert _value("smartcloudops_risk_score_sum") >= 72.5


def test_steps_are_counted_once_by_their_final_outcome():
    labels = {"action": "ec2_reboot_t", "outcome": "dry_run"}
    before = _value("smartcloudops_remediation_steps_total", labels)
    audit_metrics.observe(_row("remediation.step_dry_run", action="ec2_reboot_t"))
    audit_metrics.observe(_row("remediation.step_succeeded", action="ec2_reboot_t", mode="dry_run"))
    assert _value("smartcloudops_remediation_steps_total", labels) == before + 1


def test_a_guard_refusal_counts_its_reason_and_the_refused_step():
    before = _value("smartcloudops_guard_refusals_total", {"reason": "cooldown_t"})
    audit_metrics.observe(_row("remediation.guard_refused", action="asg_scale_t", reason_code="cooldown_t"))
    assert _value("smartcloudops_guard_refusals_total", {"reason": "cooldown_t"}) == before + 1
    assert _value("smartcloudops_remediation_steps_total", {"action": "asg_scale_t", "outcome": "refused"}) == 1
    assert metrics.audit_rows.labels("remediation.guard_refused")._value.get() >= 1


def test_the_metric_task_observes_the_detector_calls_size_time_and_scores():
    from services.metrics import ScoringOutcome
    from tasks.metrics import _observe_inference

    before = (_value("smartcloudops_inference_batch_size_count"), _value("smartcloudops_anomaly_score_count"))
    _observe_inference(ScoringOutcome(1, 3, 0, 0, (), inference_points=3, inference_s=0.01,
                                      scores=(0.1, 0.5, 0.9)))
    assert _value("smartcloudops_inference_batch_size_count") == before[0] + 1
    assert _value("smartcloudops_anomaly_score_count") == before[1] + 3
    assert _value("smartcloudops_inference_duration_seconds_count") >= 1


def test_the_api_exports_its_publish_failures_at_zero_per_queue(tmp_path, monkeypatch):
    """Alert rules and panels on publish failures see a 0, not an absent series, before any failure."""
    from config.settings import load_settings
    from smartcloudops.bootstrap import build_http_app

    monkeypatch.setenv("SCO_QUEUE_CHAT", "chat_zero_probe")
    build_http_app(load_settings(data_dir=tmp_path))
    assert _value_or_none("smartcloudops_publish_failures_total", {"queue": "chat_zero_probe"}) == 0.0


def test_the_worker_exports_failure_step_and_refusal_series_at_zero(tmp_path):
    from config.settings import load_settings
    from smartcloudops.bootstrap import _declare_worker_series, celery_app

    _declare_worker_series(celery_app(load_settings(data_dir=tmp_path)))
    assert _value_or_none("smartcloudops_task_failures_total",
                          {"task": "remediation.verify_step", "kind": "permanent"}) is not None
    assert _value_or_none("smartcloudops_remediation_steps_total",
                          {"action": "rds_reboot", "outcome": "failed"}) is not None
    assert _value_or_none("smartcloudops_guard_refusals_total", {"reason": "change_freeze"}) is not None


def _value_or_none(name: str, labels: dict):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels)
