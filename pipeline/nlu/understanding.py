"""Understand one chat line in its conversation: intent, entities, and what came from context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pipeline.nlu.clarify import (
    MUTATING_INTENTS,
    Choice,
    Question,
    answer,
    ask_intent,
    ask_which_service,
    confirm_unknown_alert,
)
from pipeline.nlu.classifier import Classifier, Prediction, intent_classifier
from pipeline.nlu.context import ChatContext
from pipeline.nlu.injection import carries_payload
from pipeline.nlu.lexicon import ACTION_WORDS, COMMON_WORDS, KEYWORDS
from pipeline.nlu.negation import affirmation, decision, reversal
from pipeline.nlu.reading import Reading, clause_span, read
from pipeline.nlu.rules import about_the_bot, match_rule
from pipeline.nlu.vocabulary import Vocabulary

INTENTS = (
    "status", "list_incidents", "show_incident", "approve", "deny", "ack", "silence",
    "unsilence", "remediate", "explain", "escalate", "history", "help", "unknown",
)
ACTIONS = ("restart", "reboot", "scale", "redeploy", "start")
# Below this classifier probability a line is out of the domain: answered with help.
CONFIDENCE_THRESHOLD = 0.3
# A line that names a catalog service, an alert, an instance or an incident is about
# operations even when its phrasing is new, so a question about it needs less confidence;
# a command never does: a wrong guess there acts, a wrong question only answers.
GROUNDED_CONFIDENCE_THRESHOLD = 0.2
# A line whose only link to operations is a service named by a plain word needs this much.
WEAK_GROUNDING_THRESHOLD = 0.55
# Below this probability a mutating intent (MUTATING_INTENTS) is never acted on: the bot
# asks which of its best guesses was meant.
ASK_THRESHOLD = 0.6
_GROUNDING_KINDS = frozenset({"service", "alertname", "instance", "incident"})
_QUESTIONS = frozenset({"status", "list_incidents", "show_incident", "explain", "history"})

# Symptoms of a system in trouble: with one of these, a plain word that names a service
# (`bedboard not updating`, `fhir latency is through the roof`) is that service.
_SYMPTOM_WORDS = frozenset(
    {"latency", "queue", "backlog", "lag", "lagging", "errors", "error", "failing", "failed",
     "failure", "failures", "stale", "stuck", "slow", "timeout", "timeouts", "timing", "down",
     "crash", "crashing", "crashed", "updating", "outage", "500s", "5xx", "502", "503", "cpu",
     "memory", "oom", "disk", "p99", "depth", "unreachable", "hanging", "flapping", "spiking"}
)
_OPERATIONS_WORDS = KEYWORDS | frozenset(ACTION_WORDS) | _SYMPTOM_WORDS
_INCIDENT_INTENTS = frozenset({"show_incident", "approve", "deny", "ack", "explain", "escalate"})
_ANAPHORS = frozenset({"it", "its", "it's", "that", "this", "them", "there", "same", "again"})
_SUBJECT_KEYS = ("incident", "service", "instance", "alertname")
# Keys that only mean something for one intent: a verb in `history of restarts` is not
# an action to run, and `to 6` outside scaling is not a capacity.
_INTENT_ONLY_KEYS = {"target": "escalate"}
# A verb in a question about state (`when did 4482 start`) is not an action to run.
_ACTIONLESS = frozenset({"status", "list_incidents", "show_incident", "help", "ack", "silence",
                         "unsilence", "escalate"})
# After these the bot has proposed an action, so `cancel that` or `don't` turns it down.
_PROPOSING = frozenset({"remediate", "show_incident", "explain", "approve"})
# `should we restart cart?` asks for an opinion: it is never a command to act on.
_INTERROGATIVES = frozenset(
    {"should", "is", "are", "how", "what", "what's", "whats", "why", "when", "who", "does",
     "did", "was", "were", "shall", "do"}
)
_MODALS = frozenset({"would", "could", "can", "will", "might"})
# `could you …`, `can we …`, `can someone …`: a request, not a question about an outcome.
_REQUESTED_OF = frozenset({"you", "u", "ya", "we", "i", "someone", "somebody", "anyone", "the"})
# `can you restart cart?`, `restart cart pls?`: a question mark on a request.
_REQUEST_RE = re.compile(
    r"\b(?:(?:can|could|would|will)\s+(?:you|u|ya|we|someone|somebody|anyone)|please|pls|plz)\b"
)
# A condition (`restart cart if it hangs`) is one the bot cannot check: asked, not acted on.
_HEDGES = frozenset({"maybe", "perhaps", "possibly", "might", "unsure", "worth", "if", "unless"})
# `and pricing?`, `same for i-0e9f8a7b`: the last command again, for another subject.
_FOLLOW_UP_RE = re.compile(
    r"^(?:(?:ok|okay|so|hm|hmm|right|cool|thanks|thx)\s+)?(?:and|also|same for|same on|same with|same|what about|how about|ditto for|now|only)\s+"
    r"(?=.*<(?:svc|inst|inc|num|region|alert)>)"
    r"(?:(?:<svc>|<inst>|<inc>|<num>|<region>|<alert>|<dur>|in|on|for|the|too|also|as well|"
    r"please|pls|\?|not everywhere|then|one|it|that)\s*)+$"
)
# `in ca-central-1`, `Specifically the portal and scheduler.`, `just records then` right
# after a question: the same question about the subject named now (a command is never
# repeated this way: the words say nothing of one).
_BARE_SUBJECT_RE = re.compile(
    r"^(?:(?:ok|okay|so|hmm|just|only|specifically|what about|how about|in|on|for|the|"
    r"and|then|please|pls)\s+)*(?:<svc>|<inst>|<region>|<alert>)"
    r"(?:\s+(?:and|in|on|for|the|only|then|too|please|pls|specifically|stuff|\?|<svc>|<inst>|"
    r"<region>|<alert>))*$"
)
# `wait, not 10, 6`, `no, 6`, `make it 8`: the replica count of the scaling just asked for.
_CORRECTION_RE = re.compile(
    r"^(?:(?:no|nope|wait|actually|sorry|oops|make it|not|i meant|meant|sry|hmm|hm|ok|oh)\s+)+"
    r"(?:(?:<num>|<cap>|<inc>)\s+)?(?:<num>|<cap>|<inc>)(?:\s+(?:replicas|instances|pods|please|pls))*$"
)
# `make it 3h`, `extend it to 2 days`, `no wait, just 2h` right after a silence.
_SILENCE_CHANGE_RE = re.compile(
    r"^(?:(?:no|nope|wait|actually|sorry|oops|ok|hmm|hm|make it|make that|extend it to|"
    r"extend it|extend to|extend|change it to|change to|just|only|i meant|meant|for|another|"
    r"instead|then|pls|please)[\s,]*)+(?:<dur>|<num>|<cap>)(?![^<]*<(?:svc|alert|inst|inc)>)"
)
# Putting a decision off: `hold on`, `not yet`, `for now`, `wait`, `until the call`.
_DEFERRAL_RE = re.compile(
    r"\b(?:wait|hold\s+(?:on|off|up)|yet|for\s+now|not\s+now|later|until|till)\b"
)
_DECISION_VERB_RE = re.compile(
    r"\b(?<!don't )(?<!dont )(?<!not )"
    r"(?:deny|denied|reject\w*|declin\w*|veto\w*|refus\w*|cancel\w*|abort\w*|approv\w*|lgtm)\b"
)
_SILENCE_EVIDENCE_RE = re.compile(
    r"mut|silenc|snooz|suppress|quiet|shush|hush|alert|alarm|pag(?:e|ing)|notif|<alert>|<dur>"
)
# Words that say a line is about size (`set web replicas = 7`, `more capacity, make it 8`).
_SIZE_WORDS = frozenset(
    {"replicas", "replica", "instances", "pods", "nodes", "workers", "capacity", "=", "<cap>"}
)
_DETERMINERS = frozenset(
    {"the", "a", "an", "my", "our", "your", "his", "her", "their", "this", "that"}
)
# Words a service name may be followed by and still be what a command acts on.
_KNOWN_WORDS = COMMON_WORDS | KEYWORDS | frozenset(ACTION_WORDS) | frozenset(
    {"pls", "plz", "asap", "alerts", "alert", "svc", "api", "pods", "pod", "nodes", "replicas",
     "instances", "workers", "service", "cluster", "thx", "thanks", "tho", "though", "lol",
     "rn", "again", "please", "too", "only", "ones", "stuff", "boxes", "box", "hosts", "deploy",
     "deployment", "container", "containers", "jobs", "queue", "queues", "backend", "frontend",
     "tier", "stack", "prod", "staging", "region", "everywhere"}
)
# What a bare command (`restart`, `scale up pls`) may say besides its verb.
_BARE_COMMAND_WORDS = frozenset(ACTION_WORDS) | frozenset(
    {"please", "pls", "plz", "now", "asap", "up", "down", "out", "in", "again", "ok", "okay",
     "bot", "ops", "can", "could", "you", "u", "thanks", "thx", "?", "!", "do", "a", "the"}
)
_QUOTED_RE = re.compile(r"[`\"\u201c\u201d]([^`\"\u201c\u201d]+)[`\"\u201c\u201d]")
_COMMAND_VERBS = frozenset(ACTION_WORDS) | frozenset(
    {"approve", "deny", "reject", "ack", "silence", "mute", "unmute", "unsilence", "escalate",
     "page", "snooze"}
)
# The stems of each mutating command's verbs, for telling `cart was restarted` (what
# happened) from `restart cart` (approve and deny are said in the past as decisions:
# `approved`, `rejected`).
_NARRATED_STEMS = {
    "remediate": "restart|reboot|redeploy|deploy|scal|start|bounc|roll|cycl|kick",
    "silence": "silenc|mut|snooz|suppress|quiet",
    "unsilence": "unsilenc|unmut|unsnooz",
    "escalate": "escalat|pag|ping|notif",
    "ack": "ack|acknowledg",
}
# `restart cart tomorrow morning`, `ack 4412 later`: the bot has no schedule, so a command
# for later is asked about (a silence's own times set its window, and a decision is now).
_LATER_RE = re.compile(
    r"\b(?:later|tomorrow|tmrw|tonight|next\s+(?:week|month|time)|this\s+(?:evening|weekend))\b"
)
_NOW_OR_NEVER = frozenset({"remediate", "ack", "escalate"})
# A command handed to someone else (`tell bob to restart cart`) or to the user's own memory
# (`remind me to ack 4412`, `don't forget to restart cart`) is not given to the bot.
_DELEGATED_RE = re.compile(
    r"^\W*(?:(?:pls|please|hey)\s+)?(?:remind\s+me|don'?t\s+forget|do\s+not\s+forget|"
    r"note\s+to\s+self)\b"
    r"|\b(?:tell|ask|remind|get)\s+(?!(?:you|u|the\s+bot)\b)(?:[\w@.-]+\s+){1,3}?to\s+"
    r"(?:restart|reboot|redeploy|scale|start|bounce|silence|mute|unmute|ack|approve|deny|reject)"
)
# Verbs that give a mutating command, by the intent they give.
_COMMAND_INTENTS = {
    **{word: "remediate" for word in ("restart", "reboot", "redeploy", "scale", "bounce")},
    **{word: "silence" for word in ("silence", "mute", "snooze")},
    **{word: "unsilence" for word in ("unsilence", "unmute", "unsnooze")},
    "ack": "ack", "acknowledge": "ack", "escalate": "escalate", "approve": "approve",
    "deny": "deny", "reject": "deny",
}
# A bare yes (the verb `approve` is not one: it says what it does).
_BARE_YES_RE = re.compile(r"(?:(?:y|yes|yep|yeah|yup|sure|ok|okay|k|please|pls)\s*)+")
# Verbs for what the bot cannot do to a service or instance.
_UNSUPPORTED_RE = re.compile(
    r"^(?:(?:please|pls|can you|could you|ok)\s+)*"
    r"(?:stop|terminate|kill|delete|destroy|shut\s*down|shutdown|drain|wipe|decommission|remove)\b"
)
_HOW_OFTEN_RE = re.compile(r"^(?:\S+\s+)?how\s+(?:often|many\s+times)\b")
_ASKS_HOW_RE = re.compile(r"^(?:\S+\s+)?how\s+(?:do|can|should|would)\s+(?:i|we|one)\b")
_OPPOSITES = {"silence": "unsilence", "unsilence": "silence"}
# Where a clause opens: the previous word (or filler) ends with one of these before the verb.
_OPENS_A_CLAUSE_RE = re.compile(
    r"(?:[,;+&]|\band|\bthen|\balso|\bplus)\W*(?:(?:then|also|pls|please)\W+)*\S*$"
)
# What may come before a command that opens the line (`ok`, `pls`, `can you`).
_LINE_OPENING_RE = re.compile(
    r"\W*(?:(?:ok|okay|k|pls|please|plz|so|now|first|just|hey|yes|yeah|then|"
    r"(?:can|could|would|will)\s+(?:you|u|we|someone|somebody))\W+)*"
)
# After a command verb these make it a noun or a subject (`reboot is too aggressive`).
_NOUN_MARKERS = frozenset(
    {"is", "was", "isn't", "wasn't", "will", "would", "can", "could", "should", "has", "had",
     "on", "of", "did", "does", "went", "failed", "worked", "finished", "done"}
)
# Slack's quote: the line quotes a message, the rest of the text answers it.
_QUOTE_RE = re.compile(r"^\s*(?:>|&gt;)")
# Whom a mutating command acts on; without one (and nothing in context) the bot asks.
_OBJECT_KEYS = frozenset({"incident", "service", "instance", "alertname", "region"})
# The chat handler restarts an incident's own service (`show 42` then `restart it`).
_REMEDIATION_OBJECTS = frozenset({"service", "instance", "incident"})


@dataclass(frozen=True)
class Understanding:
    """What a line means: intent, entity values, confidence, and keys filled from context.

    `question` is set when the bot must ask before acting (`intent` is then its best
    guess, not something to act on).
    """

    intent: str
    entities: dict[str, str | int]
    confidence: float
    resolved_from_context: frozenset[str] = field(default_factory=frozenset)
    source: str = "rule"
    question: Question | None = None

    @property
    def asks(self) -> bool:
        """True when the bot asks a clarifying question instead of acting or answering."""
        return self.question is not None


def understand(
    text: str,
    context: ChatContext,
    vocabulary: Vocabulary,
    classifier: Classifier | None = None,
) -> Understanding:
    """Intent and entities of `text`, resolving `it`, `that`, `why?` from `context`."""
    if context.pending_choices:
        answered = _answered(text, context)
        if answered is not None:
            return answered
    quote, reply = _split_quote(text)
    reading = read(reply if quote else text, vocabulary)
    if context.last_intent and (_FOLLOW_UP_RE.match(reading.masked) or (
        context.last_intent in _QUESTIONS and _BARE_SUBJECT_RE.match(reading.masked)
        and "<svc> " + reading.masked != "<svc> <svc>"
    )):
        return _follow_up(reading, context)
    if (context.last_intent == "remediate" and context.last_action == "scale"
            and _CORRECTION_RE.match(reading.masked)):
        return _corrected_capacity(reading, context)
    if context.last_intent == "silence" and _SILENCE_CHANGE_RE.match(reading.masked):
        return _changed_silence(reading, context)
    intent, confidence, source, runner_up = _recognise(reading, context, classifier, bool(quote))
    if quote:
        # The entities of a reply to a quoted message include what the quote names; a reply
        # that says nothing by itself (`> is recon healthy` / `asking for finance`) is
        # read with its quote.
        reading = read(text, vocabulary)
        if intent == "unknown" and source in ("classifier", "threshold"):
            intent, confidence, source, runner_up = _recognise(reading, context, classifier)
    bare_yes = _BARE_YES_RE.fullmatch(reading.masked) or (
        reading.masked == "approve" and not re.search(r"[a-z]", text.lower())  # a 👍 alone
    )
    if intent == "approve" and bare_yes and not _anything_to_decide(context):
        # `yes`, `👍` opening a conversation: nothing was proposed, so it agrees to nothing.
        intent, source = "unknown", "rule"
    if intent == "remediate" and _UNSUPPORTED_RE.match(reading.masked) and not any(
        m.kind == "action" for m in reading.mentions
    ):
        # `terminate i-0b7…`, `stop the records instance`: no action the bot has.
        intent, source = "unknown", "rule"
    commands = _commands(reading) if source in ("classifier", "rule", "clause", "threshold") else ()
    if commands and intent not in MUTATING_INTENTS and carries_payload(reading.text):
        # `restart pharmacy $(whoami)`: whatever the model makes of the payload, the line gives
        # a command, and a command with a payload is confirmed (below), never dropped unseen.
        intent = commands[0]
    if len(commands) > 1 and intent in commands:
        intent = commands[0]  # `ack 12 and escalate to dba`: the first command is the request
    entities = _entities(reading, intent)
    resolved = _resolve(intent, entities, reading, context)
    if intent == "remediate" and not _REMEDIATION_OBJECTS.intersection(entities) and not (
        _ANAPHORS.intersection(reading.words())
    ) and _names_something_else(reading, text):
        # `restart netflix`, `scale the mountain to 8000`: nothing known to act on. A bare
        # `restart` or `scale up` names nothing at all: the bot asks what to act on.
        intent, entities, resolved = "unknown", {}, set()
    question = _question(intent, confidence, source, runner_up, entities, reading)
    if len(commands) > 1 and intent == commands[0]:
        # Acting on the first and dropping the second silently is not what was asked for;
        # running both from one line is not what the bot does: the user picks.
        second = _entities(reading, commands[1])
        _resolve(commands[1], second, reading, context)
        question = ask_intent([Choice(intent, dict(entities)), Choice(commands[1], second)])
    if question is None and (
        _runs_on_a_written_incident(intent, entities, resolved)
        or _weak_decision(intent, entities, reading)
        or _unsupported_silence(intent, entities, reading, source)
        # `on paygw only` read as a remediation: no action to run, no verb that said so
        or (intent == "remediate" and "action" not in entities)
        or _service_as_modifier(intent, entities, reading)
    ):
        question = ask_intent([Choice(intent, dict(entities))])
    return Understanding(intent, entities, confidence, frozenset(resolved), source, question)


def _follow_up(reading: Reading, context: ChatContext) -> Understanding:
    intent = str(context.last_intent)
    entities = _entities(reading, intent)
    resolved = set()
    if context.last_action and intent in ("remediate", "approve", "deny", "explain", "history"):
        if "action" not in entities:
            entities["action"] = context.last_action
            resolved.add("action")
    if not any(key in entities for key in _SUBJECT_KEYS):
        resolved |= _fill(entities, context, context.focus)
    return Understanding(intent, entities, 1.0, frozenset(resolved), "context")


def _split_quote(text: str) -> tuple[str, str]:
    """(quoted lines, the reply) of a line that quotes a message (`> Plan #2455 …` then `👍`)."""
    lines = text.split("\n")
    quoted = [line for line in lines if _QUOTE_RE.match(line)]
    reply = "\n".join(line for line in lines if not _QUOTE_RE.match(line)).strip()
    if not quoted or not reply:
        return "", text
    return "\n".join(quoted), reply


def _changed_silence(reading: Reading, context: ChatContext) -> Understanding:
    # `make it 3h`, `no wait, just 2 days` right after a silence: the same silence, longer.
    entities: dict[str, str | int] = {}
    resolved = set()
    if context.last_alertname is not None:
        entities["alertname"] = context.last_alertname
        resolved.add("alertname")
    if context.focus in ("service", "instance", "incident"):
        resolved |= _fill(entities, context, context.focus)
    durations = [m.value for m in reading.mentions if m.kind == "duration_s"]
    question = None
    if durations:
        entities["duration_s"] = durations[-1]
    else:  # `make it 2`: hours, most likely, but a guess is confirmed, never acted on
        numbers = [m.value for m in reading.mentions if m.kind in ("number", "capacity")]
        entities["duration_s"] = int(numbers[-1]) * 3600
    if not durations:
        question = ask_intent([Choice("silence", dict(entities))])
    return Understanding("silence", entities, 1.0, frozenset(resolved), "context", question)


def _answered(text: str, context: ChatContext) -> Understanding | None:
    picked = answer(text, context.pending_choices or ())
    if picked is None:
        return None
    if picked is False:
        return Understanding("unknown", {}, 1.0, source="answer")
    return Understanding(picked.intent, dict(picked.entities), 1.0, source="answer")


def _corrected_capacity(reading: Reading, context: ChatContext) -> Understanding:
    numbers = [m.value for m in reading.mentions if m.kind in ("number", "capacity", "incident")]
    entities: dict[str, str | int] = {"action": "scale", "capacity": numbers[-1]}
    resolved = _fill(entities, context, "instance" if context.focus == "instance" else "service")
    return Understanding("remediate", entities, 1.0, frozenset(resolved | {"action"}), "context")


def _question(
    intent: str,
    confidence: float,
    source: str,
    runner_up: str | None,
    entities: dict[str, str | int],
    reading: Reading,
) -> Question | None:
    best = Choice(intent, dict(entities))
    mutating = intent in MUTATING_INTENTS
    if mutating and (_is_question(reading) or _narrates(intent, reading)):
        return ask_intent([best])
    if mutating and carries_payload(reading.text):
        return ask_intent([best])  # `restart portal; rm -rf /`: pasted or crafted, confirmed first
    if intent != "escalate" and _DELEGATED_RE.search(reading.text):
        return ask_intent([best])  # `tell bob to restart cart`, `remind me to ack 4412`
    if intent in _NOW_OR_NEVER and _LATER_RE.search(reading.text):
        return ask_intent([best])  # `restart cart tomorrow`: the bot acts now or not at all
    if mutating and not _objects(intent).intersection(entities):
        return ask_intent([best])  # nothing named and nothing pending: ask what to act on
    if mutating and source == "clause":
        return ask_intent([best])  # read from one clause of a longer line: confirmed first
    if mutating and source == "classifier" and confidence < ASK_THRESHOLD:
        guesses = [best]
        if runner_up not in (None, intent, "unknown"):
            guesses.append(Choice(str(runner_up), _entities_for(entities, str(runner_up))))
        return ask_intent(guesses)
    if intent in ("unknown", "help"):
        return None
    if reading.ambiguous and "service" in entities:
        return ask_which_service(best, reading.ambiguous[0])
    alert = entities.get("alertname")
    if intent == "silence" and alert in reading.unknown_alerts:
        return confirm_unknown_alert(best, str(alert))
    return None


def _anything_to_decide(context: ChatContext) -> bool:
    # Only a conversation that has not begun offers nothing at all to agree to; later the
    # chat handler answers a yes to nothing itself ("Nothing is waiting for your yes").
    return context.pending_approval is not None or context.last_intent is not None or (
        context.last_incident is not None or context.pending_choices is not None
    )


def _commands(reading: Reading) -> tuple[str, ...]:
    """The distinct mutating intents of the commands a line gives, in order.

    A command verb gives a command where a clause opens: at the start of the line or
    after `and`, `then`, `also`, `+`, `&`, a comma or a semicolon (`ack 12 and restart
    cart`, `k leave it, ack and escalate to dba`); one followed by a verb of its own is a
    noun (`reboot is too aggressive, deny`).
    """
    found: list[str] = []
    tokens = reading.tokens
    for index, token in enumerate(tokens):
        intent = _COMMAND_INTENTS.get(token.word)
        if intent is None or intent in found:
            continue
        following = tokens[index + 1].word if index + 1 < len(tokens) else ""
        if following in _NOUN_MARKERS:
            continue
        if _LINE_OPENING_RE.fullmatch(reading.text[: token.start]) or (
            index and _OPENS_A_CLAUSE_RE.search(reading.text[tokens[index - 1].start : token.start])
        ):
            found.append(intent)
    return tuple(found)


def _runs_on_a_written_incident(
    intent: str, entities: dict[str, str | int], resolved: set[str]
) -> bool:
    # `restart 4011`, `kick 4011 upstairs`: an incident number is an odd thing to restart,
    # and often another verb's object (escalate, show). `restart it` after `show 4011`
    # means its service, as the conversation has set up: that one is not asked.
    return (intent == "remediate" and "incident" in entities and "incident" not in resolved
            and not {"service", "instance"}.intersection(entities))


def _names_something_else(reading: Reading, text: str) -> bool:
    # Any word beyond the command's own verbs and politeness: an object the catalog lacks;
    # or a link or channel reference the reader blanked (`restart <https://…|dashboard>`).
    words = reading.masked.split()
    return len(text.split()) > len(words) or any(
        word not in _BARE_COMMAND_WORDS for word in words if not word.startswith("<")
    )


def _service_as_modifier(
    intent: str, entities: dict[str, str | int], reading: Reading
) -> bool:
    # `restart the pharmacy printer`: a service named by a plain word, inside a noun phrase,
    # right before a noun the bot does not know qualifies that noun; the thing to act on is
    # the printer, not the pharmacy service.
    if intent not in MUTATING_INTENTS or "instance" in entities or any(
        m.kind == "incident" for m in reading.mentions
    ):
        return False  # `restart the pharmacy box for #44`: the incident says what is meant
    first_service = next((m.start for m in reading.mentions if m.kind == "service"), None)
    if "incident" in entities and any(
        m.kind == "number" and (first_service is None or m.start < first_service)
        for m in reading.mentions
    ):
        return False  # `approve 415, I checked with the warehouse lead`: 415 is the object
    if intent == "remediate" and _object_is_something_else(reading):
        return True
    for mention in reading.mentions:
        if mention.kind != "service" or not reading.spelled(mention).isalpha():
            continue
        following = [t for t in reading.tokens if t.start >= mention.end]
        preceding = [t for t in reading.tokens if t.end <= mention.start]
        if not preceding or preceding[-1].word not in _DETERMINERS or reading.text[
            preceding[-1].end : mention.start
        ].strip():
            continue  # only inside a noun phrase: `the pharmacy printer`, `my lab result`
        if not following or reading.text[mention.end : following[0].start].strip():
            continue
        word = following[0].word
        if word.isalpha() and len(word) > 2 and word not in _KNOWN_WORDS:
            return True
    return False


def _object_is_something_else(reading: Reading) -> bool:
    # `restart the printer in radiology`: the verb's object is a noun the bot does not know;
    # the service named after it only says where that thing is.
    tokens = reading.tokens
    for index, token in enumerate(tokens):
        if token.word not in ACTION_WORDS:
            continue
        following = tokens[index + 1 : index + 3]
        if not following or following[0].word not in _DETERMINERS:
            return False
        noun = following[1] if len(following) > 1 else None
        if noun is None or reading.text[following[0].end : noun.start].strip():
            return False
        if any(m.overlaps(noun.start, noun.end) for m in reading.mentions):
            return False
        word = noun.word
        return word.isalpha() and len(word) > 2 and word not in _KNOWN_WORDS
    return False


def _weak_decision(intent: str, entities: dict[str, str | int], reading: Reading) -> bool:
    # Approve and deny decide an incident's waiting remediation. Without an incident (named,
    # pending, or the one just shown) the handler would pick the service's latest incident:
    # `wait no don't` right after `restart wms` withdraws the user's own request, it does not
    # necessarily turn down whatever wms has waiting. A deferral (`hold off on 518 for now`,
    # `wait, don't approve 412 yet`) puts a decision off rather than making it, unless the
    # line also says the verb (`hold off on 66, reject for now`).
    if intent not in ("approve", "deny"):
        return False
    if "incident" not in entities:
        return True
    return bool(_DEFERRAL_RE.search(reading.masked)) and not _DECISION_VERB_RE.search(
        reading.masked
    )


def _unsupported_silence(
    intent: str, entities: dict[str, str | int], reading: Reading, source: str
) -> bool:
    # The model's silence or unsilence on a line that names no alert and has no word about
    # muting (`turn voice off and on again`): the n-grams, not the line, said so.
    if intent not in ("silence", "unsilence") or source != "classifier" or "alertname" in entities:
        return False
    return not _SILENCE_EVIDENCE_RE.search(reading.masked)


def _objects(intent: str) -> frozenset[str]:
    # What a command can act on: a remediation runs on a service, an instance or the
    # service of an incident; the other commands on any subject.
    return _REMEDIATION_OBJECTS if intent == "remediate" else _OBJECT_KEYS


def _is_question(reading: Reading) -> bool:
    # An opinion asked for (`should we restart cart?`, `would a redeploy fix 2755?`) or a
    # hedge (`reboot it maybe?`); `could you restart cart` is a polite command.
    words = reading.masked.split()
    if not words:
        return False
    modal = words[0] in _MODALS and len(words) > 1 and words[1] not in _REQUESTED_OF
    # `do not proceed with 1203`, `do NOT reboot, deny #318`: an order, not a question.
    interrogative = words[0] in _INTERROGATIVES and not (
        words[0] == "do" and len(words) > 1 and words[1] in ("not", "n't")
    )
    if interrogative or modal or _HEDGES.intersection(words):
        return True
    # `approve 412?` asks whether to: a question mark ends it, and no request form
    # (`can you …`, `pls`) makes it a polite command.
    return reading.text.rstrip().endswith("?") and not _REQUEST_RE.search(reading.text)


def _narrates(intent: str, reading: Reading) -> bool:
    # `4412 was escalated to the vendor yesterday`, `bob is restarting cart now`: an
    # auxiliary before the command's own verb tells what happened or is happening; a
    # command has no auxiliary (`need cart restarted`, `I'd like this escalated` have none).
    stems = _NARRATED_STEMS.get(intent)
    if stems is None:
        return False
    text = reading.text  # as written: the corrected words lose the tense
    if re.search(
        rf"\b(?:was|were|got|been|being|is|are|has|have|had|gets|get)\s+"
        rf"(?:(?:just|already|not|never|also|still|now|being|been|getting)\s+)*"
        rf"(?:{stems})\w*(?:ed|en|ing|d)\b",
        text,
    ):
        return True
    # `routing restarted fine`: the subject opens the line and its verb is in the past.
    subject = next((m for m in reading.mentions if m.kind in ("service", "instance", "incident")),
                   None)
    if subject is not None and not re.sub(r"\b(?:the|our|so|ok|okay|and)\b|\W", "",
                                          text[: subject.start]):
        if re.match(rf"\s+(?:just\s+|already\s+|finally\s+)?(?:{stems})\w*ed\b",
                    text[subject.end :]):
            return True
    # `the bot wants to reboot i-0…`, `it proposed to restart cart`: what someone else plans.
    if re.search(rf"\b(?:wants|wanted|plans|planned|proposes|proposed|suggests|suggested|"
                 rf"recommends|recommended|tries|tried)\s+to\s+(?:{stems})", text):
        return True
    return _quotes_a_command(text)


def _quotes_a_command(text: str) -> bool:
    # `type "restart routing" to fix it`: a command in quotes amid other words is talked
    # about, not given; a line that is only the quoted command (`` `ack 1033` ``) gives it.
    quoted = list(_QUOTED_RE.finditer(text))
    if not quoted:
        return False
    inside = [m.group(1) for m in quoted]
    outside = _QUOTED_RE.sub(" ", text)
    opens_with_command = any(
        (segment.split() or [""])[0].lstrip("/") in _COMMAND_VERBS for segment in inside
    )
    first_outside = (outside.split() or [""])[0]
    return opens_with_command and first_outside not in _COMMAND_VERBS and len(
        re.findall(r"[a-z]{2,}", outside)
    ) >= 2


def _entities_for(entities: dict[str, str | int], intent: str) -> dict[str, str | int]:
    return {k: v for k, v in entities.items() if _INTENT_ONLY_KEYS.get(k, intent) == intent}


def next_context(context: ChatContext, understanding: Understanding) -> ChatContext:
    """The context after this turn: subjects named now become what `it` refers to."""
    if understanding.question is not None:
        choices = tuple(choice.to_json() for choice in understanding.question.choices)
        return replace(context, pending_choices=choices)
    if context.pending_choices is not None:
        context = replace(context, pending_choices=None)
    if understanding.intent in ("unknown", "help"):
        return context
    entities = understanding.entities
    updated = replace(context, last_intent=understanding.intent)
    # The most specific subject named last is what `it` means next: an incident over an
    # instance over a service.
    if "service" in entities:
        if entities["service"] != context.last_service and "alertname" not in entities:
            updated = replace(updated, last_alertname=None)
        updated = replace(updated, last_service=entities["service"], focus="service")
        if "instance" not in entities:
            updated = replace(updated, last_instance=None)
    if "service" in entities or "instance" in entities:
        updated = replace(updated, last_region=_text_or_none(entities.get("region")))
    elif "region" in entities:
        updated = replace(updated, last_region=str(entities["region"]))
    if "alertname" in entities:
        updated = replace(updated, last_alertname=str(entities["alertname"]))
    if "instance" in entities:
        updated = replace(updated, last_instance=entities["instance"], focus="instance")
    if "incident" in entities:
        updated = replace(updated, last_incident=entities["incident"], focus="incident")
    if "action" in entities:
        updated = replace(updated, last_action=entities["action"])
    if understanding.intent in ("approve", "deny"):
        updated = replace(updated, pending_approval=None)
    return updated


def _text_or_none(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _recognise(
    reading: Reading, context: ChatContext, classifier: Classifier | None, quoting: bool = False
) -> tuple[str, float, str, str | None]:
    if not reading.masked:
        # Nothing but blanks asks for help; emoji or a pasted link alone says nothing.
        return ("unknown" if reading.has_text else "help"), 1.0, "rule", None
    ruled = match_rule(reading.masked)
    if ruled == "help":  # `how do I unmute something` asks how, it unmutes nothing
        return ruled, 1.0, "rule", None
    # A reply to a quoted message answers what the message proposed.
    pending = (context.pending_approval is not None or context.last_intent in _PROPOSING
               or quoting)
    reversed_intent = reversal(reading.masked, pending, context.last_intent == "silence")
    if reversed_intent is not None:
        return reversed_intent, 1.0, "negation", None
    if pending and affirmation(reading.masked):
        return "approve", 1.0, "rule", None
    if ruled is not None:
        return ruled, 1.0, "rule", None
    decided = decision(reading.masked, pending)
    if decided is not None:
        return decided, 1.0, "rule", None
    model = classifier or intent_classifier()
    prediction, source = model.predict(reading.masked), "classifier"
    if reading.clauses and (prediction.intent == "unknown" or prediction.confidence < ASK_THRESHOLD):
        clause = _best_clause(reading.clauses, model)
        if clause is not None and clause.confidence > prediction.confidence:
            prediction, source = clause, "clause"
    grounded = any(mention.kind in _GROUNDING_KINDS for mention in reading.mentions)
    question = prediction.intent in _QUESTIONS
    threshold = GROUNDED_CONFIDENCE_THRESHOLD if grounded and question else CONFIDENCE_THRESHOLD
    if _weakly_grounded(reading):
        threshold = WEAK_GROUNDING_THRESHOLD
    if prediction.confidence < threshold:
        return "unknown", prediction.confidence, "threshold", prediction.intent
    if prediction.intent == "history" and _HOW_OFTEN_RE.match(reading.masked) and {
        "you", "u", "your"
    }.intersection(reading.masked.split()):
        # `how often do you go to the gym`: about the listener, and the history rules found
        # nothing of operations in it.
        return "unknown", prediction.confidence, "rule", "history"
    if prediction.intent == "help" and _ASKS_HOW_RE.match(reading.masked) and not about_the_bot(
        reading.masked
    ):
        # `how do I get a new badge`: a how-to the rules did not find to be about the bot.
        return "unknown", prediction.confidence, "rule", "help"
    opposite = _OPPOSITES.get(prediction.intent)
    if opposite is not None and _commands(reading)[:1] == (opposite,):
        # `mute lab for the rest of the shift` read as unsilence: the n-grams of the two are
        # alike, the verb that opens the command is not (reversals were read above).
        return opposite, prediction.confidence, source, prediction.intent
    return prediction.intent, prediction.confidence, source, prediction.runner_up


def _weakly_grounded(reading: Reading) -> bool:
    # `the stream tonight was sick`, `checkout the new cafe`: the only thing that looks like
    # operations is a service whose name is a plain word, and no word of the line is about
    # operations. Such a line is chat about something else unless the model is sure.
    if not reading.mentions or any(m.kind != "service" for m in reading.mentions):
        return False
    if any(not reading.spelled(m).isalpha() for m in reading.mentions):
        return False
    return not _OPERATIONS_WORDS.intersection(reading.words())


def _best_clause(clauses: tuple[str, ...], model: Classifier) -> Prediction | None:
    # A chatty line says what it wants in one sentence (`are the dashboards loading? support
    # has 3 tickets`): the clause read with most confidence as a request stands for it.
    best = None
    for clause in clauses:
        ruled = match_rule(clause)
        guess = Prediction(ruled, 1.0) if ruled not in (None, "help") else model.predict(clause)
        if guess.intent != "unknown" and (best is None or guess.confidence > best.confidence):
            best = guess
    return best


def _entities(reading: Reading, intent: str) -> dict[str, str | int]:
    if intent == "unknown":
        return {}
    entities: dict[str, str | int] = {}
    for mention in _command_clause_first(reading, intent):
        if mention.kind in ("number", "capacity", "quantity") or _INTENT_ONLY_KEYS.get(mention.kind, intent) != intent:
            continue
        entities.setdefault(mention.kind, mention.value)
    if intent in _ACTIONLESS:
        entities.pop("action", None)
    if intent != "silence":
        entities.pop("duration_s", None)  # `stuck for 2 hours` says when, it sets nothing
    _assign_numbers(reading, intent, entities)
    if intent == "remediate" and "capacity" in entities and (
        "action" in entities or any(m.kind == "capacity" for m in reading.mentions)
        or _SIZE_WORDS.intersection(reading.masked.split())
    ):
        # `put web on 5 replicas` can only mean scaling; a bare number with no verb and no
        # `to`/`replicas` (`reschedule appointments 3042`) says nothing about scaling.
        entities.setdefault("action", "scale")
    return entities


def _command_clause_first(reading: Reading, intent: str) -> list:
    # `ok sso is fine. redeploy portal`, `FedEx is back, unmute CarrierApiTimeouts`: a command
    # acts on what its own clause names; what other sentences name is only the fallback.
    mentions = list(reading.mentions)
    if intent not in MUTATING_INTENTS:
        return mentions
    verb = next((t for t in reading.tokens if _COMMAND_INTENTS.get(t.word) == intent
                 or (intent == "remediate" and t.word in ACTION_WORDS)), None)
    if verb is None:
        return mentions
    start, end = clause_span(reading.text, verb.start)
    return sorted(mentions, key=lambda m: not (start <= m.start < end))


def _assign_numbers(reading: Reading, intent: str, entities: dict[str, str | int]) -> None:
    # A bare number is a replica count when scaling, otherwise an incident id.
    candidates = [m for m in reading.mentions if m.kind in ("number", "capacity")]
    explicit = [m for m in candidates if m.kind == "capacity"]
    if explicit and (entities.get("action") == "scale" or (
        intent == "remediate" and "action" not in entities
    )):
        # `scale card-auth from 10 to 14`: the count after `to` is the one asked for.
        entities["capacity"] = explicit[0].value
        candidates = [m for m in candidates if m is not explicit[0]]
    for mention in candidates:
        scaling = entities.get("action") == "scale" or (
            intent == "remediate" and "action" not in entities
        )
        if scaling and "capacity" not in entities and (
            mention.kind == "capacity" or intent == "remediate"
        ):
            entities["capacity"] = mention.value
        elif "incident" not in entities and (mention.kind == "number" or intent != "remediate"):
            entities["incident"] = mention.value


def _resolve(
    intent: str, entities: dict[str, str | int], reading: Reading, context: ChatContext
) -> set[str]:
    if intent in ("unknown", "help"):
        return set()
    if intent in ("silence", "unsilence"):
        return _resolve_silence(entities, reading, context)
    resolved = _resolve_subject(intent, entities, reading, context)
    if resolved & {"service", "instance"} and "region" not in entities and context.last_region:
        entities["region"] = context.last_region  # `restart it` acts where `it` was named
        resolved.add("region")
    return resolved


def _resolve_silence(
    entities: dict[str, str | int], reading: Reading, context: ChatContext
) -> set[str]:
    # `silence it for 1h` mutes what the conversation is about, with the alert named last;
    # `silence X on it` names the alert, `it` the service.
    named = any(key in entities for key in _SUBJECT_KEYS)
    if named and not _ANAPHORS.intersection(reading.words()):
        return set()
    resolved = set()
    if "alertname" not in entities and context.last_alertname is not None:
        entities["alertname"] = context.last_alertname
        resolved.add("alertname")
    if not named:
        resolved |= _fill(entities, context, context.focus)
    elif "service" not in entities and "instance" not in entities:
        resolved |= _fill(entities, context, "service")
    return resolved


def _resolve_subject(
    intent: str, entities: dict[str, str | int], reading: Reading, context: ChatContext
) -> set[str]:
    if any(key in entities for key in _SUBJECT_KEYS):
        return set()
    if intent in ("approve", "deny") and context.pending_approval is not None:
        entities["incident"] = context.pending_approval
        return {"incident"}
    if intent in ("approve", "deny") and context.last_intent == "remediate":
        # `cancel that` right after `restart fx`: the remediation just asked for.
        resolved = _fill(entities, context, _focus_for("remediate", context))
        if resolved and context.last_action and "action" not in entities:
            entities["action"] = context.last_action
            resolved.add("action")
        return resolved
    if intent in _INCIDENT_INTENTS and intent != "explain":
        return _fill(entities, context, "incident")
    pointing = bool(_ANAPHORS.intersection(reading.words()))
    if intent in ("explain", "remediate") or pointing:
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
