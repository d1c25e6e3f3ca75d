"""What the risk and remediation tasks do, free of Celery: each handler loads by id, calls the domain,
persists through the store and says which chain to start next. The tasks only decode and publish.

A step moves pending -> guarded -> executing -> executed -> verified -> succeeded. Each handler acts
only on the state it expects; anything else is a redelivery or a stopped run, and is a no-op
(audited as a skipped duplicate when the step was already past that stage).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from pipeline.catalog import Service
from pipeline.errors import InvalidInput, PermanentError, TransientError
from pipeline.events import POST_REPLY, START_RUN, CloudEvent, chat_reply_due, run_start_requested
from pipeline.nlu.authz import Decision, Role, authorize
from pipeline.remediation import RemediationRequested, guard_step, plan, plan_request
from pipeline.remediation.plan import RemediationPlan
from pipeline.remediation.guards import GuardDecision
from pipeline.remediation.params import RefusedParameter, check_against_catalog
from pipeline.learning.outcomes import Signature
from pipeline.risk import IncidentFacts, LearnedFix, assess
from services.actions import ActionOutcomeUnknown, ActionResult
from services.deps import RemediationRuntime
from services.remediation_records import AssessmentToRecord, RunStarted, StoredRun
from services.stores import RunStore

log = structlog.get_logger("tasks.remediation")

STEP_ORDER = ("pending", "guarded", "executing", "executed", "verified", "succeeded")


@dataclass(frozen=True, slots=True)
class _Labels:
    labels: Mapping[str, str]


# ---------------------------------------------------------------------- planning


def assess_incident(
    rt: RemediationRuntime, *, incident_id: int, event_id: str, trace_id: str, now: datetime
) -> RunStarted:
    """Score an open incident with its factors, plan from policy, store both (once per event)."""
    return assess_incidents(rt, [(incident_id, event_id, trace_id)], now=now)[0]


def assess_incidents(
    rt: RemediationRuntime, requests: Sequence[tuple[int, str, str]], *, now: datetime
) -> list[RunStarted]:
    """Assess each (incident id, event id, trace id) as `assess_incident` does, storing them all in
    one transaction; one RunStarted per request, in order (`not_open` for an incident no longer open).

    Each incident is read and scored on its own; what the batch saves is a task, a transaction and an
    audit-chain lock per incident. An incident's history does not include a plan made for another
    incident of the same batch (the guards, at each step, still see every run).
    """
    scored: list[AssessmentToRecord | None] = [_score(rt, *request, now=now) for request in requests]
    to_store = [item for item in scored if item is not None]
    stored = iter(rt.assessments.record_assessments(
        to_store, mode=rt.mode, approval_timeout_s=rt.policy.approvals.timeout_s, now=now) if to_store else [])
    return [RunStarted(None, "not_open") if item is None else next(stored) for item in scored]


def _score(rt: RemediationRuntime, incident_id: int, event_id: str, trace_id: str, *,
           now: datetime) -> AssessmentToRecord | None:
    incident = rt.incident_facts.incident(incident_id)
    if incident.status != "open" or not incident.firing_labels:
        log.info("risk.skipped", incident_id=incident_id, status=incident.status)
        return None
    facts = IncidentFacts.from_alerts(
        rt.catalog,
        incident_id=str(incident_id),
        alerts=[_Labels(labels) for labels in incident.firing_labels],
        anomaly_scores=anomaly_scores(incident.anomaly),
    )
    facts = replace(facts, learned=_learned_fix(rt, facts))
    risk = rt.policy.risk
    since = now - timedelta(seconds=max(risk.flapping_window_s, risk.failure_lookback_s))
    history = rt.incident_facts.target_history(
        _history_targets(facts, rt.catalog.service(facts.service)), since
    )
    assessment = assess(facts, history, rt.policy, now)
    outcome = plan(facts, assessment, rt.catalog, rt.policy)
    return AssessmentToRecord(incident_id, event_id, assessment, outcome, trace_id or incident.trace_id)


def _learned_fix(rt: RemediationRuntime, facts: IncidentFacts) -> LearnedFix | None:
    """What outcomes say about the actions the matching rule would run (as outcomes name them)."""
    if rt.learning is None:
        return None
    rule = rt.policy.rule_for(facts.alertname, dict(facts.labels), facts.service)
    if rule is None:
        return None
    action = "+".join(dict.fromkeys(spec.action.value for spec in rule.actions))
    signature = Signature(facts.alertname, facts.service, facts.severity, facts.service_tier)
    return rt.learning.learned_fix(signature, action)


def anomaly_scores(evidence: tuple[float, float] | None) -> tuple[float, ...]:
    """Scores whose peak and mean are the stored evidence's (the risk factor reads only those two)."""
    if evidence is None:
        return ()
    peak, mean = evidence
    if peak <= 0 or mean >= peak:
        return (peak,)
    # One peak plus k-1 equal scores x with (peak + (k-1)x) / k = mean; k >= peak/mean keeps x >= 0.
    k = min(1000, max(2, math.ceil(peak / mean))) if mean > 0 else 1000
    rest = max(0.0, (k * mean - peak) / (k - 1))
    return (peak, *([rest] * (k - 1)))


def _history_targets(facts: IncidentFacts, service: Service | None) -> list[str]:
    # The targets a plan for this incident could touch, named as steps name them.
    targets = [f"ec2:{instance}" for instance in facts.targets]
    aws = service.aws if service else None
    if aws is not None:
        if aws.autoscaling_group:
            targets.append(f"asg:{aws.region}:{aws.autoscaling_group.name}")
        if aws.ecs:
            targets.append(f"ecs:{aws.region}:{aws.ecs.cluster}/{aws.ecs.service}")
        if aws.rds_instance_id:
            targets.append(f"rds:{aws.region}:{aws.rds_instance_id}")
    return targets


REQUEST_FIELDS = (
    "request_id",
    "service",
    "action",
    "requested_by",
    "instance",
    "capacity",
    "incident_id",
)


def request_remediation(
    rt: RemediationRuntime, *, data: Mapping[str, Any], trace_id: str, now: datetime
) -> RunStarted:
    """Plan what a person asked for through the same validation as alert-driven plans, and store it."""
    asked = {name: data.get(name) for name in REQUEST_FIELDS}
    incident_id = asked["incident_id"]
    if incident_id is not None and (
        not isinstance(incident_id, int) or isinstance(incident_id, bool)
    ):
        raise InvalidInput("incident_id must be an integer")
    if incident_id is not None:
        rt.incident_facts.incident(
            incident_id
        )  # NotFound (permanent: dead-lettered, audited) when there is none
    capacity = asked["capacity"]
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)):
        raise InvalidInput("capacity must be an integer")
    request = RemediationRequested(
        request_id=str(asked["request_id"] or ""),
        service=str(asked["service"] or ""),
        action=str(asked["action"] or ""),
        requested_by=str(asked["requested_by"] or ""),
        instance=None if asked["instance"] is None else str(asked["instance"]),
        capacity=capacity,
        incident_id=None if incident_id is None else str(incident_id),
    )
    outcome = plan_request(request, rt.catalog, rt.policy)
    return rt.runs.record_request(
        incident_id=incident_id,
        outcome=outcome,
        request=_shown(asked),
        mode=rt.mode,
        approval_timeout_s=rt.policy.approvals.timeout_s,
        now=now,
        trace_id=trace_id,
    )


def _shown(asked: Mapping[str, Any]) -> dict[str, Any]:
    # What was asked goes into the audit row as data, bounded; it never reaches a call.
    return {k: (v if isinstance(v, (int, type(None))) else str(v)[:256]) for k, v in asked.items()}


# ---------------------------------------------------------------------- one step


def guard(rt: RemediationRuntime, *, run_id: int, index: int, now: datetime) -> str:
    """Every guard before a step; a refusal stops the run and flags the incident."""
    run = _running(rt, run_id, index, "guard")
    if run is None:
        return "skipped"
    if run.step(index).state != "pending":
        return _duplicate(rt, run, index, "guard", now)
    step = run.plan.steps[index]
    try:
        # The catalog may have changed since planning: check the parameters against it again.
        check_against_catalog(step.params, rt.catalog, rt.policy)
        decision = guard_step(
            rt.guards, run.plan, step, rt.catalog, rt.policy, approved=run.approved, now=now
        )
    except RefusedParameter as refused:
        decision = GuardDecision(False, refused.code, refused.detail)
    rt.runs.step_guarded(run, index, decision, now=now)
    return decision.reason_code


def execute(rt: RemediationRuntime, *, run_id: int, index: int, now: datetime) -> str:
    """Act once (or, in a dry run, record the exact call); after a crash, recover instead of re-sending."""
    run = _running(rt, run_id, index, "execute")
    if run is None:
        return "skipped"
    state = run.step(index).state
    if state == "executing":
        return _recover(rt, run, index, now)
    if state != "guarded":
        return _duplicate(rt, run, index, "execute", now)
    if not rt.runs.step_executing(run, index, now=now):
        return _duplicate(rt, rt.runs.run(run_id), index, "execute", now)
    step = run.plan.steps[index]
    try:
        result = rt.actions[step.action].execute(
            step.params, _dry(rt, run), idempotency_key=step.idempotency_key
        )
    except ActionOutcomeUnknown:
        raise  # the call may have acted: stay `executing`, so the retry recovers and verifies
    except TransientError as exc:
        rt.runs.step_not_sent(run, index, repr(exc), now=now)
        raise
    except PermanentError as exc:
        _failed(rt, run, index, str(exc), now)
        return "failed"
    rt.runs.step_executed(run, index, result.as_dict(), recovered=False, now=now)
    return "executed"


def _recover(rt: RemediationRuntime, run: StoredRun, index: int, now: datetime) -> str:
    step = run.plan.steps[index]
    action = rt.actions[step.action]
    if _dry(rt, run):
        # A dry run changes nothing, so describing the call again is safe.
        result = action.execute(step.params, True, idempotency_key=step.idempotency_key)
    else:
        result = action.recover(step.params, step.idempotency_key)
    log.warning("remediation.step_recovered", run_id=run.id, step=index, key=step.idempotency_key)
    rt.runs.step_executed(run, index, result.as_dict(), recovered=True, now=now)
    return "recovered"


def verify(rt: RemediationRuntime, *, run_id: int, index: int, now: datetime) -> str:
    """Poll the real API until the target is healthy again; a failure stops the run."""
    run = _running(rt, run_id, index, "verify")
    if run is None:
        return "skipped"
    stored = run.step(index)
    if stored.state != "executed":
        return _duplicate(rt, run, index, "verify", now)
    step = run.plan.steps[index]
    executed = _action_result(stored.result or {})
    try:
        result = rt.actions[step.action].verify(
            step.params,
            executed,
            timeout_s=rt.verify_timeout_s,
            poll_s=rt.verify_poll_s,
            settle_s=rt.verify_settle_s,
        )
    except PermanentError as exc:
        _failed(rt, run, index, str(exc), now)
        return "failed"
    verification = {**result.as_dict(), "alert": _alert_state(rt, run)}
    if rt.runs.step_verified(run, index, verification, now=now) and not result.ok:
        _feed_breaker(rt, run, index, succeeded=False, now=now)
    return "verified" if result.ok else "failed"


def _alert_state(rt: RemediationRuntime, run: StoredRun) -> str:
    """Whether the incident the run answers has resolved, said plainly (or why it cannot be told).

    Alertmanager reports a resolution after its `resolve_timeout` and the rule's `for`, so a
    still-firing alert right after the action is recorded, not failed: the incident's own
    state (and the escalation that follows it) is the judge of recovery.
    """
    if run.incident_id is None:
        return "not checked: the run answers no incident"
    try:
        incident = rt.incident_facts.incident(run.incident_id)
    except Exception as exc:  # noqa: BLE001 - a read failure must not fail a verified step
        return f"could not be checked: {type(exc).__name__}"
    if incident.status != "open":
        return f"resolved: incident #{run.incident_id} is {incident.status}"
    if not incident.firing_labels:
        return f"no alert: incident #{run.incident_id} was opened by a request"
    names = sorted({str(labels.get("alertname", "?")) for labels in incident.firing_labels})
    dry = " (a dry run changed nothing)" if _dry(rt, run) else ""
    return f"still firing at verification: {', '.join(names)}{dry}"


def record(rt: RemediationRuntime, *, run_id: int, index: int, now: datetime) -> str:
    """Close a verified step (the last one closes the run) and feed the action's circuit breaker."""
    run = _running(rt, run_id, index, "record")
    if run is None:
        return "skipped"
    if run.step(index).state != "verified":
        return _duplicate(rt, run, index, "record", now)
    if rt.runs.step_recorded(run, index, None, now=now):
        _feed_breaker(rt, run, index, succeeded=True, now=now)
    return "succeeded"


def _failed(rt: RemediationRuntime, run: StoredRun, index: int, error: str, now: datetime) -> None:
    if rt.runs.step_failed(run, index, error, now=now):
        _feed_breaker(rt, run, index, succeeded=False, now=now)


def _feed_breaker(
    rt: RemediationRuntime, run: StoredRun, index: int, *, succeeded: bool, now: datetime
) -> None:
    if _dry(rt, run):
        return  # a dry run acted on nothing: it says nothing about the action's health
    action = run.plan.steps[index].action
    snapshot = rt.guards.record_outcome(
        action.value, succeeded, rt.policy.guards.for_action(action), now
    )
    rt.runs.breaker_recorded(run, snapshot, now=now)


def _running(rt: RemediationRuntime, run_id: int, index: int, stage: str) -> StoredRun | None:
    run = rt.runs.run(run_id)
    run.step(index)  # NotFound for a step that is not in the plan
    if run.state != "running":
        # Stopped (failed, denied, expired) or already done: the rest of the chain does nothing.
        log.info(
            "remediation.step_not_run", run_id=run_id, step=index, stage=stage, run_state=run.state
        )
        return None
    return run


def _duplicate(
    rt: RemediationRuntime, run: StoredRun, index: int, stage: str, now: datetime
) -> str:
    state = run.step(index).state
    if state in STEP_ORDER and STEP_ORDER.index(state) < STEP_ORDER.index(_expected(stage)):
        # Earlier than this stage expects: its predecessor did not finish; nothing to do or to claim.
        log.warning(
            "remediation.step_out_of_order", run_id=run.id, step=index, stage=stage, state=state
        )
        return "out_of_order"
    rt.runs.step_duplicate(run, index, stage, now=now)
    log.info(
        "remediation.step_skipped_duplicate", run_id=run.id, step=index, stage=stage, state=state
    )
    return "duplicate"


def _expected(stage: str) -> str:
    return {"guard": "pending", "execute": "guarded", "verify": "executed", "record": "verified"}[
        stage
    ]


def _dry(rt: RemediationRuntime, run: StoredRun) -> bool:
    # The mode the run was planned in wins: switching to execute never turns a planned dry run real.
    return rt.dry_run or run.mode != "execute"


def _action_result(stored: Mapping[str, Any]) -> ActionResult:
    return ActionResult(
        called=str(stored.get("called", "")),
        request=dict(stored.get("request") or {}),
        response_summary=dict(stored.get("response_summary") or {}),
        dry_run=bool(stored.get("dry_run", True)),
    )


# ---------------------------------------------------------------------- humans


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """What a decision did; `resume_from` is the step to restart the chain at, when approved.

    `follow_ups` are the ids of the outbox rows the decision committed (the chain to start, the
    answer to post): the task relays them after the commit, the sweep if it dies first.
    """

    status: str
    run_id: int | None = None
    resume_from: int | None = None
    steps: int = 0
    why: str = ""  # why a decision was refused, for the person who tried
    follow_ups: tuple[str, ...] = ()


def decide(
    rt: RemediationRuntime,
    *,
    data: Mapping[str, Any],
    trace_id: str,
    now: datetime,
    event_id: str | None = None,
    asked_in_of: Callable[[int], str | None] | None = None,
) -> DecisionOutcome:
    """Approve (resume from the paused step) or deny a waiting run; the approver's role is checked.

    A message whose decision already committed (`event_id` claimed) is a redelivery: nothing is
    decided or answered again, its follow-ups are already in the outbox.
    """
    approve, actor, reason = _decision_fields(data)
    if event_id is not None and rt.approvals.claimed(event_id):
        log.info("remediation.decision_redelivered", event_id=event_id)
        return DecisionOutcome("duplicate")
    groups = tuple(str(g) for g in data.get("groups") or ())
    incident_id = data.get("incident_id")
    run_id = data.get("run_id") or (
        rt.runs.awaiting_run_of(int(incident_id)) if incident_id else None
    )
    run = rt.runs.run(int(run_id)) if run_id else None
    if run is None or run.state != "awaiting_approval":
        rt.approvals.refuse_decision(
            run,
            incident_id=incident_id,
            actor=actor,
            now=now,
            trace_id=trace_id,
            why="no remediation waits for an approval",
        )
        return DecisionOutcome("nothing_waiting", run.id if run else None)
    if run.approval_deadline is not None and now >= run.approval_deadline:
        rt.runs.expire(run, now=now)
        return DecisionOutcome("expired", run.id)
    granted = _granted_roles(data)
    verdict = authorize(actor, groups, "approve" if approve else "deny", rt.roles, granted)
    if verdict.allowed and approve and _approves_own_request(rt, run.plan, actor):
        verdict = Decision(False, verdict.needed_role, verdict.held_role,
                           "four eyes: the requester of a remediation may not approve it")
    if not verdict.allowed:
        rt.approvals.refuse_decision(
            run,
            incident_id=run.incident_id,
            actor=actor,
            why=verdict.reason,
            now=now,
            trace_id=trace_id,
        )
        return DecisionOutcome("forbidden", run.id, why=verdict.reason)
    roles = [verdict.held_role.label if verdict.held_role else "", *groups]
    status = "approved" if approve else "denied"
    reply_to = data.get("reply_to") if isinstance(data.get("reply_to"), str) else None
    asked_in = asked_in_of(run.id) if asked_in_of is not None else None
    outcome = DecisionOutcome(status, run.id, run.next_step() if approve else None,
                              len(run.steps) if approve else 0)
    follow_ups = _decision_follow_ups(outcome, data, reply_to, asked_in, event_id or f"decision|{run.id}",
                                      trace_id, now)
    if not rt.approvals.decide(
        run, approved=approve, actor=actor, roles=roles, reason=reason, now=now, trace_id=trace_id,
        event_id=event_id, reply_to=reply_to or asked_in, follow_ups=follow_ups,
    ):
        return DecisionOutcome("nothing_waiting", run.id)
    return DecisionOutcome(outcome.status, outcome.run_id, outcome.resume_from, outcome.steps,
                           follow_ups=tuple(event.id for _, event in follow_ups))


def _decision_follow_ups(
    outcome: DecisionOutcome, data: Mapping[str, Any], reply_to: str | None, asked_in: str | None,
    answering: str, trace_id: str, now: datetime,
) -> list[tuple[str, CloudEvent]]:
    # What must happen because of this decision, committed with it: the chain, and the answer
    # (to the chat that decided, else to the chat that asked for the run).
    follow_ups: list[tuple[str, CloudEvent]] = []
    if outcome.status == "approved" and outcome.run_id is not None and outcome.resume_from is not None:
        follow_ups.append((START_RUN, run_start_requested(outcome.run_id, outcome.resume_from, trace_id, now)))
    if reply_to:
        follow_ups.append((POST_REPLY, chat_reply_due(answering, reply_to, decision_text(outcome, data),
                                                      trace_id, now)))
    elif asked_in:
        text = f"{decision_text(outcome, data)} (decided by {data.get('approver')})"
        follow_ups.append((POST_REPLY, chat_reply_due(answering, asked_in, text, trace_id, now)))
    return follow_ups


def decision_text(outcome: DecisionOutcome, data: Mapping[str, Any]) -> str:
    """The chat's answer to a decision."""
    incident = data.get("incident_id")
    run = f"run #{outcome.run_id}" if outcome.run_id else "no run"
    return {
        "approved": f"Approved: {run} of incident #{incident} runs now; I will post how it ends.",
        "denied": f"Denied: {run} of incident #{incident} will not run.",
        "expired": f"Too late: the approval window of {run} of incident #{incident} had passed.",
        "forbidden": f"Refused: you may not decide on {run} of incident #{incident}"
                     + (f" ({outcome.why})." if outcome.why else "."),
        "nothing_waiting": f"Nothing was decided: no remediation of incident #{incident} waits for an approval.",
    }.get(outcome.status, f"Decision on incident #{incident}: {outcome.status}.")


def _granted_roles(data: Mapping[str, Any]) -> tuple[Role, ...]:
    """Roles an API key granted the approver at the edge (roles.yaml cannot know keys)."""
    labels = data.get("granted_roles") or ()
    return tuple(Role.parse(label) for label in labels if isinstance(label, str) and label in _ROLE_LABELS)


_ROLE_LABELS = frozenset(role.label for role in Role)


def _approves_own_request(rt: RemediationRuntime, plan: RemediationPlan, actor: str) -> bool:
    requester = plan.requested_by
    return bool(requester) and requester == actor and not rt.policy.allows_self_approval(plan.rule)


def _decision_fields(data: Mapping[str, Any]) -> tuple[bool, str, str]:
    approve, actor, reason = data.get("approve"), data.get("approver"), data.get("reason", "")
    if not isinstance(approve, bool):
        raise InvalidInput("a decision needs approve: true or false")
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 128:
        raise InvalidInput("a decision needs the approver's identity (1-128 characters)")
    if not isinstance(reason, str):
        raise InvalidInput("reason must be text")
    return approve, actor.strip(), reason[:1000]


def stalled_run_restarts(runs: RunStore, *, quiet_s: float, now: datetime) -> list[CloudEvent]:
    """A start of the chain, from its next step, for every running run quiet for `quiet_s`.

    The messages of a step chain are published by Celery itself, outside the intake journal: a
    worker killed inside Redis's BRPOP window loses one, and its run would stay `running` forever.
    Starting the chain again is safe: each stage moves its step from one state only, and an
    interrupted call is recovered by its idempotency key, never sent twice.
    """
    restarts = []
    for run in runs.stalled_runs(now - timedelta(seconds=quiet_s)):
        log.warning("remediation.run_stalled", run_id=run.id, next_step=run.next_step(), quiet_s=quiet_s)
        restarts.append(run_start_requested(run.id, run.next_step(), run.trace_id, now))
    return restarts


def expire_due(rt: RemediationRuntime, *, now: datetime) -> list[int]:
    """End every run whose approval deadline has passed (the `remediation expire` command)."""
    expired = []
    for run_id in rt.runs.runs_past_deadline(now):
        if rt.runs.expire(rt.runs.run(run_id), now=now):
            expired.append(run_id)
    return expired


def set_kill_switch(
    rt: RemediationRuntime, *, engaged: bool, actor: str, reason: str, trace_id: str, now: datetime
) -> None:
    """Engage or release the global kill switch, and audit who did it and why."""
    rt.guards.set_kill_switch(engaged)
    rt.kill_switch.record_kill_switch(
        engaged=engaged, by=actor, reason=reason, now=now, trace_id=trace_id
    )
