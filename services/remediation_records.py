"""What the remediation stores hand back: runs and steps as stored, incidents as the domain reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.policy import ActionName, Decision
from pipeline.errors import NotFound
from pipeline.remediation.params import parse_params
from pipeline.remediation.plan import PlanRefused, PlanStep, RemediationPlan
from pipeline.risk import RiskAssessment

# Steps whose call went out (or may have): they count as actions on their target.
ACTED_STATES = ("executing", "executed", "verified", "succeeded", "failed")
OPEN_RUN_STATES = ("planned", "awaiting_approval", "running")


@dataclass(frozen=True, slots=True)
class StoredStep:
    index: int
    action: str
    target: str
    idempotency_key: str
    state: str
    result: Mapping[str, Any] | None
    observed: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as stored, with its plan rebuilt (and re-validated) from the stored primitives."""

    id: int
    incident_id: int | None
    plan: RemediationPlan
    state: str
    mode: str
    approved: bool
    approval_deadline: datetime | None
    trace_id: str
    steps: tuple[StoredStep, ...]

    def step(self, index: int) -> StoredStep:
        if not 0 <= index < len(self.steps):
            raise NotFound(f"run {self.id} has no step {index}")
        return self.steps[index]

    def next_step(self) -> int:
        """The first step that has not finished: where a run (re)starts."""
        return next((s.index for s in self.steps if s.state != "succeeded"), len(self.steps))


@dataclass(frozen=True, slots=True)
class AssessmentToRecord:
    """One incident's score and the plan (or refusal) it led to, for `AssessmentStore.record_assessments`."""

    incident_id: int
    event_id: str
    assessment: RiskAssessment
    outcome: RemediationPlan | PlanRefused
    trace_id: str


@dataclass(frozen=True, slots=True)
class RunStarted:
    """What planning stored: the run to start (from `next_step`) when its state is running."""

    run_id: int | None
    state: str
    next_step: int = 0


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    id: int
    status: str
    service: str
    alertname: str
    firing_labels: tuple[Mapping[str, str], ...]
    trace_id: str
    # Peak and mean anomaly score attached when the alerts arrived (None: nothing was scored).
    anomaly: tuple[float, float] | None = None


def plan_from_dict(data: Mapping[str, Any]) -> RemediationPlan:
    """Rebuild a stored plan; every parameter is validated again on the way in."""
    steps = tuple(
        PlanStep(
            int(s["index"]),
            ActionName(s["action"]),
            parse_params(s["action"], s["params"]),
            str(s["idempotency_key"]),
        )
        for s in data["steps"]
    )
    return RemediationPlan(
        str(data["plan_id"]),
        str(data["incident_id"]),
        str(data["service"]),
        data.get("rule"),
        Decision(data["decision"]),
        steps,
        data.get("requested_by"),
    )
