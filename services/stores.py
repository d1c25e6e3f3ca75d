"""The stores the use cases write through: one protocol per aggregate (adapters/db implements them).

Each method commits its own transaction with its audit rows, and a repeated call with the same
idempotency key changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pipeline.audit import AuditRecord
from pipeline.events import CloudEvent
from pipeline.remediation.guards import BreakerSnapshot, GuardDecision
from pipeline.remediation.plan import PlanRefused, RemediationPlan
from pipeline.risk import RiskAssessment, TargetHistory
from services.chat_records import Acknowledged, Command, SilenceRow
from services.remediation_records import AssessmentToRecord, IncidentSnapshot, RunStarted, StoredRun


class IncidentFactsReader(Protocol):
    """The facts risk scoring reads about an incident and its targets' recent history."""

    def incident(self, incident_id: int) -> IncidentSnapshot: ...

    def target_history(self, targets: Iterable[str], since: datetime) -> TargetHistory: ...


class AssessmentStore(Protocol):
    """Records a risk assessment with the plan (or refusal) it led to, in one transaction."""

    def record_assessment(
        self,
        *,
        incident_id: int,
        event_id: str,
        assessment: RiskAssessment,
        outcome: RemediationPlan | PlanRefused,
        mode: str,
        approval_timeout_s: float,
        now: datetime,
        trace_id: str,
    ) -> RunStarted: ...

    def record_assessments(
        self, items: Sequence[AssessmentToRecord], *, mode: str, approval_timeout_s: float, now: datetime
    ) -> list[RunStarted]:
        """Several at once, in one transaction with one append to the audit chain; each once per event."""
        ...


class RunStore(Protocol):
    """Remediation runs and their steps: every state change with its audit rows, idempotently."""

    def run(self, run_id: int) -> StoredRun: ...

    def awaiting_run_of(self, incident_id: int) -> int | None: ...

    def runs_past_deadline(self, now: datetime) -> list[int]: ...

    def stalled_runs(self, quiet_since: datetime) -> list[StoredRun]:
        """Running runs neither they nor any of their steps changed since `quiet_since`."""
        ...

    def record_request(
        self,
        *,
        incident_id: int | None,
        outcome: RemediationPlan | PlanRefused,
        request: Mapping[str,
        Any],
        mode: str,
        approval_timeout_s: float,
        now: datetime,
        trace_id: str,
    ) -> RunStarted: ...

    def step_guarded(
        self, run: StoredRun, index: int, decision: GuardDecision, *, now: datetime
    ) -> bool: ...

    def step_executing(self, run: StoredRun, index: int, *, now: datetime) -> bool: ...

    def step_not_sent(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool: ...

    def step_executed(
        self,
        run: StoredRun,
        index: int,
        result: Mapping[str,
        Any],
        *,
        recovered: bool,
        now: datetime,
    ) -> bool: ...

    def step_duplicate(self, run: StoredRun, index: int, task: str, *, now: datetime) -> None: ...

    def step_verified(
        self, run: StoredRun, index: int, result: Mapping[str, Any], *, now: datetime
    ) -> bool: ...

    def step_failed(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool: ...

    def step_recorded(
        self, run: StoredRun, index: int, breaker: BreakerSnapshot | None, *, now: datetime
    ) -> bool: ...

    def breaker_recorded(
        self, run: StoredRun, snapshot: BreakerSnapshot, *, now: datetime
    ) -> None: ...

    def expire(self, run: StoredRun, *, now: datetime) -> bool: ...


class ApprovalStore(Protocol):
    """Approvals and denials of a run waiting for one, and refused decisions, audited."""

    def decide(
        self,
        run: StoredRun,
        *,
        approved: bool,
        actor: str,
        roles: Sequence[str],
        reason: str,
        now: datetime,
        trace_id: str,
        event_id: str | None = None,
        reply_to: str | None = None,
        follow_ups: Sequence[tuple[str, CloudEvent]] = (),
    ) -> bool:
        """Commit the decision with its claim on `event_id`, the run's `reply_to` and its follow-ups (outbox)."""
        ...

    def claimed(self, event_id: str) -> bool:
        """Whether a decision message with this id has already committed (a redelivery)."""
        ...

    def refuse_decision(
        self,
        run: StoredRun | None,
        *,
        incident_id: int | None,
        actor: str,
        why: str,
        now: datetime,
        trace_id: str,
    ) -> None: ...


class KillSwitchRecorder(Protocol):
    """Audits every engage or release of the kill switch."""

    def record_kill_switch(
        self, *, engaged: bool, by: str, reason: str, now: datetime, trace_id: str
    ) -> None: ...


class CommandStore(Protocol):
    """Chat commands (idempotent by event id) with their audit rows, and acknowledgements."""

    def record(self, command: Command, records: Sequence[AuditRecord]) -> bool: ...

    def acknowledge(self, command: Command, incident_id: int, actor: str) -> Acknowledged: ...


class SilenceStore(Protocol):
    """Silences asked for in chat; the alert store reads the active ones."""

    def create_silence(
        self,
        command: Command,
        *,
        alertname: str | None,
        service: str | None,
        ends_at: datetime,
        actor: str,
        reason: str,
    ) -> SilenceRow: ...

    def set_alertmanager_id(self, silence_id: int, alertmanager_id: str) -> None: ...

    def end_silences(
        self, command: Command, *, alertname: str | None, service: str | None, actor: str
    ) -> list[SilenceRow]: ...

    def active_silences(self, now: datetime) -> list[SilenceRow]: ...


class ChatQueries(Protocol):
    """Read side of chat answers: history, latest risk, anomaly scores."""

    def history(
        self,
        *,
        incident_id: int | None=None,
        service: str | None=None,
        actions_only: bool=False,
        limit: int=15,
    ) -> list[dict[str, Any]]: ...

    def latest_risk(self, incident_id: int) -> dict[str, Any] | None: ...

    def anomaly_scores(
        self, service: str | None, since: datetime, limit: int=10
    ) -> list[tuple[str, float]]: ...

    def incident_anomaly(self, incident_id: int) -> dict[str, Any] | None: ...


class AlertmanagerSilencer(Protocol):
    """Mirrors chat silences into Alertmanager's API."""

    def create(
        self,
        *,
        alertname: str | None,
        service: str | None,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str: ...

    def expire(self, silence_id: str) -> None: ...
