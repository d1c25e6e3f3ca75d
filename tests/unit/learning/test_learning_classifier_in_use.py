"""The running system ranks advice with the exported classifier only when its training run chose it
and its graph is the one its sidecar describes; otherwise it says why and the rates rank."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.incident_context import IncidentContexts, anomaly_by_kind
from adapters.db.outcome_store import LearnedRates
from adapters.db.schema_anomaly import incident_anomaly
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import remediation_runs
from adapters.remediation_model import ONNX_FILE, write_model
from config.policy import load_remediation_config
from config.settings import load_settings
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch, AlertReceived
from pipeline.learning.classifier import OutcomeClassifier
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Signature
from pipeline.risk import IncidentFacts, TargetHistory, assess
from services.remediation import _learned_fix
from smartcloudops.bootstrap import advisor_for, build_remediation, remediation_classifier, remediation_learner

NOW = datetime.now(UTC).replace(microsecond=0)
CPU = Signature("HighCPU", "checkout", "", 1)
CHECKOUT_ACTIONS = ("asg_set_desired_capacity", "ec2_reboot", "ec2_start", "ssm_run_command")
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def reboot_classifier() -> OutcomeClassifier:
    """Learnt from a history where only a reboot fixed a HighCPU incident on checkout."""
    contexts, actions, fixed = [], [], []
    for i in range(240):
        context = IncidentContext(f"h{i}", NOW - timedelta(days=30, hours=i), CPU, anomaly={"cpu": (i % 10) / 10})
        action = CHECKOUT_ACTIONS[i % len(CHECKOUT_ACTIONS)]
        contexts.append(context)
        actions.append(action)
        fixed.append(action == "ec2_reboot" or i % 17 == 0)
    return OutcomeClassifier.fit(contexts, actions, fixed)


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


def model(folder: Path, classifier: OutcomeClassifier, learner: str) -> Path:
    reason = ("lower Brier on the later training weeks" if learner == "classifier"
              else "the classifier was not better on the later training weeks")
    write_model(folder, classifier, learner=learner, reason=reason, strength=5.0, trained_on=240,
                simulated=True, validation_brier={"rates": 0.2, "classifier": 0.1 if learner == "classifier" else 0.3})
    return folder


def open_incident(engine, alertname: str = "HighCPU", service: str = "checkout", at: datetime = NOW) -> int:
    n = next(_ids)
    alert = AlertReceived(event_id=f"ev-{n}", fingerprint=f"fp-{n}", status="firing",
                          labels={"alertname": alertname, "service": service}, annotations={},
                          starts_at=at, ends_at=None, generator_url="", group_key="g", receiver="r")
    outcome = AlertStore(engine, CorrelationPolicy()).record_batch(
        AlertBatch((alert,), "g", "r", 0, ""), trace_id="t", now=at)
    return outcome.opened[0]


def a_run(engine, incident_id: int, state: str = "succeeded", mode: str = "execute") -> int:
    with engine.begin() as conn:
        return conn.execute(remediation_runs.insert().values(
            plan_id=f"plan-{next(_ids)}", incident_id=incident_id, service="checkout", decision="auto",
            mode=mode, plan={"steps": []}, state=state, created_at=NOW, updated_at=NOW,
        )).inserted_primary_key[0]


def record(engine) -> int:
    """Rates that favour scaling out (3 of 4) over a reboot (0 of 1), each the first attempt on an
    earlier incident of its own (learners count first attempts only); the incident to advise on."""
    for n, (action, fixed) in enumerate([("asg_set_desired_capacity", True)] * 3
                                        + [("asg_set_desired_capacity", False), ("ec2_reboot", False)]):
        past = open_incident(engine, "DiskFull", f"past-{n}", at=NOW - timedelta(days=2))
        run_id = a_run(engine, past)
        with engine.begin() as conn:
            conn.execute(remediation_outcomes.insert().values(
                run_id=run_id, incident_id=past, alertname="HighCPU", service="checkout", severity="",
                tier=1, action=action, mode="execute", run_state="succeeded",
                finished_at=NOW - timedelta(days=1), horizon_s=900.0, resolved=fixed,
                resolved_at=NOW - timedelta(hours=20) if fixed else None, worsened=False,
                recurred=False if fixed else None, final=True, judged_at=NOW,
            ))
    incident_id = open_incident(engine)
    a_run(engine, incident_id, state="awaiting_approval", mode="dry_run")
    return incident_id


def advice(engine, settings, incident_id: int) -> list[dict]:
    catalog, policy = load_remediation_config(None, None)
    advise = advisor_for(catalog, policy, LearnedRates(engine), remediation_classifier(settings), engine)
    return advise(incident_id, "HighCPU", "checkout", "")


def test_a_chosen_classifier_ranks_the_advice_and_the_rates_still_explain_it(
    engine, reboot_classifier, tmp_path
) -> None:
    incident_id = record(engine)
    settings = load_settings(remediation_model_path=model(tmp_path / "m", reboot_classifier, "classifier"))
    with capture_logs() as logs:
        ranked = advice(engine, settings, incident_id)
    assert [e["action"] for e in ranked][0] == "ec2_reboot"
    assert {e["ranked_by"] for e in ranked} == {"classifier"}
    assert ranked[0]["classifier_probability"] > 0.5
    assert ranked[0]["explanation"].startswith("ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout")
    assert sorted(e["action"] for e in ranked) == sorted(CHECKOUT_ACTIONS)  # reordered, never added
    assert any(log["event"] == "learning.classifier_used" for log in logs)
    # The worker's read model (and so the chat's "why?") ranks the same way.
    page = build_remediation(settings, engine).queries.for_incident(incident_id)
    assert page["advice"][0]["action"] == "ec2_reboot" and page["advice"][0]["ranked_by"] == "classifier"


def test_a_classifier_its_training_run_did_not_choose_is_not_used_and_the_log_says_why(
    engine, reboot_classifier, tmp_path
) -> None:
    incident_id = record(engine)
    settings = load_settings(remediation_model_path=model(tmp_path / "m", reboot_classifier, "rates"))
    with capture_logs() as logs:
        ranked = advice(engine, settings, incident_id)
    assert ranked[0]["action"] == "asg_set_desired_capacity" and {e["ranked_by"] for e in ranked} == {"rates"}
    assert all(e["classifier_probability"] is None for e in ranked)
    [why] = [log for log in logs if log["event"] == "learning.classifier_not_used"]
    assert why["chosen"] == "rates" and "not better on the later training weeks" in why["reason"]


def test_a_graph_that_is_not_the_one_its_sidecar_describes_is_not_used(engine, reboot_classifier, tmp_path) -> None:
    incident_id = record(engine)
    folder = model(tmp_path / "m", reboot_classifier, "classifier")
    (folder / ONNX_FILE).write_bytes((folder / ONNX_FILE).read_bytes() + b"\0")
    with capture_logs() as logs:
        ranked = advice(engine, load_settings(remediation_model_path=folder), incident_id)
    assert {e["ranked_by"] for e in ranked} == {"rates"}
    [why] = [log for log in logs if log["event"] == "learning.classifier_not_used"]
    assert "SHA-256" in why["reason"]


def test_the_classifier_never_reaches_the_risk_score_or_the_approval(engine, reboot_classifier, tmp_path) -> None:
    """Only learner (a) feeds the risk factor, so loading a classifier changes no decision."""
    record(engine)
    plain = build_remediation(load_settings(), engine)
    with_model = build_remediation(
        load_settings(remediation_model_path=model(tmp_path / "m", reboot_classifier, "classifier")), engine)
    facts = IncidentFacts(incident_id="9", service="checkout", alertname="HighCPU", severity="",
                          service_tier=1, fleet_size=4, targets=("i-0a1b2c3d4e5f60001",))
    learned = _learned_fix(with_model, facts)
    assert learned == _learned_fix(plain, facts) and learned.action == "asg_set_desired_capacity"
    policy = with_model.policy
    assert (assess(_with(facts, learned), TargetHistory(), policy, NOW).decision
            == assess(_with(facts, _learned_fix(plain, facts)), TargetHistory(), policy, NOW).decision)


def _with(facts: IncidentFacts, learned) -> IncidentFacts:
    from dataclasses import replace

    return replace(facts, learned=learned)


def test_the_incident_is_read_as_the_classifier_sees_it(engine) -> None:
    earlier = open_incident(engine, at=NOW - timedelta(minutes=40))
    with engine.begin() as conn:  # the earlier firing resolved, so the next one opens a new incident
        conn.execute(sa.text("UPDATE incidents SET status='resolved', resolved_at=:at WHERE id=:id"),
                     {"at": NOW - timedelta(minutes=30), "id": earlier})
    incident_id = open_incident(engine)
    assert incident_id != earlier
    with engine.begin() as conn:
        conn.execute(incident_anomaly.insert().values(
            incident_id=incident_id, max_score=0.9, mean_score=0.4, points=10, anomalous_points=3,
            series_count=3, window_start=NOW, window_end=NOW, digest="d", updated_at=NOW,
            top_series=[{"name": "container_memory_used_percent", "max_score": 0.9},
                        {"name": "node_cpu_seconds_total", "max_score": 0.4},
                        {"name": "up", "max_score": 0.8}],
        ))
    context = IncidentContexts(engine).context(incident_id, CPU)
    assert context.anomaly == {"memory": 0.9, "cpu": 0.4}
    assert context.flaps_last_hour == 1 and context.recent_actions == 0 and context.hours_since_change is None
    assert IncidentContexts(engine).context(10_000, CPU) is None
    assert anomaly_by_kind([{"name": "http_request_duration_seconds", "score": 0.7}, "junk"]) == {"latency": 0.7}


def test_a_classifier_that_fails_to_score_leaves_the_ranking_to_the_rates(engine) -> None:
    from pipeline.learning.features import FeatureSpace

    def broken(rows):
        raise RuntimeError("onnxruntime: invalid input")

    incident_id = record(engine)
    catalog, policy = load_remediation_config(None, None)
    classifier = OutcomeClassifier(FeatureSpace(("HighCPU",), CHECKOUT_ACTIONS), None, broken)
    with capture_logs() as logs:
        ranked = advisor_for(catalog, policy, LearnedRates(engine), classifier, engine)(
            incident_id, "HighCPU", "checkout", "")
    assert ranked[0]["action"] == "asg_set_desired_capacity" and {e["ranked_by"] for e in ranked} == {"rates"}
    assert [log["event"] for log in logs if log["event"].startswith("learning.")] == ["learning.classifier_failed"]


def test_when_the_training_run_chose_the_rule_the_plan_comes_first_and_learning_reorders_nothing(
    engine, reboot_classifier, tmp_path
) -> None:
    incident_id = record(engine)  # the rates favour scaling out; the rule planned a reboot
    settings = load_settings(remediation_model_path=model(tmp_path / "m", reboot_classifier, "rule"))
    catalog, policy = load_remediation_config(None, None)
    with capture_logs() as logs:
        learner, classifier = remediation_learner(settings)
        advise = advisor_for(catalog, policy, LearnedRates(engine), classifier, engine, rule_order=learner == "rule")
        ranked = advise(incident_id, "HighCPU", "checkout", "", planned=("rds_reboot", "ec2_reboot"))
    assert (learner, classifier) == ("rule", None)
    # The plan's reboot first (rds_reboot is nothing checkout can take: never added), the rest as the policy lists them.
    assert [e["action"] for e in ranked] == ["ec2_reboot", "ec2_start", "asg_set_desired_capacity", "ssm_run_command"]
    assert {e["ranked_by"] for e in ranked} == {"rule"}
    assert ranked[2]["explanation"].startswith("asg_set_desired_capacity fixed 3 of 4")  # the rates still explain
    [why] = [log for log in logs if log["event"] == "learning.classifier_not_used"]
    assert why["chosen"] == "rule" and why["reason"].startswith("the training run chose the rule")


def test_the_worker_rates_use_the_prior_strength_the_training_run_chose(engine, reboot_classifier, tmp_path) -> None:
    from smartcloudops.bootstrap import learned_rates, trained_rates_strength

    folder = model(tmp_path / "m", reboot_classifier, "rates")
    sidecar = folder / "remediation.json"
    sidecar.write_text(sidecar.read_text().replace('"strength": 5.0', '"strength": 30'))
    assert trained_rates_strength(folder) == 30.0
    record(engine)  # ec2_reboot 1 of 4, asg_set_desired_capacity 3 of 4 on checkout (see `record`)
    chosen = learned_rates(load_settings(remediation_model_path=folder), engine).rates()
    default = learned_rates(load_settings(), engine).rates()
    assert chosen.strength == 30.0 and default.strength == LearnedRates(engine).rates().strength
    # Not a sidecar, or no usable strength in it: the learner's default.
    for text in ("not json", '{"strength": true}', '{"strength": -1}', "[]"):
        sidecar.write_text(text)
        assert trained_rates_strength(folder) is None
    assert trained_rates_strength(tmp_path / "missing") is None
