"""Risk and remediation tasks: decode a CloudEvent, call the handler in `services.remediation`, publish next.

Each plan step runs as a Celery chain `guard -> execute -> verify -> record`; the steps of a run
are one chain, started after the plan (or the approval) is committed. Messages carry ids only.
A stopped run (a refused guard, a failed step, a denial) makes the rest of its chain a no-op.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from celery import chain, current_app, shared_task

from services.remediation_records import RunStarted
from adapters.faults import is_transient
from pipeline.errors import InvalidInput
from pipeline.events import (  # noqa: F401 - ASSESS_INCIDENT/ASSESSMENT_REQUESTED re-exported
    ASSESS_INCIDENT, ASSESS_INCIDENTS, ASSESSMENT_REQUESTED, EVENT_NAMESPACE, POST_REPLY, START_RUN, TELL_RUN_OUTCOME,
    CloudEvent, assessment_requested, assessment_requests, envelope, run_ended_id,
)
from services.deps import RemediationRuntime
from services import remediation as flow
from tasks.base import PipelineTask
from tasks.runtime import runtime

log = structlog.get_logger("tasks.remediation")

SOURCE = "urn:smartcloudops:remediation"
REQUEST = "remediation.request"
GUARD_STEP = "remediation.guard_step"
EXECUTE_STEP = "remediation.execute_step"
VERIFY_STEP = "remediation.verify_step"
RECORD_STEP = "remediation.record_step"
DECIDE = "remediation.decide"
KILL_SWITCH = "remediation.kill_switch"
STEP_STAGES = (GUARD_STEP, EXECUTE_STEP, VERIFY_STEP, RECORD_STEP)

REMEDIATION_REQUESTED = "dev.smartcloudops.remediation.requested"
DECISION_GIVEN = "dev.smartcloudops.remediation.decision.given"
KILL_SWITCH_SET = "dev.smartcloudops.remediation.kill_switch.set"
STEP_DUE = "dev.smartcloudops.remediation.step.due"


def _now() -> datetime:
    return datetime.now(UTC)


def _remediation() -> RemediationRuntime:
    return runtime().remediation


def _id_field(data: Any, name: str) -> int:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    return value


# ---------------------------------------------------------------------- events


def step_event(
    run_id: int, index: int, stage: str, trace_id: str, reply_to: str | None = None
) -> CloudEvent:
    data: dict[str, Any] = {"run_id": run_id, "step_index": index}
    if reply_to:
        data["reply_to"] = reply_to  # a run a chat request started: that chat hears how it ends
    return envelope(
        STEP_DUE,
        SOURCE,
        data,
        event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"{stage}|{run_id}|{index}")),
        trace_id=trace_id,
        now=_now(),
    )


def start_chain(
    run_id: int, first_step: int, steps: int, trace_id: str, reply_to: str | None = None
) -> None:
    """Publish guard -> execute -> verify -> record for every step from `first_step` on, as one chain."""
    if first_step >= steps:
        return
    queue = runtime().settings.queues.remediation
    signatures = [
        current_app.signature(
            stage,
            args=[step_event(run_id, index, stage, trace_id, reply_to).to_dict()],
            immutable=True,
            queue=queue,
        )
        for index in range(first_step, steps)
        for stage in STEP_STAGES
    ]
    chain(*signatures).apply_async()
    log.info("remediation.chain_started", run_id=run_id, first_step=first_step, steps=steps)


def _start_if_running(started: RunStarted, trace_id: str) -> dict[str, Any]:
    if started.run_id is not None and started.state == "running":
        run = _remediation().runs.run(started.run_id)
        start_chain(run.id, started.next_step, len(run.steps), trace_id)
    return {"run_id": started.run_id, "state": started.state}


# ---------------------------------------------------------------------- planning tasks


@shared_task(name=ASSESS_INCIDENT, base=PipelineTask, bind=True, max_retries=None)
def assess_incident(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Score an incident, plan its remediation, and start the chain when the decision is auto."""
    envelope_ = CloudEvent.from_dict(event)
    started = flow.assess_incident(
        _remediation(),
        incident_id=_id_field(envelope_.data, "incident_id"),
        event_id=envelope_.id,
        trace_id=envelope_.traceid,
        now=_now(),
    )
    if started.state != "not_open":
        _start_escalation(_id_field(envelope_.data, "incident_id"), envelope_.traceid)
    return _start_if_running(started, envelope_.traceid)


@shared_task(name=ASSESS_INCIDENTS, base=PipelineTask, bind=True, max_retries=None)
def assess_incidents(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """The incidents one alert transaction opened, assessed in one transaction; then as `assess_incident`."""
    envelope_ = CloudEvent.from_dict(event)
    requests = assessment_requests(envelope_)
    try:
        started = flow.assess_incidents(_remediation(), requests, now=_now())
    except Exception as exc:  # noqa: BLE001 - classified: transient re-raised (retry), permanent isolated
        if is_transient(exc) or len(requests) == 1:
            raise
        _assess_each_alone(requests, exc)
        return {"incidents": len(requests), "isolated": True}
    runs = []
    for (incident_id, _, trace_id), outcome in zip(requests, started, strict=True):
        if outcome.state != "not_open":
            _start_escalation(incident_id, trace_id)
        runs.append(_start_if_running(outcome, trace_id))
    return {"incidents": len(requests), "running": sum(1 for run in runs if run["state"] == "running")}


def _assess_each_alone(requests: list[tuple[int, str, str]], error: BaseException) -> None:
    """A bundle failed for good (nothing of it was stored): each incident goes on as its own
    `risk.assess_incident`, so one the scorer or the store refuses is dead-lettered alone. Each keeps
    its assessment event id; a publish that fails raises, and the retried bundle publishes again."""
    from tasks.alerts import event_publisher

    log.warning("risk.bundle_isolating", error=repr(error)[:500], incidents=len(requests))
    publisher = event_publisher()
    for incident_id, _, trace_id in requests:
        publisher.publish(ASSESS_INCIDENT, assessment_requested(incident_id, trace_id, _now()))


def _start_escalation(incident_id: int, trace_id: str) -> None:
    # Every incident is assessed once (one event id per incident): the natural place to start
    # its escalation clock. A redelivery schedules again; the tier claim keeps one page.
    from tasks.escalation import start_escalation

    incident = _remediation().incident_facts.incident(incident_id)
    start_escalation(incident_id, incident.service, trace_id)


@shared_task(name=REQUEST, base=PipelineTask, bind=True, max_retries=None)
def request_remediation(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """A person asked for an action (API or chat): validate and plan it like any other."""
    envelope_ = CloudEvent.from_dict(event)
    started = flow.request_remediation(
        _remediation(), data=envelope_.data, trace_id=envelope_.traceid, now=_now()
    )
    reply_to = envelope_.data.get("reply_to")
    if isinstance(reply_to, str) and started.run_id is not None:
        _remember_chat(started.run_id, reply_to)
        if started.state == "awaiting_approval":
            run = _remediation().runs.run(started.run_id)
            _tell_chat(reply_to, f"Run #{run.id} of incident #{run.incident_id} waits for an approval "
                                 f"(`approve {run.incident_id}`); I will post how it ends.")
        if started.state == "running":
            run = _remediation().runs.run(started.run_id)
            start_chain(run.id, started.next_step, len(run.steps), envelope_.traceid, reply_to)
            return {"run_id": started.run_id, "state": started.state}
    return _start_if_running(started, envelope_.traceid)


# Slack's response_url takes posts for 30 minutes: the chat is remembered as long as it can be told.
REPLY_ROUTE_TTL_S = 1800


def _remember_chat(run_id: int, reply_to: str) -> None:
    rt = runtime()
    if rt.chat is not None and rt.chat.reply_routes is not None:
        rt.chat.reply_routes.remember(run_id, reply_to, REPLY_ROUTE_TTL_S)


def _chat_of(run_id: int | None) -> str | None:
    """The chat that asked for `run_id` (a plan started from chat, approved elsewhere)."""
    rt = runtime()
    if run_id is None or rt.chat is None or rt.chat.reply_routes is None:
        return None
    return rt.chat.reply_routes.reply_to(run_id)


# ---------------------------------------------------------------------- the step chain


def _step_task(handler, event: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    envelope_ = CloudEvent.from_dict(event)
    run_id = _id_field(envelope_.data, "run_id")
    index = envelope_.data.get("step_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidInput(f"step_index must be a non-negative integer, got {index!r}")
    outcome = handler(_remediation(), run_id=run_id, index=index, now=_now())
    # The transaction that ended an approved run (if this one did) left its answer in the outbox.
    _relay([run_ended_id(run_id)])
    reply_to = envelope_.data.get("reply_to")
    # A run a chat request started (no approval, so no outbox answer): the stage that ended it tells.
    if isinstance(reply_to, str) and outcome not in ("skipped", "duplicate", "out_of_order"):
        _tell_run_outcome(reply_to, run_id)
    return {"run_id": run_id, "step_index": index, "outcome": outcome}


def _relay(event_ids: list[str]) -> None:
    """Publish outbox rows this task's transaction committed; if that fails, the sweep will."""
    from tasks.alerts import outbox_relay

    try:
        outbox_relay().relay(event_ids)
    except Exception as exc:  # noqa: BLE001 - the rows stay in the outbox; failing the task would redo the step
        log.warning("outbox.relay_deferred", error=repr(exc), events=len(event_ids))


FINAL_RUN_STATES = ("succeeded", "failed", "denied", "expired")


def _tell_run_outcome(reply_to: str, run_id: int) -> None:
    """Post how a run ended to the chat that approved it, once it has ended."""
    run = _remediation().runs.run(run_id)
    if run.state not in FINAL_RUN_STATES:
        return
    steps = ", ".join(f"{s.action} {s.state}" for s in run.steps)
    text = f"Remediation run #{run.id} of incident #{run.incident_id} {run.state} ({run.mode}): {steps}."
    _tell_chat(reply_to, text)


def _tell_chat(reply_to: str, text: str) -> None:
    from pipeline.errors import PermanentError

    rt = runtime()
    if rt.chat is None:  # a runtime built without chat (tests): the audit trail still holds it
        log.info("remediation.reply_skipped", reason="no chat runtime")
        return
    try:
        rt.chat.responder.post(reply_to, {"response_type": "in_channel", "text": text})
    except PermanentError as exc:  # an expired or foreign URL: the outcome is in the audit trail
        log.warning("remediation.reply_undeliverable", error=str(exc))


@shared_task(name=GUARD_STEP, base=PipelineTask, bind=True, max_retries=None)
def guard_step(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Kill switch, breaker, rate limit, cooldown, blast radius, freeze and approval before a step."""
    return _step_task(flow.guard, event)


@shared_task(name=EXECUTE_STEP, base=PipelineTask, bind=True, max_retries=None)
def execute_step(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Make the step's one AWS call (a dry run records it instead); never twice for one key."""
    return _step_task(flow.execute, event)


@shared_task(name=VERIFY_STEP, base=PipelineTask, bind=True, max_retries=None)
def verify_step(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Poll AWS until the target is healthy, failed, or out of time."""
    return _step_task(flow.verify, event)


@shared_task(name=RECORD_STEP, base=PipelineTask, bind=True, max_retries=None)
def record_step(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Close the step (and the run after its last step); feed the breaker."""
    return _step_task(flow.record, event)


# ---------------------------------------------------------------------- humans


@shared_task(name=DECIDE, base=PipelineTask, bind=True, max_retries=None)
def decide(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Approve or deny a waiting run; an approval resumes the chain at the paused step."""
    envelope_ = CloudEvent.from_dict(event)
    outcome = flow.decide(
        _remediation(), data=envelope_.data, trace_id=envelope_.traceid, now=_now(), event_id=envelope_.id,
        asked_in_of=_chat_of,
    )
    # An approval or denial committed its chain and its answer in the outbox: relay them now (the
    # sweep does if this process dies first). A redelivered decision ("duplicate") says nothing.
    _relay(list(outcome.follow_ups))
    reply_to = envelope_.data.get("reply_to")
    if isinstance(reply_to, str) and outcome.status in ("expired", "forbidden", "nothing_waiting"):
        _tell_chat(reply_to, flow.decision_text(outcome, envelope_.data))  # changed nothing: said directly
    return {"run_id": outcome.run_id, "status": outcome.status}


@shared_task(name=START_RUN, base=PipelineTask, bind=True, max_retries=None)
def start_run(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Publish an approved run's chain from the paused step (an outbox follow-up of the approval)."""
    envelope_ = CloudEvent.from_dict(event)
    run = _remediation().runs.run(_id_field(envelope_.data, "run_id"))
    first_step = envelope_.data.get("first_step")
    if not isinstance(first_step, int) or isinstance(first_step, bool) or first_step < 0:
        raise InvalidInput(f"first_step must be a non-negative integer, got {first_step!r}")
    if run.state == "running":  # a redelivered chain is harmless: each stage moves from one state only
        start_chain(run.id, first_step, len(run.steps), envelope_.traceid)
    return {"run_id": run.id, "state": run.state}


@shared_task(name=TELL_RUN_OUTCOME, base=PipelineTask, bind=True, max_retries=None)
def tell_run_outcome(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Post how a run ended to the chat that approved it (an outbox follow-up of the run's end)."""
    envelope_ = CloudEvent.from_dict(event)
    run_id = _id_field(envelope_.data, "run_id")
    reply_to = envelope_.data.get("reply_to")
    if not isinstance(reply_to, str):
        raise InvalidInput("reply_to must be a URL")
    _tell_run_outcome(reply_to, run_id)
    return {"run_id": run_id}


@shared_task(name=POST_REPLY, base=PipelineTask, bind=True, max_retries=None)
def post_reply(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Post a prepared answer at its response_url (an outbox follow-up of a decision)."""
    data = CloudEvent.from_dict(event).data
    reply_to, text = data.get("reply_to"), data.get("text")
    if not isinstance(reply_to, str) or not isinstance(text, str):
        raise InvalidInput("a reply needs reply_to and text")
    _tell_chat(reply_to, text)
    return {"posted": True}


@shared_task(name=KILL_SWITCH, base=PipelineTask, bind=True, max_retries=None)
def kill_switch(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Engage or release the global kill switch and audit it."""
    envelope_ = CloudEvent.from_dict(event)
    data = envelope_.data
    engaged = data.get("engaged")
    if not isinstance(engaged, bool):
        raise InvalidInput("engaged must be true or false")
    flow.set_kill_switch(
        _remediation(),
        engaged=engaged,
        actor=str(data.get("actor") or "unknown")[:128],
        reason=str(data.get("reason") or "")[:1000],
        trace_id=envelope_.traceid,
        now=_now(),
    )
    return {"engaged": engaged}
