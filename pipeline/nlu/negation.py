"""Negation and reversal: `stop muting X` is unsilence, `don't restart X` is not a restart.

Checked on the masked, corrected line before any rule or the classifier: a negated
command read by a bag of n-grams looks like the command itself, and acting on it is the
worst error the recogniser can make.
"""

from __future__ import annotations

import re

_NOT = r"(?:don't|dont|do not|do n't|never|no need to|not to|pls don't|please don't)"
_REMEDIATION_VERBS = (
    r"(?:restart\w*|reboot\w*|redeploy\w*|scale\w*|start|bounce|kick|cycle|roll|touch|boot)"
)
_GO_AHEAD_VERBS = r"(?:approve\w*|execute|run|proceed|do|apply|go ahead)"
_SILENCE_WORDS = r"(?:mut\w*|silenc\w*|snooz\w*|suppress\w*|quiet)"

_UNSILENCE = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\b(?:stop|quit|no longer|cease|end)\s+(?:the\s+)?{_SILENCE_WORDS}",
        rf"\bun[\s-]?(?:mute|silence|snooze|suppress|shush|hush)\w*",
        rf"\b(?:lift|remove|drop|delete|clear|cancel|kill|expire|undo|revert)\s+(?:the\s+|that\s+|this\s+|my\s+)?"
        rf"{_SILENCE_WORDS}",
        rf"\b{_NOT}\s+keep\b.*\b(?:muted|silenced|snoozed|quiet)\b",
        r"\b(?:turn|switch|put|bring)\s+(?:back\s+on|on\s+again)\b.*\b(?:alert|alerts|alarm|alarms|paging)\b",
        r"\b(?:turn|switch|put|bring)\s+(?:the\s+)?(?:alert|alerts|alarm|alarms|paging)\b.*\bback\b",
        r"\b(?:put|turn|switch|bring)\s+back\s+(?:on\s+)?(?:the\s+)?(?:alert|alerts|alarm|alarms|paging)\b",
        rf"\b{_SILENCE_WORDS}\s+can\s+go\b",
        rf"\b{_SILENCE_WORDS}\s+off\b",
        # `make the lab alerts loud again`, `you can make alert again active`
        r"\b(?:alerts?|alarms?|notifications?|paging)\b(?:\s+\S+){0,2}?\s+"
        r"(?:(?:loud|active|audible|live)\s+again|again\s+(?:loud|active|audible|live))\b",
    )
)
_NEGATED_REMEDIATION = re.compile(rf"\b{_NOT}\s+(?:\w+\s+){{0,2}}{_REMEDIATION_VERBS}\b")
_NEGATED_GO_AHEAD = re.compile(rf"\b{_NOT}\s+(?:\w+\s+)?{_GO_AHEAD_VERBS}\b")
_NEGATED_SILENCE = re.compile(rf"\b{_NOT}\s+{_SILENCE_WORDS}")
# `don't ack 3533, it's not mine`, `do not escalate yet`: an ack or a page is not a plan
# waiting for a decision, so refusing one is no deny, only nothing to do.
_NEGATED_NOTICE = re.compile(
    rf"\b{_NOT}\s+(?:\w+\s+)?(?:ack|acknowledge|escalate|page)\b"
)
# `no one restart pharmacy till I say so`, `nobody touch checkout`: an order to everybody
# not to act (the verb in its base form: `nobody acked this` reports, it forbids nothing).
_NOBODY = re.compile(
    r"(?<!if )(?<!cause )(?<!because )\b(?:no\s*one|no-one|nobody)\s+"
    r"(?:(?:should|may|is\s+to|can|must|gets\s+to)\s+)?"
    r"(?:restart|reboot|redeploy|scale|start|bounce|kick|touch|deploy|roll|ack|acknowledge|"
    r"silence|mute|unmute|unsilence|approve|escalate|page)\b"
)
_EXPLICIT_REFUSAL = re.compile(r"\b(?:deny|reject|decline|veto)\b")
_CALL_OFF_PHRASES = (
    r"never\s*mind|nvm|cancel|scratch that|forget it|abort|hold off|call it off|stand down"
)
_CALL_OFF = re.compile(
    rf"^(?=.*\b(?:{_CALL_OFF_PHRASES})\b)"
    rf"(?:(?:{_CALL_OFF_PHRASES}|no|nah|nope|wait|actually|ok|hmm|stop|ugh|oh|that|it|this|pls|please)"
    r"[\s,.!-]*)+$"
)


# `no`, `wait no don't`, `not now`: a refusal with nothing named refuses what is pending.
# A filler alone (`ok`, `hmm`, `actually`) refuses nothing: one refusal word is needed.
_REFUSAL_WORDS = (
    r"no|nope|nah|wait|don't|dont|do not|not now|not yet|stop|hold on|hold up|lets not|"
    r"let's not|risky|too risky|scrap (?:it|that)"
)
_BARE_REFUSAL = re.compile(
    rf"^(?=.*\b(?:{_REFUSAL_WORDS})(?:\W|$))"
    rf"(?:(?:{_REFUSAL_WORDS}|actually|please|pls|hmm|on second thought|ok)[\s,.!]*)+$"
)


_FIRM_REFUSAL = re.compile(
    r"^(?:(?:actually|wait|no|hmm|ok|oh)\s+)*"
    r"(?:(?:absolutely|definitely|certainly|hell|god)\s+(?:not|no)|no\s+way|nope|nah|"
    r"no\s+no|not\s+(?:now|yet|today|a chance)|cancel|abort|scratch that|never\s*mind|nvm)\b"
)


_REFUSAL_VERB = re.compile(
    r"^(?:(?:please|pls|plz|ok|then|so|i)\s+)*(?:deny|reject|decline|veto|refuse|turn\s+down)\b"
)
_NEGATION_ANYWHERE = re.compile(rf"\b(?:{_NOT}|not|no|never|nope|wait|but|unless|if)\b")
_CONSENT_VERB = re.compile(r"^(?:(?:please|pls|plz|ok|then|so|i)\s+)*(?:approve|approved|lgtm)\b")


def reversal(masked: str, pending: bool, after_silence: bool = False) -> str | None:
    """The intent a negation or reversal in `masked` forces, or None when there is none.

    `pending` is True when the conversation has an action waiting for a yes or no, so
    `cancel that` or `don't restart` turns it down (deny) rather than meaning nothing.
    `after_silence` is True right after a silence: `don't silence it` then takes it back.
    """
    if any(pattern.search(masked) for pattern in _UNSILENCE):
        return "unsilence"
    targeted = "<inc>" in masked or "<num>" in masked or pending
    if _NOBODY.search(masked):
        return "unknown"  # an order to everyone not to act is no decision on a plan
    if _NEGATED_NOTICE.search(masked) and not _EXPLICIT_REFUSAL.search(masked):
        return "unknown"
    if _NEGATED_GO_AHEAD.search(masked) or _NEGATED_REMEDIATION.search(masked):
        return "deny" if targeted else "unknown"
    if _NEGATED_SILENCE.search(masked):
        # `don't silence it` right after a silence takes it back; otherwise (`and DON'T
        # silence AuditLogDropped`) it asks for nothing to be done.
        return "unsilence" if after_silence else "unknown"
    if _BARE_REFUSAL.match(masked):
        return "deny" if pending else "unknown"
    if pending and _FIRM_REFUSAL.match(masked):
        return "deny"  # `absolutely not, it's peak hour`: a reason may follow
    if _CALL_OFF.search(masked):
        return "deny" if targeted else "unknown"
    return None


_AFFIRMATIVES = frozenset(
    {"ok", "okay", "k", "kk", "yes", "yep", "yeah", "yup", "sure", "fine", "approve", "approved",
     "go", "lgtm", "agreed", "confirmed", "confirm"}
)
_AFFIRMATION_FILLERS = frozenset(
    {"do", "ahead", "please", "pls", "then", "the", "!", "?", "it", "that", "and", "go", "for",
     "<inc>", "<num>", "send", "ship", "shipit"}
)
_ACTION_WORDS = frozenset({"restart", "reboot", "redeploy", "scale", "start", "rollback"})


def affirmation(masked: str) -> bool:
    """True when `masked` only says yes to what is pending (`RESTART OK`, `ok go`, `yes do it`).

    `ok restart it` names a command of its own: an action word with `it`/`that` is not a yes.
    """
    words = masked.split()
    if not words or not _AFFIRMATIVES.intersection(words):
        return False
    if not set(words) <= _AFFIRMATIVES | _AFFIRMATION_FILLERS | _ACTION_WORDS:
        return False
    return not (_ACTION_WORDS.intersection(words) and {"it", "that"}.intersection(words))


def decision(masked: str, pending: bool) -> str | None:
    """Approve or deny when a line opens with the verb and aims it at an incident or what is pending.

    `reject the card-auth scale in 2211`, `approve 2733 pls, customer is waiting`: what follows
    the verb is a reason or a description of the plan, not another command.
    """
    if not ("<inc>" in masked or "<num>" in masked or pending):
        return None
    if _REFUSAL_VERB.match(masked):
        return "deny"
    if _CONSENT_VERB.match(masked) and not _NEGATION_ANYWHERE.search(masked):
        return "approve"
    return None
