"""Risk scoring: how dangerous is it to act on this incident without a human, and why.

The score (0..100) is a weighted mean of factor values in [0, 1]; each factor reports its
normalised weight and its contribution, and the contributions sum to the score. A factor
without data (no anomaly scores yet) is omitted and the remaining weights renormalised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pipeline.catalog import Catalog
from pipeline.policy import Decision, DecisionThresholds, Policy, RiskPolicy

__all__ = [
    "Decision",
    "Factor",
    "IncidentFacts",
    "LearnedFix",
    "PastAction",
    "RiskAssessment",
    "TargetHistory",
    "assess",
    "decide",
    "instance_targets",
]


@dataclass(frozen=True)
class LearnedFix:
    """How often the planned action fixed incidents like this one, from recorded outcomes."""

    action: str
    probability: float  # smoothed chance of a fix, in [0, 1]
    tried: int  # runs behind it at the most specific level with any evidence
    explanation: str  # "ec2_reboot fixed 9 of 11 similar InstanceDown incidents on checkout (...)"


@dataclass(frozen=True)
class IncidentFacts:
    """What risk scoring needs to know about one incident."""

    incident_id: str
    service: str
    alertname: str
    severity: str
    service_tier: int
    fleet_size: int
    targets: tuple[str, ...] = ()
    anomaly_scores: tuple[float, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    # What earlier outcomes say about the action the policy would run here (None: nothing learnt).
    learned: LearnedFix | None = None

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        *,
        incident_id: str,
        service: str,
        alertname: str,
        labels: Mapping[str, str],
        targets: tuple[str, ...] = (),
        anomaly_scores: tuple[float, ...] = (),
    ) -> IncidentFacts:
        """Facts with tier and fleet size taken from the catalog (unknown service: tier 1)."""
        known = catalog.service(service)
        return cls(
            incident_id=incident_id,
            service=known.name if known else service,
            alertname=alertname,
            severity=labels.get("severity", ""),
            # An unknown service is treated as most critical: we know least about it.
            service_tier=known.tier if known else 1,
            fleet_size=known.effective_fleet_size if known else max(len(targets), 1),
            targets=targets,
            anomaly_scores=anomaly_scores,
            labels=dict(labels),
        )

    @classmethod
    def from_alerts(
        cls,
        catalog: Catalog,
        *,
        incident_id: str,
        alerts: Sequence[AlertLike],
        anomaly_scores: tuple[float, ...] = (),
    ) -> IncidentFacts:
        """Facts of an incident from its firing alerts: most severe level, every named instance."""
        if not alerts:
            raise ValueError("an incident has at least one alert")
        first = alerts[0]
        severest = max((a.labels.get("severity", "") for a in alerts), key=_severity_rank)
        return cls.from_catalog(
            catalog,
            incident_id=incident_id,
            service=first.labels.get("service", ""),
            alertname=first.labels.get("alertname", ""),
            labels={**first.labels, "severity": severest},
            targets=tuple(sorted({t for a in alerts for t in instance_targets(a.labels)})),
            anomaly_scores=anomaly_scores,
        )


class AlertLike(Protocol):
    @property
    def labels(self) -> Mapping[str, str]: ...


SEVERITY_ORDER = ("info", "warning", "error", "critical")


def _severity_rank(level: str) -> int:
    return SEVERITY_ORDER.index(level.lower()) if level.lower() in SEVERITY_ORDER else -1


def instance_targets(labels: Mapping[str, str]) -> tuple[str, ...]:
    """EC2 instances an alert names: `instance_id` always (malformed values are refused later,
    not silently dropped), `instance` only when it is meant as an instance id (not host:port)."""
    found = []
    if labels.get("instance_id"):
        found.append(labels["instance_id"])
    if labels.get("instance", "").startswith("i-"):
        found.append(labels["instance"])
    return tuple(found)


@dataclass(frozen=True)
class PastAction:
    """One earlier remediation on the incident's targets; succeeded None = outcome unknown."""

    at: datetime
    action: str
    succeeded: bool | None


@dataclass(frozen=True)
class TargetHistory:
    actions: tuple[PastAction, ...] = ()


@dataclass(frozen=True)
class Factor:
    name: str
    value: float
    weight: float
    contribution: float
    explanation: str


@dataclass(frozen=True)
class RiskAssessment:
    incident_id: str
    score: float
    factors: tuple[Factor, ...]
    decision: Decision
    freeze_window: str | None
    assessed_at: datetime

    def as_dict(self) -> dict:
        """Plain JSON-ready form for storage and the API."""
        return {
            "incident_id": self.incident_id,
            "score": round(self.score, 2),
            "decision": self.decision.value,
            "freeze_window": self.freeze_window,
            "assessed_at": self.assessed_at.isoformat(),
            "factors": [
                {
                    "name": f.name,
                    "value": round(f.value, 4),
                    "weight": round(f.weight, 4),
                    "contribution": round(f.contribution, 2),
                    "explanation": f.explanation,
                }
                for f in self.factors
            ],
        }


def assess(
    incident: IncidentFacts, history: TargetHistory, policy: Policy, now: datetime
) -> RiskAssessment:
    """Score the incident, explain the score factor by factor, and decide what may happen."""
    freeze_window = policy.change_freeze.active_window(now)
    raw = _raw_factors(incident, history, policy.risk, now, freeze_window)
    factors = _weigh(raw, policy.risk)
    score = min(100.0, math.fsum(f.contribution for f in factors))
    decision = decide(score, policy.risk.thresholds)
    if any(r.name == LEARNED for r in raw):
        # Learning may only raise the bar: a good track record never lowers the decision
        # below what the same incident would get without it.
        unlearned = _weigh([r for r in raw if r.name != LEARNED], policy.risk)
        without = min(100.0, math.fsum(f.contribution for f in unlearned))
        decision = decision.at_least(decide(without, policy.risk.thresholds))
    if freeze_window is not None:
        # A freeze never relaxes a decision: it forces at least what the policy says.
        decision = decision.at_least(policy.change_freeze.decision)
    return RiskAssessment(incident.incident_id, score, factors, decision, freeze_window, now)


def decide(score: float, thresholds: DecisionThresholds) -> Decision:
    """Map a score to auto / needs approval / notify only."""
    if score < thresholds.auto_below:
        return Decision.AUTO
    if score < thresholds.notify_at:
        return Decision.NEEDS_APPROVAL
    return Decision.NOTIFY_ONLY


@dataclass(frozen=True)
class _Raw:
    name: str
    value: float
    explanation: str


def _raw_factors(
    incident: IncidentFacts,
    history: TargetHistory,
    policy: RiskPolicy,
    now: datetime,
    freeze_window: str | None,
) -> list[_Raw]:
    factors = [
        _severity(incident, policy),
        _tier(incident, policy),
        _blast_radius(incident, policy),
    ]
    anomaly = _anomaly(incident, policy)
    if anomaly is not None:
        factors.insert(1, anomaly)
    factors += [_flapping(history, policy, now), _failures(history, policy, now)]
    learned = _learned(incident)
    if learned is not None:
        factors.append(learned)
    factors.append(_freeze(freeze_window))
    return factors


LEARNED = "learned_failure"


def _learned(incident: IncidentFacts) -> _Raw | None:
    """The chance that the planned action does not fix it; absent until something was tried."""
    learned = incident.learned
    if learned is None or learned.tried <= 0:
        return None
    return _Raw(LEARNED, _clamp(1.0 - learned.probability), learned.explanation)


def _weigh(raw: list[_Raw], policy: RiskPolicy) -> tuple[Factor, ...]:
    weights = {r.name: getattr(policy.weights, r.name) for r in raw}
    total = math.fsum(weights.values())
    factors = []
    for r in raw:
        share = weights[r.name] / total if total > 0 else 0.0
        factors.append(Factor(r.name, r.value, share, 100.0 * share * r.value, r.explanation))
    return tuple(factors)


def _clamp(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def _severity(incident: IncidentFacts, policy: RiskPolicy) -> _Raw:
    level = incident.severity.strip().lower()
    value = policy.severity_levels.get(level, policy.unknown_severity)
    shown = level or "(none)"
    known = "" if level in policy.severity_levels else " (unknown severity, default level)"
    return _Raw("severity", value, f"severity {shown!r} maps to {value:.2f}{known}")


def _anomaly(incident: IncidentFacts, policy: RiskPolicy) -> _Raw | None:
    scores = [_clamp(s) for s in incident.anomaly_scores if not math.isnan(s)]
    if not scores:
        return None
    peak, mean = max(scores), math.fsum(scores) / len(scores)
    share = policy.anomaly_max_share
    value = _clamp(share * peak + (1 - share) * mean)
    return _Raw(
        "anomaly", value, f"max anomaly {peak:.2f}, mean {mean:.2f} over {len(scores)} scores"
    )


def _tier(incident: IncidentFacts, policy: RiskPolicy) -> _Raw:
    value = policy.tier_levels.get(incident.service_tier, 1.0)
    return _Raw("tier", value, f"tier {incident.service_tier} service {incident.service!r}")


def _blast_radius(incident: IncidentFacts, policy: RiskPolicy) -> _Raw:
    affected = len(set(incident.targets))
    fleet = max(incident.fleet_size, 1)
    share = min(1.0, affected / fleet)
    breadth = min(1.0, affected / policy.blast_radius_target_saturation)
    value = _clamp(0.5 * share + 0.5 * breadth)
    return _Raw(
        "blast_radius", value, f"{affected} target(s) affected, {share:.0%} of a fleet of {fleet}"
    )


def _recent(history: TargetHistory, now: datetime, window_s: float) -> list[PastAction]:
    return [a for a in history.actions if 0 <= (now - a.at).total_seconds() <= window_s]


def _flapping(history: TargetHistory, policy: RiskPolicy, now: datetime) -> _Raw:
    count = len(_recent(history, now, policy.flapping_window_s))
    value = _clamp(count / policy.flapping_saturation)
    window = int(policy.flapping_window_s)
    return _Raw("flapping", value, f"{count} action(s) on these targets in the last {window}s")


def _failures(history: TargetHistory, policy: RiskPolicy, now: datetime) -> _Raw:
    recent = _recent(history, now, policy.failure_lookback_s)
    count = sum(1 for a in recent if a.succeeded is False)
    value = _clamp(count / policy.failure_saturation)
    window = int(policy.failure_lookback_s)
    return _Raw("recent_failures", value, f"{count} failed action(s) in the last {window}s")


def _freeze(window: str | None) -> _Raw:
    if window is None:
        return _Raw("change_freeze", 0.0, "no change freeze active")
    return _Raw("change_freeze", 1.0, f"change freeze {window!r} active")
