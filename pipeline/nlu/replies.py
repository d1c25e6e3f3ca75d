"""Slack Block Kit messages for each kind of chat answer: plain data in, message dict out.

Every piece of text that came from users, alerts or the store goes through `escape`, so
`<!channel>` in an alert summary cannot ping a channel and `<http://x|y>` cannot forge a link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.nlu.authz import Decision

# Slack's limits: a section's text is at most 3000 characters, a message at most 50 blocks.
_SECTION_LIMIT = 3000
_MAX_LISTED = 15

IN_CHANNEL = "in_channel"
EPHEMERAL = "ephemeral"

HELP_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("status [service]", "open incidents, anomaly scores and last actions"),
    ("what's on fire / list incidents [for service]", "open incidents"),
    ("show incident 42", "one incident in detail"),
    ("why? / explain 42", "risk factors and anomaly evidence"),
    ("restart|reboot|redeploy|start <service or i-...>, scale <service> to N", "ask for remediation"),
    ("approve 42 / deny 42", "decide on a remediation waiting for a human"),
    ("ack 42 / escalate 42 to <team>", "take or hand over an incident"),
    ("silence <alert> on <service> for 2h / unsilence ...", "mute or unmute alerts"),
    ("history [service]", "what SmartCloudOps did, from the audit log"),
)


@dataclass(frozen=True)
class IncidentLine:
    """An incident as one line of a list."""

    id: int
    title: str
    severity: str
    state: str
    service: str | None = None
    opened_at: str | None = None


@dataclass(frozen=True)
class ActionLine:
    """A remediation or chat action, for status and history."""

    when: str
    action: str
    target: str
    outcome: str


@dataclass(frozen=True)
class ScoreLine:
    """A recent anomaly score of one series."""

    series: str
    score: float


def escape(text: str) -> str:
    """Escape `&`, `<`, `>` as Slack requires for text that is not markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def help_reply(intro: str | None = None) -> dict:
    """What the bot understands, with examples (also the answer to text it did not)."""
    lines = [f"• `{escape(example)}`: {escape(meaning)}" for example, meaning in HELP_EXAMPLES]
    blocks = [_section("*What I understand* (plain words and typos are fine)\n" + "\n".join(lines))]
    if intro:
        blocks.insert(0, _section(escape(intro)))
    return _message("Commands SmartCloudOps understands", blocks, EPHEMERAL)


def status_reply(
    service: str | None,
    incidents: Sequence[IncidentLine],
    scores: Sequence[ScoreLine],
    actions: Sequence[ActionLine],
) -> dict:
    """Open incidents, recent anomaly scores and last actions, for one service or all."""
    scope = f"`{escape(service)}`" if service else "all services"
    headline = f"{len(incidents)} open incident(s)" if incidents else "no open incidents"
    blocks = [_header(f"Status of {service or 'all services'}"),
              _section(f"*{scope}*: {headline}")]
    if incidents:
        blocks.append(_section(_incident_lines(incidents)))
    if scores:
        blocks.append(_section("*Anomaly scores*\n" + "\n".join(
            f"• `{escape(score.series)}` {score.score:.2f}" for score in scores[:_MAX_LISTED])))
    if actions:
        blocks.append(_section("*Last actions*\n" + _action_lines(actions)))
    return _message(f"Status of {service or 'all services'}: {headline}", blocks, IN_CHANNEL)


def incident_list_reply(incidents: Sequence[IncidentLine], service: str | None = None) -> dict:
    """The open incidents, most relevant first as given, capped with an `and N more` line."""
    where = f" for {service}" if service else ""
    if not incidents:
        return _message(f"No open incidents{where}",
                        [_section(f"No open incidents{escape(where)}. :white_check_mark:")],
                        IN_CHANNEL)
    blocks = [_header(f"Open incidents{where}"), _section(_incident_lines(incidents))]
    return _message(f"{len(incidents)} open incident(s){where}", blocks, IN_CHANNEL)


def incident_detail_reply(
    incident: IncidentLine, facts: Mapping[str, str], factors: Sequence[str] = ()
) -> dict:
    """One incident: its fields as a grid of facts, then the risk factors if any."""
    fields = [{"type": "mrkdwn", "text": f"*{escape(name)}*\n{escape(value)}"}
              for name, value in list(facts.items())[:10]]
    blocks: list[dict] = [
        _header(f"Incident #{incident.id}: {incident.title}"),
        _section(f"*{escape(incident.severity)}* · {escape(incident.state)}"
                 + (f" · `{escape(incident.service)}`" if incident.service else "")),
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if factors:
        blocks.append(_section("*Why*\n" + "\n".join(f"• {escape(f)}" for f in factors[:10])))
    return _message(f"Incident #{incident.id}: {incident.title}", blocks, IN_CHANNEL)


def history_reply(actions: Sequence[ActionLine], scope: str | None = None) -> dict:
    """Recent actions from the audit log."""
    title = f"History of {scope}" if scope else "Recent actions"
    body = _action_lines(actions) if actions else "Nothing recorded yet."
    return _message(title, [_header(title), _section(body)], IN_CHANNEL)


def acknowledgement_reply(text: str, in_channel: bool = False) -> dict:
    """A short confirmation (`Working on it`, `Silenced HighCPU for 2h`)."""
    return _message(text, [_section(f":white_check_mark: {escape(text)}")],
                    IN_CHANNEL if in_channel else EPHEMERAL)


def refusal_reply(decision: Decision, intent: str) -> dict:
    """A polite no: the role the request needs and the role the user holds."""
    held = decision.held_role.label if decision.held_role else "no role"
    text = (f"Sorry, `{escape(intent)}` needs the *{decision.needed_role.label}* role and you "
            f"hold *{held}*. Ask an admin to grant it in `config/roles.yaml`.")
    return _message("Not allowed", [_section(f":no_entry: {text}")], EPHEMERAL)


def error_reply(message: str) -> dict:
    """Something went wrong answering; the message says what, without internals."""
    return _message(message, [_section(f":warning: {escape(message)}")], EPHEMERAL)


def _incident_lines(incidents: Sequence[IncidentLine]) -> str:
    lines = [
        f"• *#{i.id}* {escape(i.title)} · {escape(i.severity)} · {escape(i.state)}"
        + (f" · `{escape(i.service)}`" if i.service else "")
        + (f" · since {escape(i.opened_at)}" if i.opened_at else "")
        for i in incidents[:_MAX_LISTED]
    ]
    if len(incidents) > _MAX_LISTED:
        lines.append(f"…and {len(incidents) - _MAX_LISTED} more")
    return "\n".join(lines)


def _action_lines(actions: Sequence[ActionLine]) -> str:
    lines = [f"• {escape(a.when)} `{escape(a.action)}` {escape(a.target)}: {escape(a.outcome)}"
             for a in actions[:_MAX_LISTED]]
    if len(actions) > _MAX_LISTED:
        lines.append(f"…and {len(actions) - _MAX_LISTED} more")
    return "\n".join(lines)


def _header(text: str) -> dict:
    # Header blocks are plain_text (no mrkdwn, no escaping) and at most 150 characters.
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(markdown: str) -> dict:
    if len(markdown) > _SECTION_LIMIT:
        markdown = markdown[: _SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def _message(fallback: str, blocks: list[dict], response_type: str) -> dict:
    # `text` is the notification and screen-reader fallback Slack shows when blocks cannot be.
    return {"response_type": response_type, "text": escape(fallback)[:300], "blocks": blocks}
