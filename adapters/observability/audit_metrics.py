"""Metrics read off committed audit rows: one place maps what happened to what is counted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.observability import metrics
from pipeline.audit import AuditRecord

# Final outcome of a step, by the row that records it (one row per step and outcome).
_STEP_OUTCOMES = {
    "remediation.step_failed": "failed",
    "remediation.guard_refused": "refused",
    "remediation.step_skipped_duplicate": "skipped_duplicate",
}


def observe(record: AuditRecord) -> None:
    """Count the row, and observe the domain metric its kind stands for."""
    metrics.audit_rows.labels(record.kind).inc()
    data: Mapping[str, Any] = record.data or {}
    if record.kind == "risk.assessed":
        score = data.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            metrics.risk_score.observe(float(score))
        return
    action = str(data.get("action") or "unknown")
    if record.kind == "remediation.step_succeeded":
        # A dry run's step ends here too: it is counted as what it was, once.
        outcome = "succeeded" if data.get("mode") == "execute" else "dry_run"
        metrics.remediation_steps.labels(action, outcome).inc()
    elif record.kind in _STEP_OUTCOMES:
        metrics.remediation_steps.labels(action, _STEP_OUTCOMES[record.kind]).inc()
    if record.kind == "remediation.guard_refused":
        metrics.guard_refusals.labels(str(data.get("reason_code") or "unknown")).inc()
