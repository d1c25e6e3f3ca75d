"""Remediation policy: which incidents match, which actions answer them, risk weights and guards.

These are the domain's types; config/policy.py reads the operator's YAML file into them and
checks it against the catalog, so a rule that names an unknown service or a systemd unit the
service does not declare stops start with file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from pipeline.catalog import ServiceName, SystemdUnit

# Documents that run arbitrary text on a host: never allowed, whatever the file says.
FORBIDDEN_SSM_DOCUMENTS = frozenset(
    {
        "AWS-RunShellScript",
        "AWS-RunPowerShellScript",
        "AWS-RunRemoteScript",
        "AWS-RunDocument",
        "AWS-RunSaltState",
        "AWS-RunAnsiblePlaybook",
        "AWS-ApplyChefRecipes",
        "AWS-StartInteractiveCommand",
        "AWS-StartNonInteractiveCommand",
    }
)
SSM_DOCUMENT_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{3,128}$")
SsmDocumentName = Annotated[str, StringConstraints(pattern=SSM_DOCUMENT_PATTERN.pattern)]
SsmParameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Seconds = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Decision(StrEnum):
    """What to do with a plan; later members are stricter."""

    AUTO = "auto"
    NEEDS_APPROVAL = "needs_approval"
    NOTIFY_ONLY = "notify_only"

    @property
    def strictness(self) -> int:
        return list(Decision).index(self)

    def at_least(self, other: Decision) -> Decision:
        """The stricter of the two decisions."""
        return self if self.strictness >= other.strictness else other


class ActionName(StrEnum):
    EC2_REBOOT = "ec2_reboot"
    EC2_START = "ec2_start"
    ASG_SET_DESIRED_CAPACITY = "asg_set_desired_capacity"
    ECS_FORCE_NEW_DEPLOYMENT = "ecs_force_new_deployment"
    SSM_RUN_COMMAND = "ssm_run_command"
    RDS_REBOOT = "rds_reboot"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- risk


class FactorWeights(_Frozen):
    severity: float = Field(default=3.0, ge=0)
    anomaly: float = Field(default=2.0, ge=0)
    tier: float = Field(default=2.0, ge=0)
    blast_radius: float = Field(default=2.0, ge=0)
    flapping: float = Field(default=1.5, ge=0)
    recent_failures: float = Field(default=1.5, ge=0)
    change_freeze: float = Field(default=1.0, ge=0)
    # 1 - the smoothed fix rate of the planned action on similar incidents (docs/learning.md);
    # only present once outcomes exist, and it can only make a decision stricter.
    learned_failure: float = Field(default=1.5, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> FactorWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class DecisionThresholds(_Frozen):
    """score < auto_below acts automatically; score >= notify_at only notifies."""

    auto_below: float = Field(default=40.0, ge=0, le=100)
    notify_at: float = Field(default=85.0, ge=0, le=100.000001)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionThresholds:
        if self.auto_below > self.notify_at:
            raise ValueError("auto_below must not exceed notify_at")
        return self


class RiskPolicy(_Frozen):
    weights: FactorWeights = FactorWeights()
    severity_levels: dict[Word, Share] = {
        "critical": 1.0,
        "error": 0.8,
        "warning": 0.5,
        "info": 0.1,
    }
    unknown_severity: Share = 0.5
    tier_levels: dict[Annotated[int, Field(ge=1, le=3)], Share] = {1: 1.0, 2: 0.6, 3: 0.3}
    anomaly_max_share: Share = Field(default=0.6, description="weight of max vs mean anomaly score")
    blast_radius_target_saturation: int = Field(default=5, ge=1)
    flapping_window_s: Seconds = 3600.0
    flapping_saturation: int = Field(default=3, ge=1)
    failure_lookback_s: Seconds = 86400.0
    failure_saturation: int = Field(default=2, ge=1)
    thresholds: DecisionThresholds = DecisionThresholds()

    @field_validator("severity_levels")
    @classmethod
    def _lower_case_severities(cls, levels: dict[str, float]) -> dict[str, float]:
        return {name.lower(): value for name, value in levels.items()}


# ---------------------------------------------------------------- change freeze

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class _Window(_Frozen):
    name: Word
    timezone: Word = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {name!r}") from exc
        return name


class WeeklyWindow(_Window):
    """Every week on `days`, from `start` to `end` local time; end before start spans midnight."""

    kind: Literal["weekly"] = "weekly"
    days: tuple[Weekday, ...] = Field(min_length=1)
    start: ClockTime
    end: ClockTime

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        today = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        if start < end:
            return today in self.days and start <= minute < end
        # Spans midnight: the evening part belongs to today, the morning part to yesterday.
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)


class DateWindow(_Window):
    """One-off freeze between two local date-times (e.g. a sales event)."""

    kind: Literal["dates"] = "dates"
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self._aware(self.starts_at) >= self._aware(self.ends_at):
            raise ValueError("starts_at must be before ends_at")
        return self

    def _aware(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.timezone))

    def contains(self, moment: datetime) -> bool:
        return self._aware(self.starts_at) <= moment < self._aware(self.ends_at)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


FreezeWindow = Annotated[WeeklyWindow | DateWindow, Field(discriminator="kind")]


class ChangeFreeze(_Frozen):
    decision: Literal[Decision.NEEDS_APPROVAL, Decision.NOTIFY_ONLY] = Decision.NEEDS_APPROVAL
    windows: tuple[FreezeWindow, ...] = ()

    def active_window(self, moment: datetime) -> str | None:
        """Name of the freeze window that contains `moment` (tz-aware), if any."""
        if moment.tzinfo is None:
            raise ValueError("change-freeze checks need a timezone-aware moment")
        return next((w.name for w in self.windows if w.contains(moment)), None)


# ---------------------------------------------------------------- approvals and guards


class Approvals(_Frozen):
    """Who may approve a plan that needs a human, and how long the plan waits."""

    roles: tuple[Word, ...] = Field(min_length=1)
    timeout_s: Seconds = 1800.0

    def permits(self, approver_roles: Iterable[str]) -> bool:
        """Whether someone holding these roles may approve or deny."""
        return any(role in self.roles for role in approver_roles)

    def expired(self, requested_at: datetime, now: datetime) -> bool:
        """Whether an approval requested at `requested_at` has timed out by `now`."""
        return (now - requested_at).total_seconds() >= self.timeout_s


class GuardLimits(_Frozen):
    """Limits of the stateful and plan-level guards."""

    rate_limit_max: int = Field(default=3, ge=1, description="actions per target per window")
    rate_limit_window_s: Seconds = 3600.0
    cooldown_s: float = Field(default=300.0, ge=0)
    max_targets_per_plan: int = Field(default=2, ge=1)
    max_fleet_share: Share = 0.34
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_s: Seconds = 900.0


class ActionLimits(_Frozen):
    """Stricter (or looser) stateful limits for one action type; unset fields inherit."""

    rate_limit_max: int | None = Field(default=None, ge=1)
    rate_limit_window_s: Seconds | None = None
    cooldown_s: float | None = Field(default=None, ge=0)
    breaker_failure_threshold: int | None = Field(default=None, ge=1)
    breaker_cooldown_s: Seconds | None = None


class GuardPolicy(GuardLimits):
    """Guard limits with optional per-action overrides (e.g. one RDS reboot a day)."""

    per_action: dict[ActionName, ActionLimits] = {}

    def for_action(self, action: ActionName | str) -> GuardLimits:
        """The limits that apply to one action type."""
        base = self.model_dump(exclude={"per_action"})
        override = self.per_action.get(ActionName(action))
        if override is not None:
            base.update(override.model_dump(exclude_none=True))
        return GuardLimits(**base)


# ---------------------------------------------------------------- action allowlist


class SsmDocument(_Frozen):
    """An allowlisted SSM document and the name of its systemd-unit parameter."""

    name: SsmDocumentName
    unit_parameter: SsmParameterName = "unit"

    @field_validator("name")
    @classmethod
    def _not_a_shell(cls, name: str) -> str:
        if name in FORBIDDEN_SSM_DOCUMENTS:
            raise ValueError(f"{name} runs arbitrary commands and can never be allowlisted")
        return name


class Toggle(_Frozen):
    enabled: bool = True


class AsgAllowance(Toggle):
    max_step: int = Field(default=2, ge=1, description="largest change of desired capacity")


class SsmAllowance(Toggle):
    documents: tuple[SsmDocument, ...] = Field(min_length=1)


class RdsAllowance(Toggle):
    allow_force_failover: bool = False


class AllowedActions(_Frozen):
    """The allowlist: an action absent or disabled here can never be planned."""

    ec2_reboot: Toggle | None = None
    ec2_start: Toggle | None = None
    asg_set_desired_capacity: AsgAllowance | None = None
    ecs_force_new_deployment: Toggle | None = None
    ssm_run_command: SsmAllowance | None = None
    rds_reboot: RdsAllowance | None = None

    def allows(self, action: ActionName | str) -> bool:
        allowance = getattr(self, str(action), None)
        return allowance is not None and allowance.enabled

    def ssm_document(self, name: str) -> SsmDocument | None:
        if self.ssm_run_command is None:
            return None
        return next((d for d in self.ssm_run_command.documents if d.name == name), None)


# ---------------------------------------------------------------- rules


class Ec2RebootSpec(_Frozen):
    action: Literal[ActionName.EC2_REBOOT]


class Ec2StartSpec(_Frozen):
    action: Literal[ActionName.EC2_START]


class AsgScaleOutSpec(_Frozen):
    action: Literal[ActionName.ASG_SET_DESIRED_CAPACITY]
    scale_out_by: int = Field(default=1, ge=1)


class EcsRedeploySpec(_Frozen):
    action: Literal[ActionName.ECS_FORCE_NEW_DEPLOYMENT]


class SsmCommandSpec(_Frozen):
    action: Literal[ActionName.SSM_RUN_COMMAND]
    document: SsmDocumentName
    unit: SystemdUnit


class RdsRebootSpec(_Frozen):
    action: Literal[ActionName.RDS_REBOOT]
    force_failover: bool = False


ActionSpec = Annotated[
    Ec2RebootSpec
    | Ec2StartSpec
    | AsgScaleOutSpec
    | EcsRedeploySpec
    | SsmCommandSpec
    | RdsRebootSpec,
    Field(discriminator="action"),
]


class Match(_Frozen):
    """An incident matches when every given criterion matches; empty criteria match anything."""

    alertnames: tuple[Word, ...] = ()
    labels: dict[Word, Word] = {}
    services: tuple[ServiceName, ...] = ()

    def matches(self, alertname: str, labels: dict[str, str], service: str) -> bool:
        return (
            (not self.alertnames or alertname in self.alertnames)
            and (not self.services or service in self.services)
            and all(labels.get(key) == value for key, value in self.labels.items())
        )


class Rule(_Frozen):
    name: Word
    match: Match
    actions: tuple[ActionSpec, ...] = Field(min_length=1)
    minimum_decision: Decision = Decision.AUTO
    # Four eyes by default: whoever asked for this rule's remediation may not approve it too.
    self_approval: bool = False


class Requests(_Frozen):
    """Remediation asked for by a person (chat or API)."""

    decision: Decision = Decision.NEEDS_APPROVAL
    self_approval: bool = False  # may the person who asked approve their own request?


class PredictionRule(_Frozen):
    """Forecast one metric and raise its alert before the threshold is crossed."""

    name: Word
    metric: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")]
    threshold: float
    alertname: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")]
    severity: Word = "warning"
    horizon_s: Seconds = 7200.0

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("threshold must be a finite number")
        return value


class Predictions(_Frozen):
    """Predictive remediation: forecast these metrics, open "predicted" incidents ahead of time."""

    rules: tuple[PredictionRule, ...] = ()
    interval_s: Seconds = 300.0  # how often a worker forecasts
    history_s: Seconds = 3 * 86400.0  # how much history each forecast reads (a day is warm-up)
    # A predicted incident's plan needs at least this decision: by default a person approves.
    minimum_decision: Decision = Decision.NEEDS_APPROVAL


class Policy(_Frozen):
    """The operator's whole remediation policy file."""

    risk: RiskPolicy = RiskPolicy()
    change_freeze: ChangeFreeze = ChangeFreeze()
    approvals: Approvals
    guards: GuardPolicy = GuardPolicy()
    actions: AllowedActions
    rules: tuple[Rule, ...] = ()
    requests: Requests = Requests()
    predictions: Predictions = Predictions()

    @model_validator(mode="after")
    def _rules_use_allowed_actions(self) -> Policy:
        for rule in self.rules:
            for spec in rule.actions:
                _check_allowed(self.actions, spec)
        return self

    def allows_self_approval(self, rule: str | None) -> bool:
        """Whether the requester of a plan made by `rule` (None: a person's request) may approve it."""
        if rule is None:
            return self.requests.self_approval
        return any(r.name == rule and r.self_approval for r in self.rules)

    def rule_for(self, alertname: str, labels: dict[str, str], service: str) -> Rule | None:
        """The first rule that matches the incident, in file order."""
        return next((r for r in self.rules if r.match.matches(alertname, labels, service)), None)


def _check_allowed(actions: AllowedActions, spec: BaseModel) -> None:
    action = spec.action  # type: ignore[attr-defined]
    if not actions.allows(action):
        raise ValueError(f"action {action} is not enabled under actions:")
    if isinstance(spec, SsmCommandSpec) and actions.ssm_document(spec.document) is None:
        raise ValueError(f"SSM document {spec.document} is not allowlisted")
    if isinstance(spec, AsgScaleOutSpec):
        max_step = actions.asg_set_desired_capacity.max_step  # type: ignore[union-attr]
        if spec.scale_out_by > max_step:
            raise ValueError(f"scale_out_by {spec.scale_out_by} exceeds max_step {max_step}")
    if isinstance(spec, RdsRebootSpec) and spec.force_failover:
        if not actions.rds_reboot.allow_force_failover:  # type: ignore[union-attr]
            raise ValueError("force_failover is not allowed under actions.rds_reboot")


__all__ = [
    "ActionName",
    "AllowedActions",
    "ChangeFreeze",
    "Decision",
    "GuardLimits",
    "Policy",
    "RiskPolicy",
    "Rule",
]
