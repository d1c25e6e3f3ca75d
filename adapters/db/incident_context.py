"""An incident as the outcome classifier sees it when a plan is made, read from the store.

The features of `pipeline.learning.features`, from what SmartCloudOps itself recorded:
- anomaly by series kind: the highest score of the incident's top anomalous series
  (`incident_anomaly.top_series`), each series sorted into a kind by its metric name;
- hours since change: since the last step that acted (executed, not a dry run) on the service.
  Deploys made outside SmartCloudOps are not seen here, so this reads "no change" more often than
  the estate simulator's feature does;
- recent actions: steps that acted on the service in the day before the incident opened;
- flaps: earlier firings of the same alert name on the service in the hour before it opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.schema import alerts, incidents
from adapters.db.schema_anomaly import incident_anomaly
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from pipeline.events import to_utc
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Signature

ACTED = ("executed", "verified", "succeeded")  # a step in these states changed the target
RECENT = timedelta(hours=24)
FLAP_WINDOW = timedelta(hours=1)

# Which series kind a metric name measures; the first pattern that matches wins.
KIND_PATTERNS = (
    ("disk", re.compile(r"disk|filesystem|volume|inode", re.IGNORECASE)),
    ("memory", re.compile(r"mem|heap|oom|swap", re.IGNORECASE)),
    ("connections", re.compile(r"conn|pool|socket", re.IGNORECASE)),
    ("errors", re.compile(r"err|fail|5xx|exception", re.IGNORECASE)),
    ("latency", re.compile(r"latenc|duration|response_time|p99|p95|seconds_bucket", re.IGNORECASE)),
    ("cpu", re.compile(r"cpu|load|throttl", re.IGNORECASE)),
)


def series_kind(name: str) -> str | None:
    """The series kind a metric name measures, or None when it says none of them."""
    return next((kind for kind, pattern in KIND_PATTERNS if pattern.search(name)), None)


def anomaly_by_kind(top_series: Any) -> dict[str, float]:
    """The highest score per series kind among an incident's top series."""
    out: dict[str, float] = {}
    for series in top_series if isinstance(top_series, list) else []:
        if not isinstance(series, Mapping):
            continue
        kind = series_kind(str(series.get("name") or series.get("series") or series.get("series_key") or ""))
        score = series.get("max_score", series.get("score"))
        if kind is not None and isinstance(score, (int, float)):
            out[kind] = max(out.get(kind, 0.0), float(score))
    return out


class IncidentContexts:
    """Reads `IncidentContext`s from the store (the classifier's view of an incident)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def context(self, incident_id: int, signature: Signature) -> IncidentContext | None:
        """The incident as it was when it opened; None when there is no such incident."""
        with self._engine.connect() as conn:
            opened = conn.execute(
                sa.select(incidents.c.opened_at).where(incidents.c.id == incident_id)
            ).scalar()
            if opened is None:
                return None
            opened = to_utc(opened)
            top = conn.execute(
                sa.select(incident_anomaly.c.top_series).where(incident_anomaly.c.incident_id == incident_id)
            ).scalar()
            acted = (
                sa.select(remediation_steps.c.updated_at)
                .join(remediation_runs, remediation_runs.c.id == remediation_steps.c.run_id)
                .where(remediation_runs.c.service == signature.service,
                       remediation_runs.c.mode == "execute",
                       remediation_steps.c.state.in_(ACTED),
                       remediation_steps.c.updated_at < opened)
                .subquery()
            )
            last_change = conn.execute(sa.select(sa.func.max(acted.c.updated_at))).scalar()
            recent = conn.execute(
                sa.select(sa.func.count()).select_from(acted).where(acted.c.updated_at >= opened - RECENT)
            ).scalar()
            flaps = conn.execute(
                sa.select(sa.func.count()).where(
                    alerts.c.alertname == signature.alertname,
                    alerts.c.service == signature.service,
                    alerts.c.starts_at >= opened - FLAP_WINDOW,
                    alerts.c.starts_at < opened,
                )
            ).scalar()
        since = (opened - to_utc(last_change)).total_seconds() / 3600 if last_change is not None else None
        return IncidentContext(
            incident_id=str(incident_id),
            opened_at=opened,
            signature=signature,
            anomaly=anomaly_by_kind(top),
            hours_since_change=since,
            recent_actions=int(recent or 0),
            flaps_last_hour=int(flaps or 0),
        )
