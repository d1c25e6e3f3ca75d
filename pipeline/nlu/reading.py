"""Read a chat line: find entity mentions by strict patterns and the catalog, then mask them.

Every entity value comes from a strict pattern (EC2 id, region, digits, duration) or is a
member of the catalog, so nothing a user pastes (`; rm -rf /`, backticks, `$(...)`) can
travel into an entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from bisect import bisect_right
from itertools import pairwise

from pipeline.nlu.durations import find_durations
from pipeline.nlu.fuzzy import candidates
from pipeline.nlu.lexicon import ACTION_WORDS, COMMON_WORDS, KEYWORDS, KNOWN_SLIPS, correct_word
from pipeline.nlu.mentions import PLACEHOLDERS, Mention, Token
from pipeline.nlu.vocabulary import Vocabulary, squash

MAX_TEXT_CHARS = 500
_MAX_NGRAM = 3

_INSTANCE_RE = re.compile(r"(?<![a-z0-9-])i-[0-9a-f]{8,17}(?![a-z0-9-])")
_REGION_RE = re.compile(
    r"(?<![a-z0-9-])(?:us-gov|us|eu|ap|sa|ca|me|af|il|mx|cn)-"
    r"(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d{1,2}"
    r"(?![a-z0-9-])"
)
_HASH_INCIDENT_RE = re.compile(r"(?<![\w#])#(\d{1,9})(?!\w)")
_PREFIXED_INCIDENT_RE = re.compile(r"(?<![\w-])(?:inc|incident)(?:-|=|#|:)?(\d{1,9})(?!\w)")
_SLACK_USER_RE = re.compile(r"<@([a-z0-9]{2,32})(?:\|[^>]{0,80})?>")
# A Slack mention that opens the line addresses the bot; it names no one to escalate to.
_ADDRESS_RE = re.compile(r"^\s*<@[a-z0-9]{2,32}(?:\|[^>]{0,80})?>[\s,:]*", re.IGNORECASE)
# An alert name as people write them (`HighCPU`, `QueueBacklog`): two capitalised parts.
_CAMEL_RE = re.compile(r"(?<![\w-])(?=\w*[a-z])[A-Z][a-z0-9]*[A-Z][A-Za-z0-9]{0,60}(?![\w-])")
_CAMEL_PART_RE = re.compile(r"[A-Z][a-z]+|[A-Z0-9]+(?![a-z])|[a-z0-9]+")
_ALERT_CUES = frozenset({"alert", "alerts", "alarm", "alarms", "alerting", "warnings"})
_NOT_WORDS_RE = re.compile(r"<(?:https?://|mailto:|#|!)[^>]*>|\bhttps?://\S+")
_TOKEN_RE = re.compile(r"[a-z0-9@][a-z0-9@'._/-]*|\?")
_TARGET_RE = re.compile(r"@?[a-z][a-z0-9._-]{1,63}")
_DIGITS_RE = re.compile(r"\d{1,9}")
_CLOCK_RE = re.compile(r":[0-5]\d\b")
# Where a sentence or clause ends: `.`, `?`, `!`, `;`, `:` before a blank, a dash between
# blanks, a new line.
_CLAUSE_END_RE = re.compile(r"[.?!;:]+(?=\s)|\s[—–-]+\s|\n")

_INCIDENT_CUES = frozenset({"incident", "incidents", "inc", "ticket", "case", "issue", "number", "no"})
# A number after these belongs to something outside operations (`customer 4411`,
# `PR #4412`) or counts things (`last 10 actions`): never an incident id or a replica count.
_FOREIGN_NUMBER_CUES = frozenset(
    {"customer", "customers", "client", "txn", "transaction", "pr", "mr", "order", "invoice",
     "account", "user", "seat", "room", "floor", "page", "step", "version", "v", "build",
     "release", "port", "sku", "item", "row", "line", "chapter", "slide", "last", "past",
     "top", "first", "latest", "previous", "recent", "since", "until", "till", "before",
     "after", "around", "from"}
)
# Words after which a noun phrase starts (`the claim 881`, `to bed 7`, `for patient 44`).
_NOUN_OPENERS = frozenset(
    {"the", "a", "an", "this", "that", "my", "our", "your", "his", "her", "their", "for", "to",
     "in", "on", "at", "of", "from", "with", "about"}
)
# Nouns of operations a number may follow and still be an incident or a plan (`plan 2455`).
_OPERATIONS_NOUNS = frozenset(
    {"plan", "run", "proposal", "request", "approval", "remediation", "alert", "page", "sev",
     "outage", "problem", "postmortem", "pm", "rca", "ticket", "inc", "incident", "issue",
     "id", "job", "deploy", "deployment", "rollout", "change", "cr", "chg", "event"}
)
# `3 tickets`, `10 actions`: a count of something, not an incident id.
_COUNTED_NOUNS = frozenset(
    {"tickets", "actions", "remediations", "restarts", "reboots", "redeploys", "changes",
     "events", "times", "users", "customers", "requests", "errors", "people", "jobs", "items",
     "messages", "minutes", "mins", "hours", "days", "weeks", "incidents", "alerts", "pages"}
)
# After a duration these make it a time or an age, not a length to keep something up.
_DURATION_PAST_RE = re.compile(r"\s*(?:left|ago|remaining|old|overdue|late|behind|early|avg)\b")
# `tier 0`, `sev 2`, `level 3`: a rank, not an incident id.
_RANK_CUES = frozenset({"tier", "level", "sev", "severity", "priority", "prio"})
_CAPACITY_NOUNS = frozenset(
    {"replicas", "replica", "instances", "nodes", "pods", "tasks", "copies", "containers",
     "hosts", "workers", "servers", "machines", "units", "boxes"}
)
_CAPACITY_CUES = frozenset({"to", "=", "x", "at"})
_ESCALATION_CUES = frozenset(
    {"escalate", "escalation", "escalating", "page", "ping", "notify", "loop", "wake",
     "call", "hand", "pass", "forward", "assign", "alert", "pull", "raise"}
)
_TARGET_LEADS = frozenset(
    {"to", "page", "ping", "notify", "in", "up", "call", "over", "assign"}
)
_ARTICLES = frozenset({"the", "a", "an", "our", "my", "your"})
_PHRASE_ACTIONS: dict[tuple[str, str], str] = {
    ("spin", "up"): "start", ("bring", "up"): "start", ("power", "on"): "start",
    ("turn", "on"): "start", ("power", "cycle"): "reboot", ("roll", "out"): "redeploy",
    ("scale", "up"): "scale", ("scale", "down"): "scale", ("scale", "out"): "scale",
    ("scale", "in"): "scale", ("deploy", "again"): "redeploy", ("fresh", "deploy"): "redeploy",
    ("new", "deploy"): "redeploy", ("roll", "back"): "redeploy",
}
# `bring X back up`, `spin it up`, `power it on`: the particle comes after the object;
# `turn X off and on again` restarts it.
_SPLIT_PHRASE_VERBS = frozenset({"bring", "spin", "power", "turn", "switch"})
_SPLIT_PHRASE_REACH = 4
_SERVICE_SUFFIXES = ("service", "svc", "app", "api", "server")

# Words never read as a slip of a service or alert name.
_ORDINARY = (
    COMMON_WORDS | KEYWORDS | frozenset(ACTION_WORDS) | frozenset(KNOWN_SLIPS)
    | _ESCALATION_CUES | _TARGET_LEADS
)
# Reactions people use for yes and no, read as the words they stand for.
_REACTIONS = {
    "👍": " approve ", "✅": " approve ", ":+1:": " approve ", ":white_check_mark:": " approve ",
    ":heavy_check_mark:": " approve ", "✔️": " approve ", "👎": " deny ", "❌": " deny ",
    ":x:": " deny ", ":-1:": " deny ", ":no_entry:": " deny ", "⛔": " deny ",
}
# Only a reaction that opens the line stands for a yes or no (`✅ 4444`, not `ack 12 ✔️`).
_REACTION_RE = re.compile(r"^\s*(?:" + "|".join(re.escape(r) for r in _REACTIONS) + ")")


@dataclass(frozen=True)
class Reading:
    """A chat line read: its tokens, the mentions found, and the masked text to classify."""

    tokens: tuple[Token, ...]
    mentions: tuple[Mention, ...]
    masked: str
    # Service names a slip could be several of: (candidates...) per such mention.
    ambiguous: tuple[tuple[str, ...], ...] = field(default=())
    # Alert names written like alert names but not in the catalog, kept as written.
    unknown_alerts: tuple[str, ...] = field(default=())
    # The masked text of each sentence or clause, when the line has more than one
    # (`lol wrong channel. restart <svc> pls`).
    clauses: tuple[str, ...] = field(default=())
    # True when the line has anything but blanks (emoji, a link), even if nothing is read.
    has_text: bool = True
    # The normalised line the spans index.
    text: str = ""

    def spelled(self, mention: Mention) -> str:
        """How `mention` was written in the line."""
        return self.text[mention.start : mention.end]

    def words(self) -> tuple[str, ...]:
        """The corrected words of the line, in order."""
        return tuple(token.word for token in self.tokens)


def normalise(text: str) -> str:
    """Lower-case, straight quotes, links blanked out, at most MAX_TEXT_CHARS."""
    text = text[:MAX_TEXT_CHARS].replace("\u2019", "'").replace("\u2018", "'")
    lowered = text.lower()
    # Unicode lower-casing can change lengths; spans must index the same string.
    if len(lowered) != len(text):
        lowered = text.casefold()[:MAX_TEXT_CHARS]
    # A pasted dashboard link (`...?var-service=payments`) names nothing the user meant;
    # blanking keeps every other span where it was.
    return _NOT_WORDS_RE.sub(lambda match: " " * len(match.group(0)), lowered)


def read(text: str, vocabulary: Vocabulary) -> Reading:
    """Find the entity mentions in `text` and build the masked line for the classifier."""
    text = _ADDRESS_RE.sub(lambda match: " " * len(match.group(0)), text[:MAX_TEXT_CHARS])
    text = _REACTION_RE.sub(lambda match: _REACTIONS[match.group(0)], text)
    lowered = normalise(text)
    mentions = _pattern_mentions(lowered)
    tokens = _tokens(lowered, mentions)
    mentions += _target_mentions(text, lowered, tokens, mentions, vocabulary)
    ambiguous: list[tuple[str, ...]] = []
    found = _catalog_mentions(tokens, vocabulary, mentions, ambiguous)
    mentions += _generic_words_dropped(lowered, found)
    unknown = _unknown_alert_mentions(text, vocabulary, mentions)
    mentions += unknown
    mentions += _described_alert_mentions(tokens, vocabulary, mentions)
    tokens = tuple(t for t in tokens if not any(m.overlaps(t.start, t.end) for m in mentions))
    mentions += _number_mentions(lowered, tokens)
    mentions += _action_mentions(tokens)
    ordered = tuple(sorted(mentions, key=lambda m: m.start))
    pieces = _mask(tokens, ordered)
    return Reading(
        tokens=tokens, mentions=ordered, masked=" ".join(piece for _, piece in pieces),
        ambiguous=tuple(ambiguous), unknown_alerts=tuple(str(m.value) for m in unknown),
        clauses=_clauses(lowered, pieces), has_text=bool(text.strip()), text=lowered,
    )


_CLAUSE_OR_COMMA_RE = re.compile(r"[.?!;:,]+(?=\s)|\s[—–-]+\s|\n")


def clause_span(text: str, position: int) -> tuple[int, int]:
    """Where the clause (to a comma) holding `position` starts and ends in `text`."""
    start, end = 0, len(text)
    for match in _CLAUSE_OR_COMMA_RE.finditer(text):
        if match.end() <= position:
            start = match.end()
        elif match.start() >= position:
            end = match.start()
            break
    return start, end


def _clauses(text: str, pieces: list[tuple[int, str]]) -> tuple[str, ...]:
    ends = [match.end() for match in _CLAUSE_END_RE.finditer(text)]
    if not ends:
        return ()
    clauses: list[list[str]] = [[] for _ in range(len(ends) + 1)]
    for start, piece in pieces:
        clauses[bisect_right(ends, start)].append(piece)
    found = tuple(" ".join(words) for words in clauses if any(w != "?" for w in words))
    return found if len(found) > 1 else ()


def _pattern_mentions(text: str) -> list[Mention]:
    found: list[Mention] = []
    for match in _SLACK_USER_RE.finditer(text):
        _claim(found, Mention("target", match.group(1).upper(), match.start(), match.end()))
    for match in _INSTANCE_RE.finditer(text):
        _claim(found, Mention("instance", match.group(0), match.start(), match.end()))
    for match in _REGION_RE.finditer(text):
        _claim(found, Mention("region", match.group(0), match.start(), match.end()))
    for duration in find_durations(text):
        if _DURATION_PAST_RE.match(text, duration.end):
            continue  # `9 days left`, `20 min ago`: when something happens, no window to set
        _claim(found, Mention("duration_s", duration.seconds, duration.start, duration.end))
    for pattern in (_HASH_INCIDENT_RE, _PREFIXED_INCIDENT_RE):
        for match in pattern.finditer(text):
            kind = "quantity" if _word_before(text, match.start()) in _FOREIGN_NUMBER_CUES else "incident"
            _claim(found, Mention(kind, int(match.group(1)), match.start(), match.end()))
    return found


def _word_before(text: str, position: int) -> str:
    words = _TOKEN_RE.findall(text[max(0, position - 24) : position])
    return words[-1].strip("'._/-") if words else ""


def _claim(found: list[Mention], mention: Mention) -> None:
    if not any(other.overlaps(mention.start, mention.end) for other in found):
        found.append(mention)


def _tokens(text: str, mentions: list[Mention]) -> tuple[Token, ...]:
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        start, end = _trim(text, match.start(), match.end())
        if start >= end:
            continue
        raw = text[start:end]
        word = raw if any(m.overlaps(start, end) for m in mentions) else correct_word(raw)
        tokens.append(Token(raw, start, end, word))
    return tuple(tokens)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in "'._/-":
        end -= 1
    if text.endswith("'s", start, end) and end - start > 3:
        end -= 2  # possessive: `checkout's` names checkout
    return start, end


def _catalog_mentions(
    tokens: tuple[Token, ...],
    vocabulary: Vocabulary,
    taken: list[Mention],
    ambiguous: list[tuple[str, ...]],
) -> list[Mention]:
    found: list[Mention] = []
    free = [t for t in tokens if not any(m.overlaps(t.start, t.end) for m in taken)]
    for fuzzy in (False, True):
        for size in range(_MAX_NGRAM, 0, -1):
            for index in range(len(free) - size + 1):
                window = free[index : index + size]
                if any(m.overlaps(window[0].start, window[-1].end) for m in found):
                    continue
                mention, choices = _catalog_match(window, vocabulary, fuzzy)
                if mention is not None:
                    found.append(mention)
                    if len(choices) > 1:
                        ambiguous.append(choices)
    return found


def _generic_words_dropped(text: str, found: list[Mention]) -> list[Mention]:
    # `adt alerts`, `PodCrashLooping alerts`, `lab status`: a service whose name is a word of
    # the domain, right after another service or an alert, is that word, not the service.
    ordered = sorted(found, key=lambda m: m.start)
    kept = []
    for previous, mention in zip([None, *ordered], ordered):
        spelled = text[mention.start : mention.end]
        if (previous is not None and mention.kind == "service" and spelled in KEYWORDS
                and not text[previous.end : mention.start].strip()):
            continue
        kept.append(mention)
    return kept


def _catalog_match(
    window: list[Token], vocabulary: Vocabulary, fuzzy: bool
) -> tuple[Mention | None, tuple[str, ...]]:
    if not _adjacent(window):
        return None, ()
    spelling = squash("".join(t.text for t in window))
    start, end = window[0].start, window[-1].end
    if not fuzzy:
        for kind, table in (("service", vocabulary.services), ("alertname", vocabulary.alerts)):
            value = table.get(spelling) or _without_suffix(spelling, table, kind)
            if value is not None:
                return Mention(kind, value, start, end), (value,)
        return None, ()
    if not _may_be_typo(window, spelling):
        return None, ()
    # A token written as a compound (`eta-predicter`) is a name, not an English word a
    # substituted letter could turn into another: there a substitution is a slip too.
    single_word = len(window) == 1 and not any(c in window[0].text for c in "-_.")
    for kind, table in (("service", vocabulary.services), ("alertname", vocabulary.alerts)):
        found = candidates(spelling, table, substitutions=not single_word)
        if len(found) == 1 or (found and kind == "service"):
            return Mention(kind, found[0], start, end), found
    return None, ()


def _unknown_alert_mentions(
    text: str, vocabulary: Vocabulary, taken: list[Mention]
) -> list[Mention]:
    # Kept exactly as written: a silence for an alert the catalog does not list yet is
    # confirmed with the user, never dropped or bent to a near name.
    found = []
    for match in _CAMEL_RE.finditer(text):
        if any(m.overlaps(match.start(), match.end()) for m in taken):
            continue
        if len(match.group(0)) < 5 or squash(match.group(0)) in vocabulary.services:
            continue
        found.append(Mention("alertname", match.group(0), match.start(), match.end()))
    return found


def _described_alert_mentions(
    tokens: tuple[Token, ...], vocabulary: Vocabulary, taken: list[Mention]
) -> list[Mention]:
    # `p99 latency alerts`, `the oom alerts`: the words before `alerts` are parts of
    # exactly one catalog alert name.
    for index, token in enumerate(tokens):
        if token.word not in _ALERT_CUES:
            continue
        for size in (3, 2, 1):
            window = tokens[max(0, index - size) : index]
            if len(window) < size or any(m.overlaps(window[0].start, token.end) for m in taken):
                continue
            matches = [a for a in vocabulary.alert_names if _describes(window, a)]
            if len(matches) == 1:
                return [Mention("alertname", matches[0], window[0].start, token.end)]
    return []


def _describes(window: list[Token] | tuple[Token, ...], alert: str) -> bool:
    parts = [part.lower() for part in _CAMEL_PART_RE.findall(alert)]
    words = [t.text for t in window if t.text not in _ARTICLES]
    if not words or any(w in COMMON_WORDS and w not in parts for w in words):
        return False
    return all(
        any(part == w or (len(w) >= 4 and part[:4] == w[:4]) for part in parts) for w in words
    )


def _adjacent(window: list[Token]) -> bool:
    # A phrase like `api gateway` may span tokens separated by blanks, never by other text.
    return all(b.start - a.end <= 2 for a, b in pairwise(window))


def _without_suffix(spelling: str, table: Mapping[str, str], kind: str) -> str | None:
    if kind != "service":
        return None
    for suffix in _SERVICE_SUFFIXES:
        if spelling.endswith(suffix) and len(spelling) > len(suffix) + 2:
            value = table.get(spelling[: -len(suffix)])
            if value is not None:
                return value
    return None


def _may_be_typo(window: list[Token], spelling: str) -> bool:
    if len(spelling) < 5 or any(t.text[0].isdigit() for t in window):
        return False
    return not any(t.text in _ORDINARY or t.word != t.text for t in window)


_UNITS = {
    word: value for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {word: 10 * (i + 2) for i, word in
         enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
# After these a spelled number is an incident id: `ack nine`, `incident fifty-six`,
# `reject incident seven hundred three`, `approve number four`.
_SPELLED_INCIDENT_CUES = _INCIDENT_CUES | frozenset(
    {"approve", "deny", "reject", "ack", "acknowledge", "escalate", "show", "explain"}
)


def _spelled_value(parts: list[str]) -> int | None:
    """The value of number words (`seven hundred three`, `thirty-three`), else None."""
    total, current, seen = 0, 0, False
    for position, part in enumerate(parts):
        if part in _UNITS or part in _TENS:
            current += _UNITS.get(part, 0) + _TENS.get(part, 0)
        elif part == "hundred" and seen:
            current *= 100
        elif part == "thousand" and seen:
            total, current = total + current * 1000, 0
        elif part == "and" and position and parts[position - 1] in ("hundred", "thousand"):
            continue  # `five hundred and five`
        else:
            return None
        seen = True
    return total + current if seen else None


def _spelled_mentions(tokens: tuple[Token, ...]) -> list[Mention]:
    found = []
    index = 0
    while index < len(tokens):
        if index == 0 or tokens[index - 1].word not in _SPELLED_INCIDENT_CUES:
            index += 1
            continue
        end, parts = index, []
        while end < len(tokens) and _spelled_value(parts + tokens[end].text.split("-")) is not None:
            parts += tokens[end].text.split("-")
            end += 1
        if parts and parts[-1] == "and":
            parts, end = parts[:-1], end - 1
        if end > index and parts != ["one"]:  # `ack that one`, `show the first one`
            value = _spelled_value(parts)
            if value:
                found.append(Mention("incident", value, tokens[index].start, tokens[end - 1].end))
            index = end
        else:
            index += 1
    return found


def _number_mentions(text: str, tokens: tuple[Token, ...]) -> list[Mention]:
    found = _spelled_mentions(tokens)
    for index, token in enumerate(tokens):
        if not _DIGITS_RE.fullmatch(token.text) or not _stands_alone(text, token, quoted=True):
            continue
        if _CLOCK_RE.match(text, token.end):
            continue  # `14:02`, `10:40`: a time of day
        before = tokens[index - 1].word if index else ""
        after = tokens[index + 1].word if index + 1 < len(tokens) else ""
        kind = _number_kind(before, after, text, token)
        if _ARROW_RE.match(text[token.end :].lstrip()) and re.match(
            r"\s*(?:->|→|=>)\s*\d", text[token.end :]
        ):
            kind = "quantity"  # `scale card-auth 10 -> 14`: where it comes from, not where to
        elif kind == "number" and _counts_things(before, after) and index + 1 < len(tokens) \
                and not text[token.end : tokens[index + 1].start].strip():
            kind = "quantity"  # `the 835 files were late`: a number of things or their kind
        if kind == "number" and index >= 2 and not text[tokens[index - 1].end : token.start].strip() \
                and _labels_a_thing(before, tokens[index - 2].word):
            kind = "quantity"
        found.append(Mention(kind, int(token.text), token.start, token.end))
    return found


def _counts_things(before: str, after: str) -> bool:
    # A plural noun the bot does not know right after a number (`the 835 files`, `40 beds`);
    # a number right after a command's verb is what the command is about (`kick 4011 upstairs`).
    if before in _SPELLED_INCIDENT_CUES or before in ACTION_WORDS or before in _ESCALATION_CUES:
        return False
    return (
        after.isalpha() and len(after) >= 4 and after.endswith("s") and after not in _ORDINARY
        and after not in _OPERATIONS_NOUNS and after not in _CAPACITY_NOUNS
    )


def _labels_a_thing(before: str, before_that: str) -> bool:
    # `deny the claim 88123`, `page her to bed 7`, `for patient 4411`: after an article or a
    # preposition, a plain noun the bot does not know and then a number: the number names
    # that thing, not an incident. Commands put the number right after their verb
    # (`approve 12`) or after an incident word (`the incident 12`, `plan 2455`).
    return (
        before_that in _NOUN_OPENERS and before.isalpha() and len(before) >= 3
        and before not in _ORDINARY and before not in _OPERATIONS_NOUNS
        and before not in _ESCALATION_CUES
    )


def _stands_alone(text: str, token: Token, quoted: bool = False) -> bool:
    # `1=1`, `$1`, `` `whoami` `` are code, not a count, an incident or a team: free-form
    # values are only taken from words that stand between blanks and plain punctuation.
    # A number may sit in a quoted command (`` `approve 4452` ``): digits cannot carry code.
    quotes = "`*_" if quoted else ""
    before = text[token.start - 1] if token.start else " "
    after = text[token.end : token.end + 2] or " "
    return before in " #\t" + quotes and (after[0] in " \t?!.,:;" + quotes or after == "'s")


def _number_kind(before: str, after: str, text: str, token: Token) -> str:
    if before in _FOREIGN_NUMBER_CUES or after in _COUNTED_NOUNS or before in _RANK_CUES:
        return "quantity"
    if before in _INCIDENT_CUES or text[max(0, token.start - 1) : token.start] == "#":
        return "incident"
    if before in _CAPACITY_CUES or after in _CAPACITY_NOUNS:
        return "capacity"
    return "number"


def _action_mentions(tokens: tuple[Token, ...]) -> list[Mention]:
    found = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1].word if index + 1 < len(tokens) else ""
        phrase = _PHRASE_ACTIONS.get((token.word, following))
        action = phrase or ACTION_WORDS.get(token.word) or _split_phrase(tokens, index)
        if action is not None:
            found.append(Mention("action", action, token.start, token.end))
    return found


def _split_phrase(tokens: tuple[Token, ...], index: int) -> str | None:
    if tokens[index].word not in _SPLIT_PHRASE_VERBS:
        return None
    switched_off = False
    for token in tokens[index + 1 : index + 1 + _SPLIT_PHRASE_REACH]:
        if token.word == "off":
            switched_off = True
        elif token.word in ("up", "on"):
            return "restart" if switched_off else "start"
        elif token.word in ("down", "alerts", "alert", "alarms", "paging"):
            return None
    return None


_TARGET_STOPS = frozenset(
    {"about", "for", "re", "regarding", "on", "with", "now", "asap", "please", "pls", "because",
     "since", "and", "so", "if", "as", "it's", "i'm", "immediately", "urgently", "too",
     "then", "right", "today", "tonight", "yesterday", "tomorrow", "earlier", "instead", "lol", "lmao", "she", "he", "they",
     "who", "whoever", "cause", "cuz", "thanks", "thx", "when", "while", "until"}
)
_ARROW_RE = re.compile(r"->|→|=>")
_TARGET_SKIPS = frozenset({"someone", "somebody", "from", "of"})
# Slack's `@here`, `@channel`, `@everyone` notify whoever is in the channel: a call to the
# room (`@here standup in 5`), not a person or team to escalate to.
_BROADCASTS = frozenset({"here", "channel", "everyone"})
_MAX_TARGET_WORDS = 4
_RANKS = frozenset({"tier", "level", "l", "line"})


def _target_mentions(
    original: str,
    text: str,
    tokens: tuple[Token, ...],
    taken: list[Mention],
    vocabulary: Vocabulary,
) -> list[Mention]:
    words = [t.word for t in tokens]
    handles = [i for i, t in enumerate(tokens) if t.text.startswith("@") and len(t.text) > 2
               and t.text[1:] not in _BROADCASTS]
    opening = bool(words) and words[0] == "to"  # `to the db team`, answering `escalate?`
    if not _ESCALATION_CUES.intersection(words) and not handles and not opening:
        return []
    leads = [i + 1 for i, t in enumerate(tokens[:-1]) if (
        t.word in _TARGET_LEADS and not _inside_catalog_name(tokens, i, vocabulary)
    ) or _ARROW_RE.search(text[t.end : tokens[i + 1].start])]
    for start in leads + handles:
        span = _target_span(text, tokens, start, taken, vocabulary)
        if span is not None:
            first, last = span
            # Kept as written (`DBA team`, `CISO`); the original has the same offsets.
            source = original if len(original) == len(text) else text
            value = source[first.start : last.end].lstrip("@")
            return [Mention("target", value, first.start, last.end)]
    return []


def _inside_catalog_name(tokens: tuple[Token, ...], index: int, vocabulary: Vocabulary) -> bool:
    # `nurse call failing`: `call` is part of a service's name here, it calls no one.
    for start in range(max(0, index - _MAX_NGRAM + 1), index + 1):
        for end in range(index + 1, min(len(tokens), start + _MAX_NGRAM) + 1):
            window = list(tokens[start:end])
            if len(window) < 2 or not _adjacent(window):
                continue
            spelling = squash("".join(t.text for t in window))
            if spelling in vocabulary.services or spelling in vocabulary.alerts:
                return True
    return False


def _target_span(
    text: str, tokens: tuple[Token, ...], index: int, taken: list[Mention], vocabulary: Vocabulary
) -> tuple[Token, Token] | None:
    while index < len(tokens) and (
        tokens[index].word in _ARTICLES or tokens[index].word in _TARGET_SKIPS
    ):
        index += 1
    first = _next_target(text, tokens, index, taken)
    if first is None:
        return None
    if squash(first.text) in vocabulary.services and not _names_a_team(tokens, index):
        return None  # `ping ledger` asks about a service, it pages no one
    last = first
    if first.text.startswith("@"):
        return first, last  # a handle names one person or group
    following = tokens[index + 1 : index + _MAX_TARGET_WORDS]
    for position, token in enumerate(following):
        gap = text[last.end : token.start]
        if gap.strip():
            break
        if token.text.isdigit() and last.word in _RANKS and len(token.text) <= 2:
            last = token  # `tier 2`
            continue
        after = following[position + 1].word if position + 1 < len(following) else ""
        if token.word == "on" and after in ("duty", "call"):
            last = token  # `manager on duty`: `on` is part of the name
            continue
        if token.word in ACTION_WORDS and after in _TEAM_WORDS:
            last = token  # `revenue cycle director`: part of a role's name
            continue
        if token.word in _TARGET_STOPS or token.word in ACTION_WORDS or not _TARGET_RE.fullmatch(
            token.text
        ):
            break
        if any(m.overlaps(token.start, token.end) for m in taken) or (
            squash(token.text) in vocabulary.services
        ):
            break  # `escalate to sre billing`: the service is what it is about, not the team
        last = token
    return first, last


def _next_target(
    text: str, tokens: tuple[Token, ...], index: int, taken: list[Mention]
) -> Token | None:
    if index >= len(tokens):
        return None
    token = tokens[index]
    plain = token.text.lstrip("@")
    if not _TARGET_RE.fullmatch(token.text) or not _stands_alone(text, token):
        return None
    if any(m.overlaps(token.start, token.end) for m in taken) or re.fullmatch(r"sev\d|p\d", plain):
        return None
    if plain in _TARGET_STOPS or plain in ("pls", "plz", "thx") or (
        token.text.startswith("@") and plain in _BROADCASTS
    ):
        return None
    if not token.text.startswith("@") and (
        plain in COMMON_WORDS or plain in KEYWORDS or token.word != token.text
    ) and not _names_a_team(tokens, index):
        return None
    return token


def _names_a_team(tokens: tuple[Token, ...], index: int) -> bool:
    # `the search team`, `pricing oncall`: an ordinary first word is still a target
    # when a team word follows it.
    following = tokens[index + 1].word if index + 1 < len(tokens) else ""
    return following in _TEAM_WORDS


# Words that make the words before them a team or a role (`LIS vendor`, `incident commander`).
_TEAM_WORDS = frozenset(
    {"team", "oncall", "on-call", "lead", "leads", "sre", "squad", "owner", "owners", "vendor",
     "support", "director", "commander", "manager", "desk", "admin", "admins", "supervisor"}
)


def surface_words(fragment: str) -> list[str]:
    """The corrected words of a plain fragment, as `read` would produce them (for training)."""
    lowered = normalise(fragment)
    return [token.word for token in _tokens(lowered, [])]


def _mask(tokens: tuple[Token, ...], mentions: tuple[Mention, ...]) -> list[tuple[int, str]]:
    pieces: list[tuple[int, str]] = []
    for mention in mentions:
        if mention.kind != "action":
            pieces.append((mention.start, PLACEHOLDERS[mention.kind]))
    covered = {(m.start, m.end) for m in mentions if m.kind != "action"}
    for token in tokens:
        if not any(start < token.end and token.start < end for start, end in covered):
            pieces.append((token.start, token.word))
    return sorted(pieces)
