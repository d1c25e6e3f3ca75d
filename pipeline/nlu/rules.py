"""The fast half of the recogniser: patterns over the masked, corrected line.

Rules only claim lines whose meaning is unmistakable (`approve <num>`, `why ?`, `no don't`);
anything else goes to the classifier. A rule hit is worth more than a guess, and it costs
one regular-expression scan.
"""

from __future__ import annotations

import re

from pipeline.nlu.lexicon import ACTION_WORDS, KEYWORDS

_POLITE = r"(?:(?:please|pls|plz|hey|ok|okay|bot|ops|can you|could you|would you)\s+)*"
_TAIL = r"(?:\s+(?:please|pls|plz|thanks|thx|now|asap|\?))*"
_INC = r"(?:incident\s+)?(?:<inc>|<num>)"
_SUBJECT = r"(?:the\s+)?(?:<svc>|<inst>|it|that)"

_ABOUT_OPERATIONS = (
    r"(?=.*(?:<svc>|<alert>|<inst>|<inc>|<num>|\bit\b|\bincidents?\b|\balerts?\b|restart|reboot|"
    r"redeploy|scal|\bfired?\b|fail|break|\bdown\b|crash|outage|page))"
)

_RULES: tuple[tuple[str, str], ...] = (
    ("help", r"(?:help|\?|usage|commands|what can you do|halp)"),
    # Questions about the bot itself: what it is, what it can do, where its manual is.
    ("help", r"(?:is there|do you have|have you got|got|any|where(?:'s|\s+is))\s+(?:a\s+|an\s+|the\s+|any\s+)?"
     r"(?:manual|cheat\s*sheet|docs|documentation|tutorial|guide|list of commands)"
     r"(?:\s+(?:for|on|about)\s+(?:you|u|this bot|the bot|this))?(?:\s+\?)?"),
    ("help", r"(?:manual|cheat\s*sheet|tutorial|user guide)(?:\s+\?)?"),
    ("help", r"(?:what|who)\s+(?:is|are)\s+(?:this\s+bot|you|u)(?:\s+\?)?"),
    ("help", r"what\s+(?:else\s+)?(?:can|could)\s+(?:you|u)\s+do(?:\s+\S+){0,4}?(?:\s+\?)?"),
    ("help", r"what\s+(?:are|r)\s+(?:you|u)\s+(?:able\s+to|capable\s+of|good\s+for)(?:\s+do(?:ing)?)?(?:\s+\?)?"),
    # `can you do restarts too?`, `can you scale things?`: what the bot can do, not a command.
    ("help", r"(?:can|could)\s+(?:you|u)\s+(?:also\s+)?(?:do\s+)?(?:restarts|reboots|redeploys|scaling|"
     r"rollbacks|silences|escalations|approvals)(?:\s+\S+)*"),
    ("help", r"(?:can|could)\s+(?:you|u)\s+(?:also\s+)?(?:restart|reboot|redeploy|scale|silence|mute|"
     r"escalate|approve)\s+(?:things|stuff|anything|services)(?:\s+(?:too|also|\?))*"),
    # `mute it till I'm back from rounds`: a silence of something named, whatever follows.
    ("silence", r"(?:silence|mute|snooze|suppress)\s+(?:the\s+)?(?:<alert>|<svc>|<inst>|it|that|<inc>)"
     r"(?:\s+(?:till|until|from|while|during|through)\b(?:\s+\S+)*)"),
    ("status", r"(?:status|health|sitrep)(?:\s+(?:of|for|on)?\s*(?:the\s+)?(?:<svc>|<inst>))?"),
    ("status", r"(?:<svc>|<inst>)(?:\s+(?:status|health))?"),
    ("status", r"(?:the\s+)?(?:<svc>|<inst>)\s+(?:in|on)\s+<region>(?:\s+\?)?"),
    ("list_incidents", r"<alert>"),
    ("status", r"(?:how\s+is|how's|is)\s+(?:the\s+)?<svc>\s+(?:doing|healthy|ok|up|down)(?:\s+\?)?"),
    ("list_incidents", (r"(?:list|show)?\s*(?:all\s+|open\s+|active\s+|current\s+)*incidents"
                        r"(?:\s+(?:for|on|in)\s+(?:<svc>|<region>|<alert>))?")),
    ("list_incidents", r"(?:what|what is|what's)\s+(?:currently\s+)?(?:firing|on fire|broken)"),
    ("show_incident", r"(?:show|details|detail|describe|info|view|display)\s+(?:of\s+|for\s+|on\s+)?"
     + _INC),
    ("show_incident", r"incident\s+<inc>"),
    ("show_incident", r"<inc>"),
    ("approve", r"(?:approve|approved|lgtm|confirm|proceed(?:\s+with)?|go ahead(?:\s+with)?)"
     r"(?:\s+(?:" + _INC + r"|it|that))?"),
    ("approve", r"(?:yes|yep|yeah|sure)(?:\s+(?:do it|go ahead|please|approve))?"),
    ("approve", r"do it"),
    ("deny", r"(?:deny|denied|reject|rejected|decline|veto|refuse)(?:\s+(?:" + _INC + r"|it|that))?"),
    ("deny", r"(?:no|nope|nah)(?:[\s,]+(?:don't|dont|do not|don't do it|stop|cancel|wait))?"),
    ("deny", r"(?:don't|dont|do not)(?:\s+do\s+(?:it|that))?"),
    ("deny", r"(?:cancel|abort|hold off)(?:\s+(?:" + _INC + r"|it|that))?"),
    ("ack", r"(?:ack|acked|acknowledge|acknowledged|acknowledging)(?:\s+(?:" + _INC + r"|it|that))?"),
    ("silence", r"(?:silence|mute|snooze|suppress)\s+(?:(?:the\s+)?(?:<alert>|<svc>|<inst>|it|that|"
     + _INC + r")\s*)+(?:(?:on|for|in)\s+(?:the\s+)?(?:<svc>|<inst>|<region>)\s*)?"
     r"(?:for\s+(?:the\s+next\s+)?)?(?:<dur>)?"),
    ("unsilence", r"(?:unsilence|unmute|unsnooze|un-mute|un-silence)\s+(?:(?:the\s+)?(?:<alert>|<svc>|"
     r"<inst>|it|that|" + _INC + r")\s*)+(?:(?:on|for|in)\s+(?:the\s+)?(?:<svc>|<inst>)\s*)?"),
    ("remediate", r"(?:restart|reboot|redeploy|bounce|start|power on|spin up|cycle|boot)\s+"
     + _SUBJECT + r"(?:\s+(?:in|on)\s+(?:<region>|<svc>))?"),
    ("remediate", r"(?:scale|resize)\s+(?:up\s+|out\s+|down\s+)?" + _SUBJECT
     + r"(?:\s+(?:up|down|out))?\s+to\s+<cap>(?:\s+(?:replicas|instances|nodes|pods|tasks))?"),
    ("explain", r"(?:why|explain|why\?|how come)(?:\s+(?:is|was|did)?\s*(?:" + _INC
     + r"|it|that|<svc>)(?:\s+(?:risky|flagged|fire|firing|so risky))?)?(?:\s+\?)?"),
    ("explain", r"explain\s+" + _INC),
    # `would a redeploy fix 2755?`, `would restarting help with 318?`, `is the reboot safe?`:
    # asking what an action would do is asking for an explanation, not for the action.
    ("explain", r"(?:would|will|could|can|does|did|is|should|might)\s+(?:\S+\s+){0,3}?"
     r"(?:restart\w*|reboot\w*|redeploy\w*|scal\w+|rollback\w*|roll\s+back|bounc\w+)"
     r"(?:\s+\S+){0,4}?\s+(?:help|fix|work|solve|be\s+safe|safe)\b(?:\s+\S+)*"),
    # What is wrong, what causes it, what else to try: asking for a diagnosis.
    ("explain", r"(?:\S+\s+){0,3}?(?:what|wat|whats|what's|what\s+is)\s+(?:is\s+)?(?:wrong|causing|behind)"
     r"(?:\s+(?:with|w|w/|in|on))?\s+(?:the\s+)?(?:<svc>|<inst>|<inc>|<alert>|<num>|it|this|that)"
     r"(?:\s+\S+)*"),
    ("explain", r"(?:analy[sz]e|diagnose|investigate)\s+(?:incident\s+)?(?:<inc>|<num>|it|this)(?:\s+\S+)*"),
    ("explain", r"(?:\S+\s+){0,8}?what\s+else\s+(?:can|could|should)\s+(?:we|i)\s+(?:try|do)(?:\s+\S+)*"),
    # `is it the redis or the adt feed`, `is it labs or is it the hl7 engine`: which cause.
    ("explain", r"(?:\S+\s+){0,2}?(?:is|was)\s+(?:it|that|this)\s+(?:the\s+)?\S+(?:\s+\S+){0,2}?\s+or\s+"
     r"(?:is\s+it\s+|was\s+it\s+)?(?:the\s+)?(?:\S+\s+){0,1}?(?:<svc>|<inst>|<alert>)(?:\s+\S+)*"),
    ("explain", r"(?:\S+\s+){0,2}?(?:is|was)\s+(?:it|that|this)\s+(?:the\s+)?(?:<svc>|<inst>|<alert>)\s+or\s+"
     r"(?:\S+\s*)+"),
    # `is it safe to reboot …`, `it is safe to approve?`: asking what an action would do.
    ("explain", r"(?:is\s+it|it\s+is|it's|its)\s+(?:really\s+|even\s+|actually\s+)?safe\s+to\s+\S+"
     r"(?:\s+\S+)*"),
    # `3493 - who's got it`, `who is handling 3478?`: who works an incident, not an ack.
    ("show_incident", r"(?=.*(?:<inc>|<num>))(?:(?:<inc>|<num>)\s+)?(?:who|whos)\s+(?:is\s+|has\s+)?"
     r"(?:on|got|handling|working|assigned|owns|owning|took|taking)\b(?:\s+\S+)*"),
    # `has anyone acked 3534?`, `did someone approve 3528 already?`: the incident's state.
    ("show_incident", r"(?:has|have|did)\s+(?:anyone|someone|somebody|anybody)\s+(?:already\s+)?"
     r"(?:ack|acked|acknowledged|approve|approved)\s+(?:incident\s+)?(?:<inc>|<num>)"
     r"(?:\s+(?:already|yet|\?))*"),
    ("escalate", r"escalate(?:\s+(?:" + _INC + r"|it|this|that))?(?:\s+to\s+(?:the\s+)?<target>)?"),
    # How often something happened, or whether it did before, asks for the record (of
    # something of operations: `how often do you go to the gym` is not about it).
    ("history", _ABOUT_OPERATIONS + r"(?:how\s+often|how\s+many\s+times)\s+\S+(?:\s+\S+)*"),
    ("history", _ABOUT_OPERATIONS + r"(?:\S+\s+)*track\s+record(?:\s+\S+)*"),
    ("history", _ABOUT_OPERATIONS + r"(?:has|have|had)\s+(?:\S+\s+)+before(?:\s+\?)?"),
    # `past incidents on sso`, `show me resolved incidents for billing`: the record.
    ("history", r"(?:\S+\s+){0,4}?(?:past|prior|previous|resolved|closed|earlier|old)\s+(?:<alert>\s+)?"
     r"incidents(?:\s+\S+)*"),
    ("history", r"(?:(?:remediation|audit|action)\s+)?(?:history|log)(?:\s+(?:for|of|on)\s+"
     r"(?:<svc>|<inst>|" + _INC + r"|it))?"),
)

# `how do I unmute something`, `help escalate`: asking how to use the bot, naming nothing;
# `how do I reset my password` asks about something else (see `_about_the_bot`).
_HOW_TO = re.compile(
    _POLITE + r"(?:\w+\s+)?(?:how\s+(?:do|can|should|does|would)\s+(?:i|one|we|you)|how\s+to|"
    r"help(?:\s+(?:me\s+)?with)?)(?:\s+(?!<)[^<\s]+)+" + _TAIL
)
_ABOUT_THE_BOT = (
    KEYWORDS | frozenset(ACTION_WORDS)
    | frozenset({"bot", "you", "this", "it", "command", "commands", "use", "ops", "mute",
                 "unmute", "ack", "page", "escalate", "silence", "approve", "deny", "incident",
                 "that", "undo"})
)

_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (intent, re.compile(rf"{_POLITE}(?:{pattern}){_TAIL}")) for intent, pattern in _RULES
)


def match_rule(masked: str) -> str | None:
    """The intent whose rule matches the whole masked line, or None."""
    line = masked.strip()
    for intent, pattern in _COMPILED:
        if pattern.fullmatch(line):
            return intent
    if _HOW_TO.fullmatch(line) and _ABOUT_THE_BOT.intersection(line.split()[1:]):
        return "help"
    return None


def about_the_bot(masked: str) -> bool:
    """True when a how-to line names the bot, a command or a word of operations."""
    words = masked.split()
    return any(w.startswith("<") for w in words) or bool(_ABOUT_THE_BOT.intersection(words[1:]))
