"""Conversation context per user and channel: what `it`, `that` and `why?` refer to."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol

from pipeline.errors import InvalidInput

# Subjects a later turn may point back to.
FOCUS_KINDS = ("incident", "service", "instance")
# Slack ids are short alphanumerics; the JSON endpoint may use e-mails. Nothing else may
# key a context, so a crafted id cannot reach another user's context through a separator.
_CHAT_ID_RE = re.compile(r"[\w.@+-]{1,128}")
# A user may also be an API key's principal, `apikey:<name>` (consumers/auth.py). Its one colon comes
# first and a channel id has none, so a context key `<user>:<channel>` still splits one way only.
_CHAT_USER_RE = re.compile(r"(?:apikey:)?[\w.@+-]{1,128}")


def check_chat_id(name: str, value: object) -> str:
    """`value` when it is a plain chat user or channel id, else InvalidInput naming `name`."""
    pattern = _CHAT_USER_RE if name == "user" else _CHAT_ID_RE
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"chat {name} id {str(value)[:40]!r} is not a plain id")
    return value


@dataclass(frozen=True)
class ChatContext:
    """What the conversation has referred to so far; `focus` is the latest subject's kind."""

    last_incident: int | None = None
    last_service: str | None = None
    last_instance: str | None = None
    last_intent: str | None = None
    last_action: str | None = None
    focus: str | None = None
    pending_approval: int | None = None
    # Named with the last subject: `restart it` acts in the region `status of X in R` named,
    # `make it 3h` extends the silence of the alert just silenced.
    last_region: str | None = None
    last_alertname: str | None = None
    # The choices of a clarifying question the bot asked, waiting for `1`, `2`, `yes`, `no`.
    pending_choices: tuple[dict[str, Any], ...] | None = None

    def awaiting_approval(self, incident: int) -> ChatContext:
        """This context with `incident` waiting for the user's yes or no."""
        return replace(self, pending_approval=incident, last_incident=incident, focus="incident")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able mapping (for a store)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ChatContext:
        """Rebuild from `to_json` output; unknown keys are ignored, bad types rejected."""
        if not isinstance(data, dict):
            raise InvalidInput("chat context must be a JSON object")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if isinstance(values.get("pending_choices"), list):
            values["pending_choices"] = tuple(values["pending_choices"])
        context = cls(**values)
        _check_types(context)
        return context


EMPTY_CONTEXT = ChatContext()


class ContextStore(Protocol):
    """Where contexts live between turns, keyed by chat user and channel, with a TTL."""

    def get(self, user: str, channel: str) -> ChatContext:
        """The stored context, or an empty one when none is stored or it expired."""

    def put(self, user: str, channel: str, context: ChatContext, ttl_s: int) -> None:
        """Store `context` for `ttl_s` seconds."""


class InMemoryContextStore:
    """A ContextStore in a dict, with expiry by an injected clock (for tests and one process)."""

    def __init__(self, clock) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, ChatContext]] = {}

    def get(self, user: str, channel: str) -> ChatContext:
        """The stored context, or an empty one when none is stored or it expired."""
        key = (check_chat_id("user", user), check_chat_id("channel", channel))
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            self._entries.pop(key, None)
            return EMPTY_CONTEXT
        return entry[1]

    def put(self, user: str, channel: str, context: ChatContext, ttl_s: int) -> None:
        """Store `context` for `ttl_s` seconds."""
        key = (check_chat_id("user", user), check_chat_id("channel", channel))
        if ttl_s <= 0:
            raise InvalidInput(f"ttl_s must be positive, got {ttl_s}")
        self._entries[key] = (self._clock() + ttl_s, context)


def _check_types(context: ChatContext) -> None:
    expected = {
        "last_incident": int, "last_service": str, "last_instance": str, "last_intent": str,
        "last_action": str, "focus": str, "pending_approval": int, "last_region": str,
        "last_alertname": str,
    }
    for name, kind in expected.items():
        value = getattr(context, name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise InvalidInput(f"chat context field {name} must be {kind.__name__} or null")
    if context.pending_choices is not None and not _are_choices(context.pending_choices):
        raise InvalidInput("chat context field pending_choices must be a list of choices")
    if context.focus is not None and context.focus not in FOCUS_KINDS:
        raise InvalidInput(f"chat context focus must be one of {FOCUS_KINDS}")


def _are_choices(value: object) -> bool:
    return isinstance(value, tuple) and len(value) <= 9 and all(
        isinstance(c, dict) and isinstance(c.get("intent"), str)
        and isinstance(c.get("entities"), dict) for c in value
    )
