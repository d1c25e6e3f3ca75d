"""A decision's follow-ups (the chain it resumes, the answers to the chat) commit with it: a crash after
the commit loses none of them, and a redelivered decision repeats none of them."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from remediation_tasks_support import APPROVER, NOW, open_incident

from adapters.db.outbox import outbox
from adapters.db.outbox_relay import OutboxRelay
from pipeline.events import POST_REPLY, START_RUN, TELL_RUN_OUTCOME
from services import remediation as flow

REPLY_TO = "https://hooks.slack.com/commands/T1/B2/approve"
DECISION_ID = "7b0d7c1e-2f9a-4f39-9d6c-0d1f5e3a9b11"


class Broker:
    def __init__(self) -> None:
        self.sent: list = []

    def publish(self, task, event) -> None:  # type: ignore[no-untyped-def]
        self.sent.append((task, event))


def waiting_run(rt):  # type: ignore[no-untyped-def]
    incident_id = open_incident(rt, "DiskFull")
    started = flow.assess_incident(rt, incident_id=incident_id, event_id="assess", trace_id="t" * 32, now=NOW)
    assert started.state == "awaiting_approval"
    OutboxRelay(rt.runs._engine, Broker().publish).sweep(older_than_s=0, now=NOW + timedelta(days=1))
    return incident_id, started.run_id


def approval(incident_id: int, approve: bool = True) -> dict:
    return {"incident_id": incident_id, "approve": approve, "approver": APPROVER, "reason": "graphs",
            "reply_to": REPLY_TO}


def swept(rt) -> list:  # type: ignore[no-untyped-def]
    broker = Broker()
    OutboxRelay(rt.runs._engine, broker.publish).sweep(older_than_s=0, now=NOW + timedelta(days=1))
    return broker.sent


def test_a_crash_after_an_approval_commits_still_starts_the_run_and_answers_once(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    first = flow.decide(rt, data=approval(incident_id), trace_id="t", now=NOW, event_id=DECISION_ID)
    # The worker dies here, before publishing anything. Its message comes back.
    again = flow.decide(rt, data=approval(incident_id), trace_id="t", now=NOW + timedelta(seconds=5),
                        event_id=DECISION_ID)

    assert first.status == "approved" and again.status == "duplicate"
    sent = swept(rt)
    assert sorted(task for task, _ in sent) == sorted([START_RUN, POST_REPLY])
    start = next(event for task, event in sent if task == START_RUN)
    assert start.data == {"run_id": run_id, "first_step": 0}
    reply = next(event for task, event in sent if task == POST_REPLY)
    assert reply.data["reply_to"] == REPLY_TO and reply.data["text"].startswith(f"Approved: run #{run_id}")
    assert set(first.follow_ups) == {event.id for _, event in sent}


def test_a_denial_answers_through_the_outbox(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    outcome = flow.decide(rt, data=approval(incident_id, approve=False), trace_id="t", now=NOW,
                          event_id=DECISION_ID)

    assert outcome.status == "denied"
    [(task, event)] = swept(rt)
    assert task == POST_REPLY and event.data["text"].startswith(f"Denied: run #{run_id}")


def test_the_end_of_an_approved_run_is_told_from_the_transaction_that_ends_it(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)
    flow.decide(rt, data=approval(incident_id), trace_id="t", now=NOW, event_id=DECISION_ID)
    swept(rt)

    for stage in (flow.guard, flow.execute, flow.verify, flow.record):
        stage(rt, run_id=run_id, index=0, now=NOW)
    # The worker dies after the last commit; the redelivered record step is a no-op on an ended run.
    assert flow.record(rt, run_id=run_id, index=0, now=NOW) == "skipped"

    [(task, event)] = swept(rt)
    assert task == TELL_RUN_OUTCOME and event.data == {"run_id": run_id, "reply_to": REPLY_TO}
    assert rt.runs.run(run_id).state == "succeeded"


def test_a_run_nobody_asked_about_in_chat_leaves_no_answer(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)
    data = {k: v for k, v in approval(incident_id).items() if k != "reply_to"}
    flow.decide(rt, data=data, trace_id="t", now=NOW, event_id=DECISION_ID)
    assert [task for task, _ in swept(rt)] == [START_RUN]

    for stage in (flow.guard, flow.execute, flow.verify, flow.record):
        stage(rt, run_id=run_id, index=0, now=NOW)
    assert swept(rt) == []
    with rt.runs._engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0


def test_a_running_run_whose_chain_went_quiet_is_started_again_from_its_next_step(make_runtime, action) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)
    flow.decide(rt, data=approval(incident_id), trace_id="t", now=NOW, event_id=DECISION_ID)
    assert flow.guard(rt, run_id=run_id, index=0, now=NOW) == "allowed"
    # The execute message is lost (a kill inside Redis's BRPOP window): nothing moves any more.
    quiet = 1800

    assert flow.stalled_run_restarts(rt.runs, quiet_s=quiet, now=NOW + timedelta(seconds=quiet - 1)) == []
    [restart] = flow.stalled_run_restarts(rt.runs, quiet_s=quiet, now=NOW + timedelta(seconds=quiet + 1))
    assert restart.data == {"run_id": run_id, "first_step": 0}

    # The restarted chain takes the step on where it stopped; the AWS call is made once.
    later = NOW + timedelta(seconds=quiet + 2)
    assert flow.guard(rt, run_id=run_id, index=0, now=later) == "duplicate"
    for stage in (flow.execute, flow.verify, flow.record):
        stage(rt, run_id=run_id, index=0, now=later)
    assert rt.runs.run(run_id).state == "succeeded"
    assert [name for name, _ in action.calls].count("execute") == 1
    assert flow.stalled_run_restarts(rt.runs, quiet_s=quiet, now=later + timedelta(days=1)) == []


def test_a_run_waiting_for_a_human_is_never_restarted(make_runtime) -> None:
    rt = make_runtime()
    waiting_run(rt)
    assert flow.stalled_run_restarts(rt.runs, quiet_s=60, now=NOW + timedelta(days=1)) == []
