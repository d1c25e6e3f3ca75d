"""Helpers of the remediation handler tests (conftest modules are not importable by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.aws import ActionResult, VerifyResult
from adapters.db.alert_store import AlertStore
from pipeline.correlation import CorrelationPolicy
from services.deps import RemediationRuntime
from tests.factories import batch, make_alert

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday morning: no freeze window
INSTANCE = "i-0b1b2c3d4e5f60011"
APPROVER, OPERATOR = "U02ALICE002", "U03BOB00003"

CATALOG = {
    "services": [
        {
            "name": "search",
            "tier": 3,
            "fleet_size": 10,
            "systemd_units": ["opensearch.service"],
            "aws": {"region": "eu-west-1", "instance_ids": [INSTANCE, "i-0b1b2c3d4e5f60012"]},
        }
    ]
}
POLICY = {
    "risk": {"thresholds": {"auto_below": 90, "notify_at": 100}},
    "approvals": {"roles": ["approver"], "timeout_s": 600},
    "guards": {"rate_limit_max": 5, "cooldown_s": 0, "breaker_failure_threshold": 2},
    "actions": {"ec2_reboot": {}},
    "rules": [
        {
            "name": "reboot-down",
            "match": {"alertnames": ["InstanceDown"]},
            "actions": [{"action": "ec2_reboot"}],
        },
        {
            "name": "reboot-disk",
            "match": {"alertnames": ["DiskFull"]},
            "minimum_decision": "needs_approval",
            "actions": [{"action": "ec2_reboot"}],
        },
    ],
}


@dataclass
class ScriptedAction:
    """An AWS action whose outcomes the test scripts; it records every call it receives."""

    execute_errors: list[Exception] = field(default_factory=list)
    verify_ok: bool = True
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def execute(
        self, params: Any, dry_run: bool, *, idempotency_key: str | None = None
    ) -> ActionResult:
        self.calls.append(("execute", dry_run))
        if self.execute_errors:
            raise self.execute_errors.pop(0)
        return ActionResult(
            "ec2:RebootInstances", {"InstanceIds": [params.instance_id]}, {}, dry_run
        )

    def recover(self, params: Any, idempotency_key: str) -> ActionResult:
        self.calls.append(("recover", idempotency_key))
        return ActionResult(
            "ec2:RebootInstances", {"InstanceIds": [params.instance_id]}, {"recovered": True}, False
        )

    def verify(self, params: Any, executed: ActionResult, **timing: float) -> VerifyResult:
        self.calls.append(("verify", executed.dry_run))
        return VerifyResult(
            self.verify_ok, {"state": "running" if self.verify_ok else "stopped"}, "looked once"
        )

    @property
    def sent(self) -> int:
        return sum(1 for name, dry in self.calls if name == "execute" and dry is False)


def open_incident(rt: RemediationRuntime, alertname: str = "InstanceDown") -> int:
    """Record one firing alert through the real alert store; the incident it opened."""
    engine = rt.runs._engine
    store = AlertStore(engine, CorrelationPolicy(labels=("alertname", "service")))
    outcome = store.record_batch(
        batch(make_alert(alertname, "search", INSTANCE, starts_at=NOW)), trace_id="t" * 32, now=NOW
    )
    [incident_id] = outcome.opened
    return incident_id
