"""The chat handler: context across turns, roles, remediation only through its commands, idempotent writes."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from chat_bench import APPROVER, NOW, OPERATOR, RESPONSE_URL, VIEWER

from adapters.db.alert_store import AlertStore
from adapters.db.schema import audit_log
from adapters.db.schema_chat import silences
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch, AlertReceived
from pipeline.nlu import EMPTY_CONTEXT


def audit(bench, kind=None):
    with bench.engine.connect() as conn:
        rows = [
            json.loads(b)
            for b in conn.execute(sa.select(audit_log.c.body).order_by(audit_log.c.seq)).scalars()
        ]
    return [row for row in rows if kind is None or row["kind"] == kind]


def open_incident(bench, alertname="HighCPU", service="checkout", minutes_ago=5):
    alert = AlertReceived(
        event_id=f"ev-{alertname}-{service}",
        fingerprint=f"fp-{alertname}-{service}",
        status="firing",
        labels={"alertname": alertname, "service": service},
        annotations={},
        starts_at=NOW - timedelta(minutes=minutes_ago),
        ends_at=None,
        generator_url="",
        group_key="g",
        receiver="r",
    )
    outcome = AlertStore(bench.engine, CorrelationPolicy()).record_batch(
        AlertBatch((alert,), "g", "r", 0, ""), trace_id="t", now=NOW
    )
    return outcome.opened[0] if outcome.opened else None


def waiting_run(bench, incident_id, service="checkout"):
    """A run of `incident_id` paused for a human decision, as the risk task leaves it."""
    from adapters.db.schema_remediation import remediation_runs

    with bench.engine.begin() as conn:
        return conn.execute(
            remediation_runs.insert().values(
                plan_id=f"plan-{incident_id}", incident_id=incident_id, service=service,
                decision="needs_approval", mode="dry_run", plan={"steps": []},
                state="awaiting_approval", approval_deadline=NOW + timedelta(minutes=30),
                created_at=NOW, updated_at=NOW,
            )
        ).inserted_primary_key[0]


class TestContextAcrossTurns:
    def test_restart_it_after_status_of_checkout_requests_a_restart_of_checkout(self, bench):
        bench.say("status of checkout")
        answer = bench.say("restart it")

        [(task, event)] = bench.published
        assert task == "remediation.request"
        assert event.data["service"] == "checkout" and event.data["action"] == "restart"
        assert event.data["requested_by"] == OPERATOR and event.data["source"] == "chat"
        assert answer.context.last_service == "checkout"
        assert bench.responder.posted[-1][0] == RESPONSE_URL
        assert "Asked for restart of checkout" in bench.last_text()

    def test_a_remediation_asked_in_chat_names_the_chat_to_tell_but_never_audits_its_url(self, bench):
        bench.say("restart checkout")
        [(_, event)] = bench.published
        assert event.data["reply_to"] == RESPONSE_URL  # the worker tells the run's fate there
        with bench.engine.connect() as conn:
            bodies = " ".join(conn.execute(sa.select(audit_log.c.body)).scalars())
        assert "chat.remediation_requested" in bodies and RESPONSE_URL not in bodies

    def test_why_after_showing_an_incident_explains_that_incident(self, bench):
        incident_id = open_incident(bench)
        bench.say(f"show incident {incident_id}")
        bench.say("why?")

        message = bench.responder.posted[-1][1]
        assert message["blocks"][0]["text"]["text"].startswith(f"Incident #{incident_id}: HighCPU")
        assert "No risk assessment or anomaly evidence" in json.dumps(message)

    def test_deny_it_after_looking_at_an_incident_denies_that_incidents_remediation(self, bench):
        incident_id = open_incident(bench)
        waiting_run(bench, incident_id)
        bench.say(f"show incident {incident_id}", user=APPROVER)
        bench.say("deny it", user=APPROVER)

        [(task, event)] = bench.published
        assert task == "remediation.decide"
        assert event.data["incident_id"] == incident_id
        assert (event.data["approve"], event.data["approver"], event.data["role"]) == (
            False,
            APPROVER,
            "approver",
        )


class TestRoles:
    def test_a_viewer_asking_for_a_restart_is_refused_politely_audited_and_nothing_is_published(
        self, bench
    ):
        answer = bench.say("restart checkout", user=VIEWER)

        assert not answer.allowed
        assert bench.published == []
        assert "needs the *operator* role and you hold *viewer*" in json.dumps(answer.message)
        [row] = audit(bench, "chat.refused")
        assert row["actor"] == f"chat:{VIEWER}"
        assert row["data"]["intent"] == "remediate" and row["data"]["needed_role"] == "operator"
        assert answer.context == EMPTY_CONTEXT  # a refused line does not become what `it` means

    def test_an_operator_may_not_approve(self, bench):
        answer = bench.say("approve 42")

        assert not answer.allowed and bench.published == []
        assert audit(bench, "chat.refused")[0]["data"]["needed_role"] == "approver"

    def test_an_approver_approving_publishes_the_decision_with_identity_and_role(self, bench):
        incident_id = open_incident(bench)
        waiting_run(bench, incident_id)
        bench.say(f"approve {incident_id}", user=APPROVER)

        [(task, event)] = bench.published
        assert task == "remediation.decide"
        assert event.data == {
            "incident_id": incident_id,
            "approve": True,
            "decision": "approve",
            "approver": APPROVER,
            "actor": APPROVER,
            "role": "approver",
            "groups": [],
            "reason": f"via chat: approve {incident_id}",
            "reply_to": RESPONSE_URL,
        }
        assert [row["incident_id"] for row in audit(bench, "chat.decision_submitted")] == [incident_id]


class TestUnsafeText:
    def test_a_service_off_the_catalog_with_a_shell_tail_asks_back_and_does_nothing(self, bench):
        answer = bench.say("restart billing; rm -rf /")

        assert bench.published == [] and audit(bench) == []
        assert answer.context.last_service is None
        # A question back (`Remediate what?`) or help: never an action.
        assert answer.message["response_type"] == "ephemeral"

    def test_sql_looking_text_reaches_no_query_and_finds_no_incident(self, bench):
        incident_id = open_incident(bench)
        answer = bench.say("show incident ' OR 1=1 --")

        assert answer.message["response_type"] == "ephemeral"
        assert f"Incident #{incident_id}" not in json.dumps(answer.message)
        assert answer.context.last_incident is None

    def test_text_nobody_understands_is_answered_with_help(self, bench):
        answer = bench.say("what is the meaning of life")

        assert answer.intent == "unknown"
        assert "did not understand" in json.dumps(answer.message)


class TestWrites:
    def test_a_redelivered_command_acts_once_and_publishes_the_same_event_id(self, bench):
        command = bench.command("restart checkout")

        bench.handler.handle(command, NOW)
        bench.handler.handle(command, NOW)

        assert len(audit(bench, "chat.remediation_requested")) == 1
        first, second = (event for _, event in bench.published)
        assert first.id == second.id and first.data == second.data
        assert len(bench.responder.posted) == 2  # the answer may have been lost the first time

    def test_ack_marks_the_incident_and_a_second_ack_names_the_first(self, bench):
        incident_id = open_incident(bench)
        bench.say(f"ack {incident_id}")
        bench.say(f"ack {incident_id}", user=APPROVER)

        with bench.engine.connect() as conn:
            by = conn.execute(
                sa.text("SELECT acknowledged_by FROM incidents WHERE id = :i"), {"i": incident_id}
            ).scalar_one()
        assert by == f"chat:{OPERATOR}"
        assert f"already acknowledged by chat:{OPERATOR}" in bench.last_text()
        [row] = audit(bench, "incident.acknowledged")
        assert row["incident_id"] == incident_id

    def test_ack_of_a_missing_incident_says_so(self, bench):
        bench.say("ack 999")

        assert bench.last_text() == "Incident 999 does not exist"
        assert audit(bench, "incident.acknowledged") == []

    def test_escalate_records_the_target(self, bench):
        incident_id = open_incident(bench)
        bench.say(f"escalate {incident_id} to @db-team")

        [row] = audit(bench, "incident.escalated")
        assert row["incident_id"] == incident_id and row["data"]["target"].lstrip("@") == "db-team"
        [(task, event)] = bench.published  # issue 13 #8: escalate used to page no one
        assert task == "escalation.page_tier"
        assert event.data == {"incident_id": incident_id, "tier": None, "by": f"chat:{OPERATOR}"}


class TestSilences:
    def test_silence_for_2h_is_stored_mirrored_to_alertmanager_and_audited(self, bench):
        bench.say("silence HighCPU on checkout for 2h")

        with bench.engine.connect() as conn:
            row = conn.execute(sa.select(silences)).one()
        assert (row.alertname, row.service, row.alertmanager_id) == ("HighCPU", "checkout", "am-1")
        assert row.ends_at.replace(tzinfo=NOW.tzinfo) - NOW == timedelta(hours=2)
        assert bench.alertmanager.created[0]["alertname"] == "HighCPU"
        assert "Also silenced in Alertmanager" in bench.last_text()
        assert audit(bench, "silence.created")[0]["data"]["silence_id"] == row.id

    def test_a_silence_of_an_alert_the_catalog_does_not_list_is_kept_as_written(self, bench):
        """Issue 13 #5: the unknown name was dropped and every checkout alert was muted.

        Issue 15 #4: the name is first confirmed ("not an alert I know; silence it anyway?").
        """
        bench.say("silence HighQueueLatency on checkout for 2h")
        assert "HighQueueLatency is not an alert I know" in bench.last_text()
        with bench.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(silences)).scalar_one() == 0
        bench.say("yes")

        with bench.engine.connect() as conn:
            row = conn.execute(sa.select(silences)).one()
        assert (row.alertname, row.service) == ("HighQueueLatency", "checkout")
        assert "not in the catalog's alert list" in bench.last_text()
        assert "only alerts named exactly that" in bench.last_text()

    def test_a_silence_without_a_duration_lasts_an_hour(self, bench):
        bench.say("silence HighCPU on checkout")

        [active] = bench.silences.active_silences(NOW + timedelta(minutes=59))
        assert active.ends_at - NOW == timedelta(hours=1)

    def test_when_alertmanager_is_down_the_silence_still_holds_here_and_the_answer_says_so(
        self, bench
    ):
        bench.alertmanager.down = True
        bench.say("silence HighCPU on checkout for 30m")

        assert len(bench.silences.active_silences(NOW)) == 1
        assert "holds here only" in bench.last_text()

    def test_unsilence_ends_the_silence_here_and_in_alertmanager(self, bench):
        bench.say("silence HighCPU on checkout for 2h")
        bench.say("unsilence HighCPU on checkout", now=NOW + timedelta(minutes=10))

        assert bench.silences.active_silences(NOW + timedelta(minutes=11)) == []
        assert bench.alertmanager.expired == ["am-1"]
        assert "Ended 1 silence(s)" in bench.last_text()
        assert len(audit(bench, "silence.ended")) == 1

    def test_a_silenced_alert_opens_no_incident_but_an_unmatched_one_does(self, bench):
        bench.say("silence HighCPU on checkout for 2h")

        assert open_incident(bench, "HighCPU", "checkout", minutes_ago=0) is None
        assert open_incident(bench, "HighCPU", "payments", minutes_ago=0) is not None
        [row] = audit(bench, "alert.silenced")
        assert row["data"]["service"] == "checkout" and row["data"]["silence_id"] == 1


class TestEvidence:
    def test_why_shows_the_risk_factors_and_the_anomaly_evidence_from_the_store(self, bench):
        from adapters.db.schema_anomaly import incident_anomaly
        from adapters.db.schema_remediation import risk_assessments

        incident_id = open_incident(bench)
        factors = [
            {
                "name": "severity",
                "value": 1.0,
                "weight": 3.0,
                "contribution": 30.0,
                "explanation": "critical alert",
            },
            {
                "name": "tier",
                "value": 1.0,
                "weight": 2.0,
                "contribution": 20.0,
                "explanation": "tier 1 service",
            },
        ]
        top = [{"series_key": "k1", "name": "node_cpu_seconds_total", "max_score": 0.97}]
        with bench.engine.begin() as conn:
            conn.execute(
                risk_assessments.insert().values(
                    incident_id=incident_id,
                    event_id="risk-1",
                    score=50.0,
                    decision="needs_approval",
                    factors=factors,
                    assessed_at=NOW,
                )
            )
            conn.execute(
                incident_anomaly.insert().values(
                    incident_id=incident_id,
                    max_score=0.97,
                    mean_score=0.41,
                    points=120,
                    anomalous_points=9,
                    series_count=2,
                    top_series=top,
                    window_start=NOW,
                    window_end=NOW,
                    digest="d",
                    updated_at=NOW,
                )
            )

        answer = bench.say(f"why {incident_id}", user=VIEWER)

        text = json.dumps(answer.message)
        assert "50/100 (needs_approval)" in text
        assert "severity (+30): critical alert" in text and "tier (+20): tier 1 service" in text
        assert (
            "Anomaly score up to 0.97 (mean 0.41); 9 of 120 points anomalous over 2 series" in text
        )
        assert "node_cpu_seconds_total: score 0.97" in text

    def test_status_lists_the_highest_recent_anomaly_score_of_each_series_of_the_service(
        self, bench
    ):
        from adapters.db.schema_anomaly import anomaly_scores, anomaly_series

        with bench.engine.begin() as conn:
            conn.execute(
                anomaly_series.insert(),
                [
                    {
                        "series_key": "a",
                        "name": "latency",
                        "instance": "i-1",
                        "service": "checkout",
                        "labels": {},
                        "first_seen_at": NOW,
                    },
                    {
                        "series_key": "b",
                        "name": "cpu",
                        "instance": None,
                        "service": "payments",
                        "labels": {},
                        "first_seen_at": NOW,
                    },
                ],
            )
            conn.execute(
                anomaly_scores.insert(),
                [
                    {
                        "series_key": key,
                        "ts": NOW - timedelta(minutes=minutes),
                        "value": 1.0,
                        "score": score,
                        "is_anomaly": False,
                        "model_version": "m",
                        "labels": {},
                    }
                    for key, minutes, score in (
                        ("a", 5, 0.3),
                        ("a", 10, 0.8),
                        ("a", 90, 0.99),
                        ("b", 5, 0.9),
                    )
                ],
            )

        answer = bench.say("status of checkout", user=VIEWER)

        text = json.dumps(answer.message)
        assert (
            "`latency{i-1}` 0.80" in text
        )  # the 0.99 is older than an hour; payments' cpu is not shown
        assert "cpu" not in text


class TestRemediationSubject:
    def test_restart_it_after_showing_an_incident_restarts_its_service_for_that_incident(
        self, bench
    ):
        incident_id = open_incident(bench, service="payments")
        bench.say(f"show incident {incident_id}")
        bench.say("restart it")

        [(_, event)] = bench.published
        assert (event.data["service"], event.data["incident_id"]) == ("payments", incident_id)

    def test_a_restart_of_another_service_is_not_tied_to_the_incident_looked_at(self, bench):
        incident_id = open_incident(bench, service="payments")
        bench.say(f"show incident {incident_id}")
        bench.say("restart checkout")

        [(_, event)] = bench.published
        assert (event.data["service"], event.data["incident_id"]) == ("checkout", None)


class TestDelivery:
    def test_an_expired_response_url_is_logged_and_the_command_still_counts(self, bench):
        from pipeline.errors import PermanentError

        def refuse(url, message):
            raise PermanentError("response_url refused the answer: HTTP 404")

        bench.responder.post = refuse
        answer = bench.say("silence HighCPU on checkout for 2h")

        assert answer.intent == "silence"
        assert len(bench.silences.active_silences(NOW)) == 1


class TestApprovalsInChat:
    """Issue 13 #3: approvals land on the incident discussed, a bare yes needs a question, replies are true."""

    def test_approve_it_after_why_on_a_service_goes_to_the_incident_explained(self, bench):
        older = open_incident(bench, alertname="HighCPU", minutes_ago=9)
        newer = open_incident(bench, alertname="HighLatency", minutes_ago=2)
        waiting_run(bench, older)
        waiting_run(bench, newer)
        bench.say("status of checkout", user=APPROVER)
        explained = bench.say("why?", user=APPROVER)
        shown = int(explained.message["blocks"][0]["text"]["text"].split("#")[1].split(":")[0])
        bench.say("approve it", user=APPROVER)

        [(_, event)] = bench.published
        assert event.data["incident_id"] == shown

    def test_a_bare_yes_with_no_question_asked_approves_nothing(self, bench):
        incident_id = open_incident(bench)
        waiting_run(bench, incident_id)
        bench.say("status of checkout", user=APPROVER)
        for text in ("yes", "sure", "ok do it"):
            bench.say(text, user=APPROVER)
            assert "Nothing is waiting for your yes" in bench.last_text()
        assert bench.published == []

    def test_a_yes_after_the_question_was_asked_approves_that_run(self, bench):
        incident_id = open_incident(bench)
        run_id = waiting_run(bench, incident_id)
        shown = bench.say(f"show incident {incident_id}", user=APPROVER)
        assert shown.context.pending_approval == incident_id
        assert "waits for approval" in json.dumps(shown.message)
        bench.say("sure", user=APPROVER)

        [(_, event)] = bench.published
        assert event.data["incident_id"] == incident_id and event.data["approve"] is True
        assert f"run #{run_id}" in bench.last_text() and "sent" not in bench.last_text()

    def test_approving_an_incident_with_nothing_waiting_says_so_and_publishes_nothing(self, bench):
        incident_id = open_incident(bench)
        bench.say(f"approve {incident_id}", user=APPROVER)

        assert bench.published == []
        assert f"No remediation of incident #{incident_id} waits for an approval" in bench.last_text()


class TestRefusalsAreShown:
    def test_history_shows_why_a_remediation_was_refused(self, bench):
        """Issue 13 #4: `history checkout` listed `remediation.refused` without its reason."""
        from adapters.db import audit_writer
        from pipeline.audit import AuditRecord

        refused = AuditRecord(
            kind="remediation.refused", occurred_at=NOW, actor="U02OPS00002",
            data={"reason_code": "no_target", "detail": "checkout has no ECS service", "service": "checkout"},
        )
        with bench.engine.begin() as conn:
            audit_writer.append(conn, [refused])

        bench.say("history checkout")

        assert "checkout has no ECS service" in json.dumps(bench.responder.posted[-1][1])
