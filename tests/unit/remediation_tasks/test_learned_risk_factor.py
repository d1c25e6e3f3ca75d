"""Assessment asks what outcomes say about the action its rule would run, and stores it as a factor."""

from __future__ import annotations

from dataclasses import replace

from remediation_tasks_support import NOW, open_incident

from pipeline.learning.outcomes import Signature
from pipeline.risk import LearnedFix
from services import remediation as flow


class Learned:
    def __init__(self, probability: float) -> None:
        self.probability, self.asked = probability, []

    def learned_fix(self, signature: Signature, action: str) -> LearnedFix | None:
        self.asked.append((signature, action))
        return LearnedFix(action, self.probability, 7, f"{action} fixed 0 of 7 {signature.describe()}")


def assessed(rt):  # type: ignore[no-untyped-def]
    incident_id = open_incident(rt, "InstanceDown")
    flow.assess_incident(rt, incident_id=incident_id, event_id=f"a-{incident_id}", trace_id="t" * 32, now=NOW)
    return incident_id, rt.queries.for_incident(incident_id)


def test_the_rules_action_is_looked_up_and_its_failure_rate_weighs_in(make_runtime) -> None:
    learning = Learned(0.0)
    rt = replace(make_runtime(), learning=learning)
    incident_id, page = assessed(rt)
    [(signature, action)] = learning.asked
    assert action == "ec2_reboot" and signature.alertname == "InstanceDown"
    [risk] = page["risk"]
    factor = next(f for f in risk["factors"] if f["name"] == "learned_failure")
    assert factor["value"] == 1.0 and factor["explanation"].startswith("ec2_reboot fixed 0 of 7")


def test_without_learning_the_assessment_has_no_learned_factor(make_runtime) -> None:
    _, page = assessed(make_runtime())
    assert "learned_failure" not in [f["name"] for f in page["risk"][0]["factors"]]
