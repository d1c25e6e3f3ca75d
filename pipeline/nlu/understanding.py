"""Understand one chat line in its conversation: intent, entities, and what came from context."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pipeline.nlu.classifier import Classifier, intent_classifier
from pipeline.nlu.context import ChatContext
from pipeline.nlu.reading import Reading, read
from pipeline.nlu.rules import match_rule
from pipeline.nlu.vocabulary import Vocabulary

INTENTS = (
    "status", "list_incidents", "show_incident", "approve", "deny", "ack", "silence",
    "unsilence", "remediate", "explain", "escalate", "history", "help", "unknown",
)
ACTIONS = ("restart", "reboot", "scale", "redeploy", "start")
# Below this classifier confidence a line is out of the domain: answered with help.
CONFIDENCE_THRESHOLD = 0.4
# A line that names a catalog service, an alert, an instance or an incident is about
# operations even when its phrasing is new, so a question about it needs less confidence;
# a command never does: a wrong guess there acts, a wrong question only answers.
GROUNDED_CONFIDENCE_THRESHOLD = 0.25
_GROUNDING_KINDS = frozenset({"service", "alertname", "instance", "incident"})
_QUESTIONS = frozenset({"status", "list_incidents", "show_incident", "explain", "history"})

_INCIDENT_INTENTS = frozenset({"show_incident", "approve", "deny", "ack", "explain", "escalate"})
_ANAPHORS = frozenset({"it", "its", "it's", "that", "this", "them", "there", "same", "again"})
_SUBJECT_KEYS = ("incident", "service", "instance", "alertname")
# Keys that only mean something for one intent: a verb in `history of restarts` is not
# an action to run, and `to 6` outside scaling is not a capacity.
_INTENT_ONLY_KEYS = {"action": "remediate", "capacity": "remediate", "target": "escalate"}


@dataclass(frozen=True)
class Understanding:
    """What a line means: intent, entity values, confidence, and keys filled from context."""

    intent: str
    entities: dict[str, str | int]
    confidence: float
    resolved_from_context: frozenset[str] = field(default_factory=frozenset)
    source: str = "rule"


def understand(
    text: str,
    context: ChatContext,
    vocabulary: Vocabulary,
    classifier: Classifier | None = None,
) -> Understanding:
    """Intent and entities of `text`, resolving `it`, `that`, `why?` from `context`."""
    reading = read(text, vocabulary)
    intent, confidence, source = _recognise(reading, classifier)
    entities = _entities(reading, intent)
    resolved = _resolve(intent, entities, reading, context)
    return Understanding(intent, entities, confidence, frozenset(resolved), source)


def next_context(context: ChatContext, understanding: Understanding) -> ChatContext:
    """The context after this turn: subjects named now become what `it` refers to."""
    if understanding.intent in ("unknown", "help"):
        return context
    entities = understanding.entities
    updated = replace(context, last_intent=understanding.intent)
    # The most specific subject named last is what `it` means next: an incident over an
    # instance over a service.
    if "service" in entities:
        updated = replace(updated, last_service=entities["service"], focus="service")
        if "instance" not in entities:
            updated = replace(updated, last_instance=None)
    if "instance" in entities:
        updated = replace(updated, last_instance=entities["instance"], focus="instance")
    if "incident" in entities:
        updated = replace(updated, last_incident=entities["incident"], focus="incident")
    if "action" in entities:
        updated = replace(updated, last_action=entities["action"])
    if understanding.intent in ("approve", "deny"):
        updated = replace(updated, pending_approval=None)
    return updated


def _recognise(reading: Reading, classifier: Classifier | None) -> tuple[str, float, str]:
    if not reading.masked:
        return "help", 1.0, "rule"
    ruled = match_rule(reading.masked)
    if ruled is not None:
        return ruled, 1.0, "rule"
    prediction = (classifier or intent_classifier()).predict(reading.masked)
    grounded = any(mention.kind in _GROUNDING_KINDS for mention in reading.mentions)
    question = prediction.intent in _QUESTIONS
    threshold = GROUNDED_CONFIDENCE_THRESHOLD if grounded and question else CONFIDENCE_THRESHOLD
    if prediction.confidence < threshold:
        return "unknown", prediction.confidence, "threshold"
    return prediction.intent, prediction.confidence, "classifier"


def _entities(reading: Reading, intent: str) -> dict[str, str | int]:
    if intent == "unknown":
        return {}
    entities: dict[str, str | int] = {}
    for mention in reading.mentions:
        if mention.kind == "number" or _INTENT_ONLY_KEYS.get(mention.kind, intent) != intent:
            continue
        entities.setdefault(mention.kind, mention.value)
    _assign_numbers(reading, intent, entities)
    if intent == "remediate" and "capacity" in entities:
        entities.setdefault("action", "scale")  # `put web on 5 replicas` can only mean scaling
    return entities


def _assign_numbers(reading: Reading, intent: str, entities: dict[str, str | int]) -> None:
    # A bare number is a replica count when scaling, otherwise an incident id.
    candidates = [m for m in reading.mentions if m.kind in ("number", "capacity")]
    for mention in candidates:
        scaling = intent == "remediate" and entities.get("action") in ("scale", None)
        if scaling and "capacity" not in entities:
            entities["capacity"] = mention.value
        elif "incident" not in entities and (mention.kind == "number" or intent != "remediate"):
            entities["incident"] = mention.value


def _resolve(
    intent: str, entities: dict[str, str | int], reading: Reading, context: ChatContext
) -> set[str]:
    if intent in ("unknown", "help") or any(key in entities for key in _SUBJECT_KEYS):
        return set()
    if intent in ("approve", "deny") and context.pending_approval is not None:
        entities["incident"] = context.pending_approval
        return {"incident"}
    if intent in _INCIDENT_INTENTS and intent != "explain":
        return _fill(entities, context, "incident")
    pointing = bool(_ANAPHORS.intersection(reading.words()))
    if intent in ("explain", "remediate", "silence", "unsilence") or pointing:
        return _fill(entities, context, _focus_for(intent, context))
    return set()


def _focus_for(intent: str, context: ChatContext) -> str | None:
    focus = context.focus
    if intent == "remediate" and focus == "incident" and context.last_service is not None:
        return "service"  # an incident is not restarted; its service is
    return focus


def _fill(entities: dict[str, str | int], context: ChatContext, kind: str | None) -> set[str]:
    value = {
        "incident": context.last_incident,
        "service": context.last_service,
        "instance": context.last_instance,
    }.get(kind or "")
    if value is None:
        return set()
    entities[kind] = value
    return {kind}
