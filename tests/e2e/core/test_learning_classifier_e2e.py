"""The running server and worker load a chosen outcome classifier: the incident page and the chat's
"why?" give the advice in its order, counted and explained by the rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.schema import alerts, incidents
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import remediation_runs
from adapters.remediation_model import write_model
from pipeline.learning.classifier import OutcomeClassifier
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Signature
from smartcloudops.demo_payloads import alert, webhook
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

NOW = datetime.now(UTC).replace(microsecond=0)
CPU = Signature("HighCPU", "checkout", "critical", 1)
ACTIONS = ("asg_set_desired_capacity", "ec2_reboot", "ec2_start", "ssm_run_command")


def chosen_model(folder) -> None:
    """A classifier that learnt only a reboot fixes HighCPU on checkout, chosen by its training run."""
    contexts = [IncidentContext(f"h{i}", NOW - timedelta(days=30, hours=i), CPU) for i in range(160)]
    actions = [ACTIONS[i % len(ACTIONS)] for i in range(160)]
    fixed = [a == "ec2_reboot" or i % 17 == 0 for i, a in enumerate(actions)]
    write_model(folder, OutcomeClassifier.fit(contexts, actions, fixed), learner="classifier",
                reason="lower Brier on the later training weeks", strength=5.0, trained_on=160, simulated=True,
                validation_brier={"rates": 0.2, "classifier": 0.1})


def a_record(engine) -> None:
    """Executed runs judged earlier: scaling out fixed 3 of 4 HighCPU incidents on checkout, a reboot 0 of 1
    (each worker refits the rates at most once a minute, so the record is there before the alert)."""
    with engine.begin() as conn:
        incident_id = conn.execute(incidents.insert().values(
            correlation_key="past", alertname="HighCPU", service="checkout", severity="critical",
            status="resolved", opened_at=NOW - timedelta(days=2), last_seen_at=NOW - timedelta(days=1),
            resolved_at=NOW - timedelta(days=1), created_at=NOW, updated_at=NOW,
        )).inserted_primary_key[0]
    for n, (action, fixed) in enumerate([("asg_set_desired_capacity", True)] * 3
                                        + [("asg_set_desired_capacity", False), ("ec2_reboot", False)]):
        with engine.begin() as conn:
            run_id = conn.execute(remediation_runs.insert().values(
                plan_id=f"past-{n}", incident_id=incident_id, service="checkout", decision="auto",
                mode="execute", plan={"steps": []}, state="succeeded", created_at=NOW, updated_at=NOW,
            )).inserted_primary_key[0]
            conn.execute(remediation_outcomes.insert().values(
                run_id=run_id, incident_id=incident_id, alertname="HighCPU", service="checkout",
                severity="critical", tier=1, action=action, mode="execute", run_state="succeeded",
                finished_at=NOW - timedelta(days=1), horizon_s=900.0, resolved=fixed,
                resolved_at=NOW - timedelta(hours=20) if fixed else None, worsened=False,
                recurred=False if fixed else None, final=True, judged_at=NOW,
            ))


def test_a_chosen_classifier_orders_the_advice_in_the_server_and_the_chat(redis_url, pg_url, tmp_path) -> None:
    chosen_model(tmp_path / "model")
    pipeline = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url, "SCO_REDIS_URL": redis_url,
                             "SCO_REMEDIATION_MODEL_PATH": str(tmp_path / "model"),
                             "SCO_OUTCOME_SWEEP_INTERVAL_S": "0"}, workdir=tmp_path)
    engine = create_engine(pg_url)
    try:
        server = pipeline.start_server()
        pipeline.start_worker()
        a_record(engine)
        with pipeline.client() as client:
            body = alert("HighCPU", "checkout", "checkout-1:9100", status="firing", starts_at=NOW - timedelta(minutes=2))
            assert client.post("/v1/alerts/alertmanager", json=webhook([body])).status_code == 202

            def incident() -> int | None:
                with engine.connect() as conn:
                    return conn.execute(sa.select(alerts.c.incident_id)).scalar()

            wait_for(lambda: incident() is not None, 60, f"no incident\n{pipeline.logs()}")
            incident_id = incident()
            wait_for(lambda: client.get(f"/v1/incidents/{incident_id}").json()["remediation"], 60,
                     f"no run planned\n{pipeline.logs()}")

            advice = client.get(f"/v1/incidents/{incident_id}").json()["advice"]
            assert advice[0]["action"] == "ec2_reboot" and advice[0]["ranked_by"] == "classifier"
            assert advice[0]["explanation"].startswith("ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout")
            assert sorted(a["action"] for a in advice) == sorted(ACTIONS)
            assert "learning.classifier_used" in server.output()

            answer = client.post("/v1/chat/command", json={"channel": "C0OPS", "text": f"why {incident_id}",
                                                            "wait": 30})
            assert answer.status_code == 200, answer.text
            text = str(answer.json()["answer"])
            assert "Ranked by the outcome classifier; counts from the rates:" in text
            assert "1. ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout" in text
    finally:
        pipeline.stop_all()
        engine.dispose()
