"""Ask when unsure: a short question with numbered choices, and reading the answer to it.

A question is part of an Understanding; its choices travel in the conversation context
(`ChatContext.pending_choices`) so the next line can answer it with `1`, `2`, `yes`, `no`
or the choice's own words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Intents that change something: never acted on from a guess.
MUTATING_INTENTS = frozenset(
    {"approve", "deny", "remediate", "silence", "unsilence", "escalate", "ack"}
)
_NUMBER_RE = re.compile(r"^\W*(?:#|no\.?\s*|option\s+|number\s+)?(\d)\W*$")
_YES_RE = re.compile(r"^\W*(?:y|yes|yep|yeah|yup|sure|ok|okay|correct|right|do it|go ahead|👍)\W*$")
_NO_RE = re.compile(r"^\W*(?:n|no|nope|nah|neither|none|cancel|nothing|never ?mind|nvm|👎)\W*$")
_YES_WORDS = frozenset(
    {"y", "yes", "yep", "yeah", "yup", "sure", "ok", "okay", "k", "go", "correct"}
)
_CONFIRM_FILLERS = frozenset({"it", "that", "pls", "please", "plz", "now", "then", "ahead", "do"})
_VERBS: dict[str, frozenset[str]] = {
    "approve": frozenset({"approve"}), "deny": frozenset({"deny", "reject"}),
    "ack": frozenset({"ack", "acknowledge"}), "silence": frozenset({"silence", "mute", "snooze"}),
    "unsilence": frozenset({"unsilence", "unmute"}), "escalate": frozenset({"escalate", "page"}),
}
_WHAT: dict[str, str] = {
    "status": "show the status", "list_incidents": "list open incidents",
    "show_incident": "show the incident", "approve": "approve", "deny": "deny",
    "ack": "acknowledge", "silence": "silence", "unsilence": "lift the silence on",
    "remediate": "run", "explain": "explain", "escalate": "escalate",
    "history": "show the history", "help": "show help",
}


@dataclass(frozen=True)
class Choice:
    """One answer the bot offers: what it would then do."""

    intent: str
    entities: Mapping[str, str | int]

    def describe(self) -> str:
        """A few words for the choice, e.g. `run restart on cart-svc`."""
        entities = dict(self.entities)
        action = entities.pop("action", None)
        words = [_WHAT.get(self.intent, self.intent)]
        if self.intent == "remediate" and action:
            words.append(str(action))
        elif action:
            words.append(f"the {action}")
        subject = [f"#{v}" if k == "incident" else str(v) for k, v in entities.items()
                   if k in ("incident", "service", "instance", "alertname")]
        if subject:
            words.append(("on " if self.intent == "remediate" else "") + ", ".join(subject))
        return " ".join(words)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able mapping (kept in the conversation context)."""
        return {"intent": self.intent, "entities": dict(self.entities)}


@dataclass(frozen=True)
class Question:
    """A clarifying question and its numbered choices (answering `no` picks none)."""

    prompt: str
    choices: tuple[Choice, ...]

    def text(self) -> str:
        """The question as the bot posts it, choices numbered from 1."""
        if len(self.choices) == 1:
            return f"{self.prompt} (yes / no)"
        numbered = "  ".join(f"{n}) {c.describe()}" for n, c in enumerate(self.choices, 1))
        return f"{self.prompt} {numbered}  (reply with a number, or no)"


def ask_intent(guesses: Sequence[Choice]) -> Question:
    """`Just to be sure: run restart on cart?`, or `Did you mean: 1) … 2) …` between guesses."""
    if len(guesses) == 1:
        return Question(f"Just to be sure: {guesses[0].describe()}?", tuple(guesses))
    return Question("Not sure I got that. Did you mean:", tuple(guesses))


def ask_which_service(choice: Choice, services: Sequence[str]) -> Question:
    """`Which service?` when a name is a slip of several services."""
    options = tuple(Choice(choice.intent, {**choice.entities, "service": s}) for s in services)
    return Question("Which service do you mean?", options)


def confirm_unknown_alert(choice: Choice, alert: str) -> Question:
    """`X is not an alert I know; silence it anyway?` (the name is kept as written)."""
    verb = "silence" if choice.intent == "silence" else _WHAT.get(choice.intent, choice.intent)
    return Question(f"{alert} is not an alert I know; {verb} it anyway?", (choice,))


def answer(text: str, pending: Sequence[Mapping[str, Any]]) -> Choice | None | bool:
    """The choice `text` picks from `pending`; False when it declines; None when it is no answer."""
    choices = [Choice(c["intent"], dict(c["entities"])) for c in pending]
    line = text.strip().lower()
    number = _NUMBER_RE.match(line)
    if number is not None and 1 <= int(number.group(1)) <= len(choices):
        return choices[int(number.group(1)) - 1]
    if len(choices) == 1 and (_YES_RE.match(line) or _confirms(line, choices[0])):
        return choices[0]
    if _NO_RE.match(line):
        return False
    for choice in choices:
        value = choice.entities.get("service")
        if value is not None and line.strip(" .!?") == str(value).lower():
            return choice
    return None


def _confirms(line: str, choice: Choice) -> bool:
    # `ok restart`, `yes restart it`, `silence it pls` answering `Just to be sure: run restart
    # on cart?`: a yes that names the offered command's own verb, and nothing else.
    words = re.findall(r"[a-z']+", line)
    verbs = _VERBS.get(choice.intent, frozenset())
    if choice.intent == "remediate":
        verbs = frozenset({str(choice.entities.get("action", ""))})
    return bool(words) and bool(verbs.intersection(words)) and set(words) <= (
        verbs | _YES_WORDS | _CONFIRM_FILLERS
    )


def question_reply(question: Question) -> dict[str, Any]:
    """The question as a Slack message: numbered choices as text (answer `1`, `2`, `no`)."""
    text = question.text().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "response_type": "ephemeral",
        "text": text[:300],
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
