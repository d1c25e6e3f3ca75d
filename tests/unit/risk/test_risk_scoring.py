"""Risk scores explain themselves, stay in [0, 100], and only rise with danger."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy import Decision, Policy
from pipeline.risk import IncidentFacts, PastAction, TargetHistory, assess

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
BASE_POLICY = {
    "approvals": {"roles": ["sre-oncall"]},
    "actions": {"ec2_reboot": {}},
    "risk": {"thresholds": {"auto_below": 40, "notify_at": 80}},
}


def _policy(**risk) -> Policy:
    return Policy.model_validate({**BASE_POLICY, "risk": {**BASE_POLICY["risk"], **risk}})


POLICY = _policy()


def _facts(**fields) -> IncidentFacts:
    base = IncidentFacts(
        incident_id="1",
        service="search",
        alertname="InstanceDown",
        severity="warning",
        service_tier=2,
        fleet_size=10,
        targets=("i-0000000000000aaa1",),
    )
    return replace(base, **fields)


def _factor(assessment, name):
    return next(f for f in assessment.factors if f.name == name)


def test_contributions_sum_to_the_score_and_weights_to_one() -> None:
    result = assess(_facts(anomaly_scores=(0.9, 0.1)), TargetHistory(), POLICY, NOW)
    assert math.isclose(sum(f.contribution for f in result.factors), result.score)
    assert math.isclose(sum(f.weight for f in result.factors), 1.0)
    assert [f.name for f in result.factors] == [
        "severity",
        "anomaly",
        "tier",
        "blast_radius",
        "flapping",
        "recent_failures",
        "change_freeze",
    ]


def test_a_known_incident_scores_as_the_weights_say() -> None:
    # weights 3,2,2,2,1.5,1.5,1 (sum 13); values: warning 0.5, anomaly 0.6*0.9+0.4*0.5=0.74,
    # tier 2 -> 0.6, blast radius 0.5*(1/10)+0.5*(1/5)=0.15, no history, no freeze.
    result = assess(_facts(anomaly_scores=(0.9, 0.1)), TargetHistory(), POLICY, NOW)
    expected = 100 * (3 * 0.5 + 2 * 0.74 + 2 * 0.6 + 2 * 0.15) / 13
    assert result.score == pytest.approx(expected)
    assert result.decision is Decision.AUTO
    assert _factor(result, "anomaly").explanation == "max anomaly 0.90, mean 0.50 over 2 scores"


def test_without_anomaly_scores_the_factor_is_omitted_and_weights_renormalised() -> None:
    result = assess(_facts(anomaly_scores=()), TargetHistory(), POLICY, NOW)
    assert "anomaly" not in [f.name for f in result.factors]
    assert _factor(result, "severity").weight == pytest.approx(3 / 11)
    assert math.isclose(sum(f.contribution for f in result.factors), result.score)


def test_nan_anomaly_scores_count_as_absent() -> None:
    result = assess(_facts(anomaly_scores=(float("nan"),)), TargetHistory(), POLICY, NOW)
    assert "anomaly" not in [f.name for f in result.factors]


def test_flapping_and_earlier_failures_raise_the_score() -> None:
    calm = assess(_facts(), TargetHistory(), POLICY, NOW)
    history = TargetHistory(
        (
            PastAction(NOW - timedelta(minutes=10), "ec2_reboot", True),
            PastAction(NOW - timedelta(minutes=40), "ec2_reboot", False),
            PastAction(NOW - timedelta(days=3), "ec2_reboot", False),  # outside both windows
        )
    )
    flapping = assess(_facts(), history, POLICY, NOW)
    assert _factor(flapping, "flapping").value == pytest.approx(2 / 3)
    assert _factor(flapping, "recent_failures").value == pytest.approx(1 / 2)
    assert flapping.score > calm.score


def test_thresholds_decide_auto_approval_and_notify() -> None:
    assert (
        assess(_facts(severity="info", service_tier=3), TargetHistory(), POLICY, NOW).decision
        is Decision.AUTO
    )
    critical = _facts(
        severity="critical",
        service_tier=1,
        anomaly_scores=(1.0,),
        targets=("a", "b", "c", "d", "e"),
    )
    assert assess(critical, TargetHistory(), POLICY, NOW).decision is Decision.NEEDS_APPROVAL
    hot = TargetHistory(
        tuple(PastAction(NOW - timedelta(minutes=m), "ec2_reboot", False) for m in (1, 2, 3))
    )
    assert assess(critical, hot, POLICY, NOW).decision is Decision.NOTIFY_ONLY


def test_an_active_freeze_forces_at_least_approval() -> None:
    frozen = Policy.model_validate(
        {
            **BASE_POLICY,
            "change_freeze": {
                "windows": [
                    {
                        "name": "release",
                        "kind": "dates",
                        "starts_at": "2026-03-04T00:00:00",
                        "ends_at": "2026-03-05T00:00:00",
                    }
                ]
            },
        }
    )
    result = assess(_facts(severity="info", service_tier=3), TargetHistory(), frozen, NOW)
    assert result.decision is Decision.NEEDS_APPROVAL
    assert result.freeze_window == "release"
    assert _factor(result, "change_freeze").value == 1.0
    later = assess(
        _facts(severity="info", service_tier=3), TargetHistory(), frozen, NOW + timedelta(days=1)
    )
    assert later.decision is Decision.AUTO and later.freeze_window is None


def test_weekly_freeze_across_midnight_uses_the_windows_timezone() -> None:
    window = {
        "name": "night",
        "kind": "weekly",
        "timezone": "America/New_York",
        "days": ["tue"],
        "start": "22:00",
        "end": "06:00",
    }
    frozen = Policy.model_validate(
        {**BASE_POLICY, "change_freeze": {"decision": "notify_only", "windows": [window]}}
    )
    # 10:00 UTC on Wednesday is 05:00 in New York: still inside Tuesday night's window.
    assert assess(_facts(), TargetHistory(), frozen, NOW).decision is Decision.NOTIFY_ONLY
    assert (
        assess(_facts(), TargetHistory(), frozen, NOW + timedelta(hours=1)).decision
        is Decision.AUTO
    )


def test_unknown_severity_uses_the_policy_default_and_says_so() -> None:
    result = assess(_facts(severity="page-me"), TargetHistory(), POLICY, NOW)
    factor = _factor(result, "severity")
    assert factor.value == 0.5 and "unknown severity" in factor.explanation


def test_assessment_serialises_for_storage() -> None:
    stored = assess(_facts(), TargetHistory(), POLICY, NOW).as_dict()
    assert stored["decision"] == "auto" and stored["assessed_at"] == NOW.isoformat()
    assert {f["name"] for f in stored["factors"]} >= {"severity", "tier", "blast_radius"}


# ------------------------------------------------------------ properties

SEVERITIES = ["info", "warning", "error", "critical"]  # ascending in the default policy
scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
incidents = st.builds(
    lambda sev, tier, fleet, n, anomalies: _facts(
        severity=sev,
        service_tier=tier,
        fleet_size=fleet,
        targets=tuple(f"i-{i:017x}" for i in range(n)),
        anomaly_scores=tuple(anomalies),
    ),
    st.sampled_from(SEVERITIES),
    st.integers(1, 3),
    st.integers(1, 50),
    st.integers(0, 60),
    st.lists(scores, max_size=8),
)
histories = st.builds(
    lambda ages, outcomes: TargetHistory(
        tuple(
            PastAction(NOW - timedelta(seconds=age), "ec2_reboot", ok)
            for age, ok in zip(ages, outcomes, strict=False)
        )
    ),
    st.lists(st.integers(0, 200_000), max_size=6),
    st.lists(st.sampled_from([True, False, None]), max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(incidents, histories)
def test_score_stays_within_0_and_100_and_is_the_sum_of_contributions(incident, history) -> None:
    result = assess(incident, history, POLICY, NOW)
    assert 0.0 <= result.score <= 100.0
    assert math.isclose(sum(f.contribution for f in result.factors), result.score, abs_tol=1e-9)
    assert all(0.0 <= f.value <= 1.0 for f in result.factors)


@settings(max_examples=200, deadline=None)
@given(incidents, histories, st.sampled_from(SEVERITIES))
def test_more_severe_never_lowers_the_score(incident, history, other) -> None:
    low, high = sorted([incident.severity, other], key=SEVERITIES.index)
    assert (
        assess(replace(incident, severity=high), history, POLICY, NOW).score
        >= assess(replace(incident, severity=low), history, POLICY, NOW).score
    )


@settings(max_examples=200, deadline=None)
@given(incidents, histories, st.lists(scores, min_size=1, max_size=8), st.data())
def test_more_anomalous_never_lowers_the_score(incident, history, base, data) -> None:
    bumps = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(base), max_size=len(base)))
    raised = tuple(min(1.0, s + b) for s, b in zip(base, bumps, strict=True))
    calmer = assess(replace(incident, anomaly_scores=tuple(base)), history, POLICY, NOW)
    wilder = assess(replace(incident, anomaly_scores=raised), history, POLICY, NOW)
    assert wilder.score >= calmer.score - 1e-9


@settings(max_examples=200, deadline=None)
@given(incidents, histories, st.integers(0, 30))
def test_wider_blast_radius_never_lowers_the_score(incident, history, extra) -> None:
    wider = incident.targets + tuple(f"i-{i:017x}" for i in range(1000, 1000 + extra))
    assert (
        assess(replace(incident, targets=wider), history, POLICY, NOW).score
        >= assess(incident, history, POLICY, NOW).score - 1e-9
    )


@settings(max_examples=100, deadline=None)
@given(incidents, histories)
def test_more_critical_tier_never_lowers_the_score(incident, history) -> None:
    tier1 = assess(replace(incident, service_tier=1), history, POLICY, NOW).score
    tier3 = assess(replace(incident, service_tier=3), history, POLICY, NOW).score
    assert tier1 >= tier3


# ------------------------------------------------------------ facts from alerts


class _Alert:
    def __init__(self, **labels: str) -> None:
        self.labels = labels


def test_facts_from_alerts_take_the_most_severe_level_and_every_named_instance() -> None:
    from pipeline.catalog import Catalog

    catalog = Catalog.model_validate({"services": [{"name": "search", "tier": 2, "fleet_size": 6}]})
    facts = IncidentFacts.from_alerts(
        catalog,
        incident_id="9",
        alerts=[
            _Alert(
                alertname="InstanceDown",
                service="search",
                severity="warning",
                instance_id="i-0000000000000aaa1",
            ),
            _Alert(
                alertname="InstanceDown",
                service="search",
                severity="critical",
                instance="i-0000000000000aaa2",
            ),
            _Alert(
                alertname="InstanceDown",
                service="search",
                severity="info",
                instance="10.0.0.7:9100",
            ),
        ],
    )
    assert (facts.severity, facts.service_tier, facts.fleet_size) == ("critical", 2, 6)
    assert facts.targets == ("i-0000000000000aaa1", "i-0000000000000aaa2")


def test_malformed_instance_labels_are_kept_so_planning_refuses_them() -> None:
    from pipeline.catalog import Catalog

    catalog = Catalog.model_validate({"services": [{"name": "search"}]})
    facts = IncidentFacts.from_alerts(
        catalog,
        incident_id="9",
        alerts=[
            _Alert(alertname="InstanceDown", service="search", instance_id="i-1;reboot"),
        ],
    )
    assert facts.targets == ("i-1;reboot",)


def test_unknown_service_is_scored_as_most_critical() -> None:
    from pipeline.catalog import Catalog

    catalog = Catalog.model_validate({"services": [{"name": "search"}]})
    facts = IncidentFacts.from_catalog(
        catalog, incident_id="9", service="mystery", alertname="X", labels={}
    )
    assert facts.service_tier == 1
