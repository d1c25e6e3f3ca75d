"""Chat commands, handled: understand the line in its context, check the role, act through the pipeline, answer.

Reads come from the store; writes are audited; remediation and approvals are only ever
published as the remediation chain's own commands (`remediation.request`,
`remediation.decide`), so chat goes through risk, guards, dry run and approval like any
other request. Every entity used here is a catalog value or a strict pattern match.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.chat_records import Command
from pipeline.audit import AuditRecord
from services.ports import IncidentReads, RemediationReads
from pipeline.errors import InvalidInput, NotFound, PermanentError
from pipeline.events import EVENT_NAMESPACE, CloudEvent, envelope
from pipeline.nlu import ChatContext, Understanding, next_context, understand
from pipeline.nlu.clarify import Question, question_reply
from pipeline.nlu.authz import Decision, Role, authorize
from pipeline.nlu.context import check_chat_id
from pipeline.nlu.replies import (
    ActionLine,
    IncidentLine,
    ScoreLine,
    acknowledgement_reply,
    error_reply,
    help_reply,
    history_reply,
    incident_detail_reply,
    incident_list_reply,
    refusal_reply,
    status_reply,
)
from services.deps import ChatRuntime

log = structlog.get_logger("tasks.chat")

REQUEST_REMEDIATION = "remediation.request"
DECIDE_REMEDIATION = "remediation.decide"
ESCALATE = "escalation.page_tier"
ESCALATION_REQUESTED = "dev.smartcloudops.escalation.requested"
REMEDIATION_REQUESTED = "dev.smartcloudops.remediation.requested"
DECISION_GIVEN = "dev.smartcloudops.remediation.decision.given"
CHAT_SOURCE = "urn:smartcloudops:chat"
DEFAULT_SILENCE = timedelta(hours=1)
MAX_SILENCE = timedelta(days=7)
SCORE_WINDOW = timedelta(hours=1)
# A line that only says yes ("sure", "ok do it"): it answers a question, so it needs one asked.
_BARE_YES = re.compile(r"\s*(?:yes|yep|yeah|sure|ok|okay|do it|go ahead)(?:[\s,!.]+(?:do it|go ahead|please|approve))*[\s!.]*",
                       re.IGNORECASE)

Publish = Callable[[str, CloudEvent], None]
_ROLE_LABELS = frozenset(role.label for role in Role)
# An answer nobody picked up (the caller gave up waiting) is dropped after this.
ANSWER_TTL_S = 120


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """A decoded `chat.handle_command` message."""

    event_id: str
    trace_id: str
    user: str
    channel: str
    text: str
    response_url: str | None
    source: str
    groups: tuple[str, ...] = ()  # the authenticated caller's groups (OIDC); Slack sends none
    wait: bool = False  # an API caller waits for the answer in its response (ChatAnswers)
    # Roles the caller was granted at the edge (an API key's role; a console account's role):
    # roles.yaml cannot name keys or local accounts. Slack never sets it.
    granted: tuple[Role, ...] = ()
    # From the console only: what its button means, so no text is parsed.
    given: Understanding | None = None

    @classmethod
    def from_event(cls, event: CloudEvent) -> ChatCommand:
        """Decode and re-validate the message (ids are plain, text is text)."""
        data = event.data
        text = data.get("text")
        if not isinstance(text, str):
            raise InvalidInput("chat command text must be a string")
        response_url = data.get("response_url")
        if response_url is not None and not isinstance(response_url, str):
            raise InvalidInput("chat command response_url must be a string")
        return cls(
            event_id=event.id,
            trace_id=event.traceid,
            user=check_chat_id("user", data.get("user")),
            channel=check_chat_id("channel", data.get("channel")),
            text=text[:2000],
            response_url=response_url,
            source=str(data.get("source") or "api")[:16],
            groups=tuple(g for g in data.get("groups") or () if isinstance(g, str))[:256],
            wait=data.get("wait") is True,
            granted=_granted(data),
            given=_console_given(data),
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """One line being answered: who, what they meant, the role decision, and when."""

    command: ChatCommand
    understanding: Understanding
    decision: Decision
    context: ChatContext
    now: datetime
    # What the handler resolved while answering (`why?` on a service names one incident):
    # the next line's `it` must mean what this answer showed, not what the parser guessed.
    shown: dict[str, int] = field(default_factory=dict)

    @property
    def entities(self) -> Mapping[str, str | int]:
        return self.understanding.entities

    @property
    def actor(self) -> str:
        return f"chat:{self.command.user}"

    def store_command(self) -> Command:
        return Command(
            self.command.event_id,
            self.command.user,
            self.command.channel,
            self.understanding.intent,
            self.command.trace_id,
            self.now,
        )

    def record(self, kind: str, incident_id: int | None = None, **data: Any) -> AuditRecord:
        base = {
            "intent": self.understanding.intent,
            "text": self.command.text[:200],
            "role": self.decision.held_role.label if self.decision.held_role else None,
            "channel": self.command.channel,
        }
        return AuditRecord(
            kind=kind,
            occurred_at=self.now,
            actor=self.actor,
            incident_id=incident_id,
            event_id=self.command.event_id,
            trace_id=self.command.trace_id,
            data={**base, **data},
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """What a turn produced: the Slack message and the context for the next line."""

    message: dict[str, Any]
    context: ChatContext
    intent: str
    allowed: bool


class ChatHandler:
    """Serves one chat line against the store, the remediation commands and the responder."""

    def __init__(
        self,
        chat: ChatRuntime,
        incidents: IncidentReads,
        publish: Publish,
        remediation: RemediationReads | None = None,
    ) -> None:
        self.chat = chat
        self.incidents = incidents
        self.publish = publish
        self.remediation = remediation

    def handle(self, command: ChatCommand, now: datetime) -> Answer:
        """Understand, authorize, act, remember the context, and deliver the answer."""
        turn = self._turn(command, now)
        understanding, decision, context = turn.understanding, turn.decision, turn.context
        if understanding.question is not None and not _unasked_yes(turn):
            message, following = self._ask(understanding.question), next_context(
                context, understanding
            )
        elif decision.allowed:
            message, following = self._act(turn), _shown_context(next_context(context, understanding), turn)
        else:
            message, following = self._refuse(turn), context
        self.chat.contexts.put(command.user, command.channel, following, self.chat.context_ttl_s)
        if command.response_url:
            self._deliver(command.response_url, message)
        if command.wait and self.chat.answers is not None:
            self.chat.answers.put(command.event_id, message, ANSWER_TTL_S)
        log.info(
            "chat.answered",
            intent=understanding.intent,
            source=understanding.source,
            allowed=decision.allowed,
            entities=sorted(understanding.entities),
        )
        return Answer(message, following, understanding.intent, decision.allowed)

    def answer_read(self, command: ChatCommand, now: datetime) -> Answer | None:
        """The answer, here and now, to a line whose answer only reads; None for any other line.

        A status, a list, an incident, its explanation, its history, help: reading the store and
        remembering what was shown is all they do, so the edge may answer them without a broker
        round trip. A line that acts, is refused (a refusal is audited) or asks a question is left
        to `handle` (None), which understands it again in a worker.
        """
        turn = self._turn(command, now)
        understanding = turn.understanding
        if (understanding.question is not None or understanding.intent not in READ_INTENTS
                or not turn.decision.allowed):
            return None
        message = self._act(turn)
        following = _shown_context(next_context(turn.context, understanding), turn)
        self.chat.contexts.put(command.user, command.channel, following, self.chat.context_ttl_s)
        log.info("chat.answered", intent=understanding.intent, source=understanding.source, allowed=True,
                 entities=sorted(understanding.entities), where="edge")
        return Answer(message, following, understanding.intent, True)

    def _turn(self, command: ChatCommand, now: datetime) -> Turn:
        context = self.chat.contexts.get(command.user, command.channel)
        understanding = command.given or understand(command.text, context, self.chat.vocabulary)
        decision = authorize(command.user, command.groups, understanding.intent, self.chat.roles,
                             command.granted)
        return Turn(command, understanding, decision, context, now)

    def _deliver(self, response_url: str, message: dict[str, Any]) -> None:
        try:
            self.chat.responder.post(response_url, message)
        except PermanentError as exc:
            # Slack refused (the URL expired or was used up): the command's effects are committed
            # and retrying cannot deliver, so it is logged, not dead-lettered.
            log.warning("chat.reply_undeliverable", error=str(exc))

    def _ask(self, question: Question) -> dict[str, Any]:
        # Unsure, or an ambiguous name: nothing is done; the next line answers the question
        # (its choices wait in the context) and is authorized like any command.
        return question_reply(question)

    def _refuse(self, turn: Turn) -> dict[str, Any]:
        self.chat.commands.record(
            turn.store_command(),
            [
                turn.record(
                    "chat.refused",
                    _int(turn.entities.get("incident")),
                    needed_role=turn.decision.needed_role.label,
                    reason=turn.decision.reason,
                )
            ],
        )
        return refusal_reply(turn.decision, turn.understanding.intent)

    def _act(self, turn: Turn) -> dict[str, Any]:
        handler = INTENT_HANDLERS.get(turn.understanding.intent)
        if handler is None:
            return help_reply()
        try:
            return handler(self, turn)
        except NotFound as exc:
            return error_reply(str(exc).capitalize())

    # -- reads ----------------------------------------------------------------------------

    def _on_help(self, turn: Turn) -> dict[str, Any]:
        return help_reply()

    def _on_unknown(self, turn: Turn) -> dict[str, Any]:
        return help_reply("Sorry, I did not understand that.")

    def _on_status(self, turn: Turn) -> dict[str, Any]:
        service = _str(turn.entities.get("service"))
        open_incidents = self.incidents.list(status="open", service=service, limit=15)["items"]
        scores = self.chat.chat_queries.anomaly_scores(service, since=turn.now - SCORE_WINDOW)
        actions = self.chat.chat_queries.history(service=service, actions_only=True, limit=5)
        return status_reply(
            service,
            [_incident_line(i) for i in open_incidents],
            [ScoreLine(series, score) for series, score in scores],
            [_action_line(row) for row in actions],
        )

    def _on_list_incidents(self, turn: Turn) -> dict[str, Any]:
        service = _str(turn.entities.get("service"))
        page = self.incidents.list(status="open", service=service, limit=15)
        return incident_list_reply([_incident_line(i) for i in page["items"]], service)

    def _on_show_incident(self, turn: Turn) -> dict[str, Any]:
        incident_id = self._incident_of(turn)
        if incident_id is None:
            return error_reply("Which incident? Say `show incident 42`.")
        return self._detail(turn, incident_id, with_evidence=False)

    def _on_explain(self, turn: Turn) -> dict[str, Any]:
        incident_id = self._incident_of(turn)
        if incident_id is None:
            return error_reply("Explain which incident? Say `why 42`, or look at one first.")
        return self._detail(turn, incident_id, with_evidence=True)

    def _on_history(self, turn: Turn) -> dict[str, Any]:
        incident_id = _int(turn.entities.get("incident"))
        service = _str(turn.entities.get("service"))
        if incident_id is not None:
            rows, scope = (
                self.chat.chat_queries.history(incident_id=incident_id),
                f"incident #{incident_id}",
            )
        elif service is not None:
            rows, scope = self.chat.chat_queries.history(service=service), service
        else:
            rows, scope = self.chat.chat_queries.history(actions_only=True), None
        return history_reply([_action_line(row) for row in rows], scope)

    # -- writes ---------------------------------------------------------------------------

    def _on_ack(self, turn: Turn) -> dict[str, Any]:
        incident_id = self._incident_of(turn)
        if incident_id is None:
            return error_reply("Acknowledge which incident? Say `ack 42`.")
        done = self.chat.commands.acknowledge(turn.store_command(), incident_id, turn.actor)
        if not done.first and done.by != turn.actor:
            return acknowledgement_reply(
                f"Incident #{incident_id} was already acknowledged by {done.by}."
            )
        return acknowledgement_reply(
            f"Incident #{incident_id} acknowledged by {turn.actor}.", in_channel=True
        )

    def _on_escalate(self, turn: Turn) -> dict[str, Any]:
        incident_id = self._incident_of(turn)
        if incident_id is None:
            return error_reply("Escalate which incident? Say `escalate 42 to @team`.")
        self.incidents.get(incident_id)  # NotFound answers politely
        target = _str(turn.entities.get("target")) or "the next escalation tier"
        self.chat.commands.record(
            turn.store_command(), [turn.record("incident.escalated", incident_id, target=target)]
        )
        self.publish(
            ESCALATE,
            envelope(
                ESCALATION_REQUESTED,
                CHAT_SOURCE,
                {"incident_id": incident_id, "tier": None, "by": turn.actor},
                event_id=_derived_id(turn.command.event_id, ESCALATE),
                trace_id=turn.command.trace_id,
                now=turn.now,
            ),
        )
        return acknowledgement_reply(
            f"Escalating incident #{incident_id} ({target}) for {turn.actor}: its policy's next tier "
            f"is paged now; every page is in `history {incident_id}`.",
            in_channel=True,
        )

    def _on_silence(self, turn: Turn) -> dict[str, Any]:
        alertname, service = (
            _str(turn.entities.get("alertname")),
            _str(turn.entities.get("service")),
        )
        if alertname is None and service is None:
            return error_reply("Silence what? Say `silence HighCPU on ledger for 2h`.")
        duration = _duration(turn.entities.get("duration_s"))
        silence = self.chat.silences.create_silence(
            turn.store_command(),
            alertname=alertname,
            service=service,
            ends_at=turn.now + duration,
            actor=turn.actor,
            reason=turn.command.text[:200],
        )
        mirrored = self._mirror_silence(silence, turn)
        if alertname is not None and alertname not in set(self.chat.vocabulary.alerts.values()):
            mirrored += (
                f" {alertname} is not in the catalog's alert list: kept as written, so only alerts "
                "named exactly that are silenced."
            )
        what = " on ".join(part for part in (alertname, service) if part)
        until = silence.ends_at.strftime("%Y-%m-%d %H:%M UTC")
        return acknowledgement_reply(
            f"Silenced {what} until {until} ({_human(duration)}).{mirrored}", in_channel=True
        )

    def _on_unsilence(self, turn: Turn) -> dict[str, Any]:
        alertname, service = (
            _str(turn.entities.get("alertname")),
            _str(turn.entities.get("service")),
        )
        if alertname is None and service is None:
            return error_reply("Unsilence what? Say `unsilence HighCPU on ledger`.")
        ended = self.chat.silences.end_silences(
            turn.store_command(), alertname=alertname, service=service, actor=turn.actor
        )
        for silence in ended:
            if silence.alertmanager_id and self.chat.alertmanager is not None:
                self._quietly(self.chat.alertmanager.expire, silence.alertmanager_id)
        what = " on ".join(part for part in (alertname, service) if part)
        if not ended:
            return acknowledgement_reply(f"No active silence on {what}.")
        return acknowledgement_reply(f"Ended {len(ended)} silence(s) on {what}.", in_channel=True)

    def _on_remediate(self, turn: Turn) -> dict[str, Any]:
        service, incident_id = self._remediation_subject(turn)
        action = _str(turn.entities.get("action"))
        if service is None or action is None:
            return error_reply("Remediate what? Say `restart checkout` or `scale web to 6`.")
        event_id = _derived_id(turn.command.event_id, REQUEST_REMEDIATION)
        data = {
            "request_id": event_id.replace("-", "")[:32],
            "service": service,
            "action": action,
            "instance": _str(turn.entities.get("instance")),
            "capacity": _int(turn.entities.get("capacity")),
            "incident_id": incident_id,
            "requested_by": turn.command.user,
            "source": "chat",
        }
        self.chat.commands.record(
            turn.store_command(),
            [turn.record("chat.remediation_requested", data["incident_id"], request=data)],
        )
        if turn.command.response_url:
            # Not audited (it is a credential for the channel): the worker tells the run's fate there.
            data = {**data, "reply_to": turn.command.response_url}
        self.publish(
            REQUEST_REMEDIATION,
            envelope(
                REMEDIATION_REQUESTED,
                CHAT_SOURCE,
                data,
                event_id=event_id,
                trace_id=turn.command.trace_id,
                now=turn.now,
            ),
        )
        target = f"{service} ({data['instance']})" if data["instance"] else service
        scale = f" to {data['capacity']}" if data["capacity"] is not None else ""
        return acknowledgement_reply(
            f"Asked for {action} of {target}{scale} (request {data['request_id'][:12]}). It goes through "
            "validation, risk scoring, guards, dry run and approval like any other request; "
            f"`history {service}` shows what became of it.",
            in_channel=True,
        )

    def _remediation_subject(self, turn: Turn) -> tuple[str | None, int | None]:
        """The service to act on and the incident the request answers, from the line or the context.

        `restart it` after `show incident 42` restarts incident 42's service; a restart of the
        service the user last looked at an incident of is tied to that incident, so `approve 42`
        finds it.
        """
        service = _str(turn.entities.get("service"))
        incident_id = _int(turn.entities.get("incident"))
        if incident_id is None and turn.context.last_incident is not None and service is not None:
            candidate = self._open_incident(turn.context.last_incident)
            if candidate is not None and candidate["service"] == service:
                incident_id = candidate["id"]
        if service is None and incident_id is not None:
            incident = self._open_incident(incident_id)
            service = _str(incident["service"]) if incident is not None else None
        return service, incident_id

    def _open_incident(self, incident_id: int) -> Mapping[str, Any] | None:
        try:
            incident = self.incidents.get(incident_id)
        except NotFound:
            return None
        return incident if incident["status"] == "open" else None

    def _on_approve(self, turn: Turn) -> dict[str, Any]:
        return self._decide(turn, approve=True)

    def _on_deny(self, turn: Turn) -> dict[str, Any]:
        return self._decide(turn, approve=False)

    def _decide(self, turn: Turn, *, approve: bool) -> dict[str, Any]:
        verb = "approve" if approve else "deny"
        if approve and _BARE_YES.fullmatch(turn.command.text) and turn.context.pending_approval is None:
            return error_reply(
                "Nothing is waiting for your yes: I have not asked for an approval. "
                "Say `approve 42` to approve incident 42's remediation."
            )
        incident_id = self._incident_of(turn)
        if incident_id is None:
            return error_reply(
                f"{verb.capitalize()} which incident's remediation? Say `{verb} 42`."
            )
        waiting = self._waiting_run(incident_id) if self.remediation is not None else {}
        if waiting is None:
            return error_reply(
                f"No remediation of incident #{incident_id} waits for an approval; nothing was "
                f"{'approved' if approve else 'denied'}. `history {incident_id}` shows what happened."
            )
        role = turn.decision.held_role.label if turn.decision.held_role else ""
        data = {
            "incident_id": incident_id,
            "approve": approve,
            "decision": verb,
            "approver": turn.command.user,
            "actor": turn.command.user,
            "role": role,
            "groups": list(turn.command.groups),
            "reason": f"via chat: {turn.command.text[:200]}",
        }
        if turn.command.granted:  # the worker re-checks the key's role too
            data["granted_roles"] = [role.label for role in turn.command.granted]
        if turn.command.response_url:
            data["reply_to"] = turn.command.response_url  # the worker posts what it decided
        self.chat.commands.record(
            turn.store_command(),
            [turn.record("chat.decision_submitted", incident_id, decision=verb)],
        )
        self.publish(
            DECIDE_REMEDIATION,
            envelope(
                DECISION_GIVEN,
                CHAT_SOURCE,
                data,
                event_id=_derived_id(turn.command.event_id, DECIDE_REMEDIATION),
                trace_id=turn.command.trace_id,
                now=turn.now,
            ),
        )
        done = "Approval" if approve else "Denial"
        run = f"run #{waiting['id']} of " if waiting else ""
        follow = (
            "I will post here what it decided and how the run ends."
            if turn.command.response_url
            else f"`history {incident_id}` shows what it decided."
        )
        return acknowledgement_reply(
            f"{done} of {run}incident #{incident_id}'s remediation submitted by {turn.actor}; "
            f"the remediation worker re-checks it (role, deadline) before anything runs. {follow}",
            in_channel=True,
        )

    # -- helpers --------------------------------------------------------------------------

    def _incident_of(self, turn: Turn) -> int | None:
        incident_id = _int(turn.entities.get("incident"))
        if incident_id is None:
            service = _str(turn.entities.get("service"))
            if service is None:
                return None
            latest = self.incidents.list(status="open", service=service, limit=1)["items"]
            incident_id = latest[0]["id"] if latest else None
        if incident_id is not None:
            turn.shown["incident"] = incident_id
        return incident_id

    def _waiting_run(self, incident_id: int) -> dict[str, Any] | None:
        """The incident's run that waits for a human decision, if the read model knows one."""
        return _waiting_in(self._remediation_of(incident_id))

    def _remediation_of(self, incident_id: int) -> Mapping[str, Any]:
        """The incident's runs and advice (one read serves both); empty without the read model."""
        return self.remediation.for_incident(incident_id) if self.remediation is not None else {}

    def _detail(self, turn: Turn, incident_id: int, *, with_evidence: bool) -> dict[str, Any]:
        incident = self.incidents.get(incident_id)
        facts = {
            "Opened": _when(incident["opened_at"]),
            "Last seen": _when(incident["last_seen_at"]),
            "Firing alerts": str(incident["firing"]),
            "Alerts": str(incident["alert_count"]),
        }
        if incident.get("resolved_at"):
            facts["Resolved"] = _when(incident["resolved_at"])
        factors: list[str] = []
        risk = self.chat.chat_queries.latest_risk(incident_id)
        if risk is not None:
            facts["Risk"] = f"{risk['score']:.0f}/100 ({risk['decision']})"
            factors.extend(_factor_lines(risk["factors"]))
        if with_evidence:
            factors.extend(self._anomaly_lines(incident_id))
            if not factors:
                factors.append(
                    "No risk assessment or anomaly evidence has been recorded for this incident yet."
                )
        remediation = self._remediation_of(incident_id)
        if with_evidence and remediation.get("advice"):
            facts["What fixed similar incidents"] = _advice_text(remediation["advice"])
        waiting = _waiting_in(remediation)
        if waiting is not None:
            # The question the next bare "yes" answers: it is asked here, and only here.
            facts["Remediation"] = (
                f"run #{waiting['id']} waits for approval: say `approve it` or `deny it`"
            )
            turn.shown["pending_approval"] = incident_id
        return incident_detail_reply(_incident_line(incident), facts, factors)

    def _anomaly_lines(self, incident_id: int) -> list[str]:
        evidence = self.chat.chat_queries.incident_anomaly(incident_id)
        if evidence is None:
            return []
        summary = (
            f"Anomaly score up to {evidence['max_score']:.2f} (mean {evidence['mean_score']:.2f}); "
            f"{evidence['anomalous_points']} of {evidence['points']} points anomalous over "
            f"{evidence['series_count']} series"
        )
        lines = [summary]
        for series in list(evidence["top_series"] or [])[:3]:
            if isinstance(series, Mapping):
                name = (
                    series.get("name")
                    or series.get("series")
                    or series.get("series_key")
                    or "series"
                )
                lines.append(
                    f"{name}: score {float(series.get('max_score', series.get('score', 0.0))):.2f}"
                )
        return lines

    def _mirror_silence(self, silence: Any, turn: Turn) -> str:
        if self.chat.alertmanager is None or silence.alertmanager_id:
            return ""
        created = self._quietly(
            self.chat.alertmanager.create,
            alertname=silence.alertname,
            service=silence.service,
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            created_by=turn.actor,
            comment=f"SmartCloudOps chat silence {silence.id}",
        )
        if created is None:
            return " Alertmanager could not be reached; the silence holds here only."
        self.chat.silences.set_alertmanager_id(silence.id, created)
        return " Also silenced in Alertmanager."

    def _quietly(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Alertmanager is a mirror: our own silence already holds, so its failure is reported, not raised.
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure of the mirror is answered the same way
            log.warning("chat.alertmanager_failed", error=repr(exc))
            return None





def _unasked_yes(turn: Turn) -> bool:
    # A bare "yes" when nothing waits for one: say so (no approval is asked about) rather than
    # asking to confirm an approval of nothing.
    return (turn.understanding.intent == "approve" and turn.context.pending_approval is None
            and _BARE_YES.fullmatch(turn.command.text) is not None)


# The intents whose use case only reads the store (and the chat context): `answer_read` serves them.
READ_INTENTS = frozenset({"help", "unknown", "status", "list_incidents", "show_incident", "explain", "history"})

# Which use case serves which intent: one explicit table (a test checks it covers every intent).
# The console's buttons: the intents it sends, and the entities each may carry (typed).
CONSOLE_INTENTS = frozenset({"ack", "escalate", "silence"})
_CONSOLE_ENTITIES: Mapping[str, type] = {"incident": int, "alertname": str, "service": str, "duration_s": int}


GRANTING_SOURCES = ("api", "console")  # edges that prove who grants a role: an API key, a console account


def _granted(data: Mapping[str, Any]) -> tuple[Role, ...]:
    """Roles the edge granted (re-validated); Slack grants none, whatever a message carries."""
    if data.get("source") not in GRANTING_SOURCES:
        return ()
    return tuple(Role.parse(label) for label in data.get("granted_roles") or ()
                 if isinstance(label, str) and label in _ROLE_LABELS)


def _console_given(data: Mapping[str, Any]) -> Understanding | None:
    """The console's given intent and entities, re-validated; nothing for any other source."""
    if data.get("source") != "console" or data.get("intent") not in CONSOLE_INTENTS:
        return None
    raw = data.get("entities") if isinstance(data.get("entities"), Mapping) else {}
    entities = {k: raw[k] for k, kind in _CONSOLE_ENTITIES.items()
                if isinstance(raw.get(k), kind) and not isinstance(raw.get(k), bool)}
    return Understanding(str(data["intent"]), entities, 1.0, source="console")


INTENT_HANDLERS: Mapping[str, Callable[[ChatHandler, Turn], dict[str, Any]]] = {
    "help": ChatHandler._on_help,
    "unknown": ChatHandler._on_unknown,
    "status": ChatHandler._on_status,
    "list_incidents": ChatHandler._on_list_incidents,
    "show_incident": ChatHandler._on_show_incident,
    "explain": ChatHandler._on_explain,
    "history": ChatHandler._on_history,
    "ack": ChatHandler._on_ack,
    "escalate": ChatHandler._on_escalate,
    "silence": ChatHandler._on_silence,
    "unsilence": ChatHandler._on_unsilence,
    "remediate": ChatHandler._on_remediate,
    "approve": ChatHandler._on_approve,
    "deny": ChatHandler._on_deny,
}


def _shown_context(context: ChatContext, turn: Turn) -> ChatContext:
    """The next context points at what this answer showed; a question asked makes a yes meaningful."""
    shown = turn.shown.get("incident")
    if shown is not None:
        context = replace(context, last_incident=shown, focus="incident")
    pending = turn.shown.get("pending_approval")
    if pending is not None:
        context = context.awaiting_approval(pending)
    return context


def _derived_id(event_id: str, what: str) -> str:
    # The same chat message always publishes the same follow-up id, so a redelivery is one command.
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{what}|{event_id}"))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _duration(value: Any) -> timedelta:
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return DEFAULT_SILENCE
    return min(timedelta(seconds=seconds), MAX_SILENCE)


def _human(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") + " UTC" if value else "-"


def _incident_line(incident: Mapping[str, Any]) -> IncidentLine:
    return IncidentLine(
        id=incident["id"],
        title=incident["alertname"],
        severity=incident["severity"] or "none",
        state=incident["status"],
        service=incident["service"] or None,
        opened_at=_when(incident.get("opened_at")),
    )


def _action_line(row: Mapping[str, Any]) -> ActionLine:
    data = row.get("data") or {}
    incident = row.get("incident_id")
    target = f"#{incident}" if incident else str(data.get("service") or data.get("alertname") or "")
    why = _outcome_words(data) if str(row.get("kind")).startswith("remediation.outcome") else _why(data)
    return ActionLine(
        when=_when(row.get("occurred_at")),
        action=str(row.get("kind")),
        target=target,
        outcome=str(row.get("actor")) + (f": {why}" if why else ""),
    )


def _outcome_words(data: Mapping[str, Any]) -> str:
    """What a judged run's outcome row says: the action, and fixed, not fixed or still open."""
    fixed = data.get("fixed")
    verdict = ("fixed" if fixed is True else "not fixed" if fixed is False
               else "resolved; recurrence known after 24 h" if data.get("resolved") else "not resolved")
    worse = ", a new alert fired on the service (worse)" if data.get("worsened") else ""
    return f"{data.get('action') or 'the run'}: {verdict}{worse}"


def _why(data: Mapping[str, Any]) -> str:
    """The reason a refusal, failure or decision row carries (a refusal without it explains nothing)."""
    for key in ("detail", "reason", "error", "why"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            code = data.get("reason_code")
            return f"{code}: {value}"[:300] if isinstance(code, str) and code not in value else value[:300]
    code = data.get("reason_code")
    return code if isinstance(code, str) else ""


def _waiting_in(remediation: Mapping[str, Any]) -> dict[str, Any] | None:
    waiting = [run for run in remediation.get("remediation") or [] if run.get("state") == "awaiting_approval"]
    return waiting[-1] if waiting else None


ADVICE_SHOWN = 5  # the rest is on the incident page (a Slack field holds 2,000 characters)


def _advice_text(advice: Sequence[Any]) -> str:
    """The ranked actions with their counts and intervals, as the incident page carries them."""
    shown = [a for a in advice if isinstance(a, Mapping) and a.get("explanation")][:ADVICE_SHOWN]
    lines = [f"{rank}. {entry['explanation']}{_classifier_says(entry)}" for rank, entry in enumerate(shown, 1)]
    if any(entry.get("ranked_by") == "classifier" for entry in shown):
        lines.insert(0, "Ranked by the outcome classifier; counts from the rates:")
    if len(advice) > len(shown):
        lines.append(f"({len(advice) - len(shown)} more on the incident page)")
    return "\n".join(lines)


def _classifier_says(entry: Mapping[str, Any]) -> str:
    chance = entry.get("classifier_probability")
    return f"; classifier {float(chance):.0%}" if isinstance(chance, (int, float)) else ""


def _factor_lines(factors: Any) -> list[str]:
    lines = []
    for factor in factors if isinstance(factors, list) else []:
        if isinstance(factor, Mapping):
            name = factor.get("name", "factor")
            share = factor.get("contribution")
            explained = factor.get("explanation") or ""
            lines.append(
                f"{name}"
                + (f" (+{float(share):.0f})" if share is not None else "")
                + (f": {explained}" if explained else "")
            )
    return lines
