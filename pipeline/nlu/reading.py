"""Read a chat line: find entity mentions by strict patterns and the catalog, then mask them.

Every entity value comes from a strict pattern (EC2 id, region, digits, duration) or is a
member of the catalog, so nothing a user pastes (`; rm -rf /`, backticks, `$(...)`) can
travel into an entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from pipeline.nlu.durations import find_durations
from pipeline.nlu.fuzzy import closest
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
_PREFIXED_INCIDENT_RE = re.compile(r"(?<![\w-])inc-?(\d{1,9})(?!\w)")
_SLACK_USER_RE = re.compile(r"<@([a-z0-9]{2,32})(?:\|[^>]{0,80})?>")
_NOT_WORDS_RE = re.compile(r"<(?:https?://|mailto:|#|!)[^>]*>|\bhttps?://\S+")
_TOKEN_RE = re.compile(r"[a-z0-9@][a-z0-9@'._/-]*|\?")
_TARGET_RE = re.compile(r"@?[a-z][a-z0-9._-]{1,63}")
_DIGITS_RE = re.compile(r"\d{1,9}")

_INCIDENT_CUES = frozenset({"incident", "incidents", "inc", "ticket", "case", "issue", "number", "no"})
_CAPACITY_NOUNS = frozenset(
    {"replicas", "replica", "instances", "nodes", "pods", "tasks", "copies", "containers",
     "hosts", "workers", "servers", "machines", "units", "boxes"}
)
_CAPACITY_CUES = frozenset({"to", "=", "x", "at"})
_ESCALATION_CUES = frozenset(
    {"escalate", "escalation", "escalating", "page", "ping", "notify", "loop", "wake",
     "call", "hand", "pass", "forward", "assign", "alert"}
)
_TARGET_LEADS = frozenset({"to", "page", "ping", "notify", "in", "up", "call", "over", "assign"})
_ARTICLES = frozenset({"the", "a", "an", "our", "my", "your"})
_PHRASE_ACTIONS: dict[tuple[str, str], str] = {
    ("spin", "up"): "start", ("bring", "up"): "start", ("power", "on"): "start",
    ("turn", "on"): "start", ("power", "cycle"): "reboot", ("roll", "out"): "redeploy",
    ("scale", "up"): "scale", ("scale", "down"): "scale", ("scale", "out"): "scale",
    ("scale", "in"): "scale", ("deploy", "again"): "redeploy",
}
_SERVICE_SUFFIXES = ("service", "svc", "app", "api", "server")
# Words never read as a slip of a service or alert name.
_ORDINARY = COMMON_WORDS | KEYWORDS | frozenset(ACTION_WORDS) | frozenset(KNOWN_SLIPS)


@dataclass(frozen=True)
class Reading:
    """A chat line read: its tokens, the mentions found, and the masked text to classify."""

    tokens: tuple[Token, ...]
    mentions: tuple[Mention, ...]
    masked: str

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
    lowered = normalise(text)
    mentions = _pattern_mentions(lowered)
    tokens = _tokens(lowered, mentions)
    mentions += _catalog_mentions(tokens, vocabulary, mentions)
    mentions += _unlisted_alert_mentions(text, lowered, tokens, mentions)
    tokens = tuple(t for t in tokens if not any(m.overlaps(t.start, t.end) for m in mentions))
    mentions += _number_mentions(lowered, tokens)
    mentions += _action_mentions(tokens)
    mentions += _target_mentions(lowered, tokens)
    ordered = tuple(sorted(mentions, key=lambda m: m.start))
    return Reading(tokens=tokens, mentions=ordered, masked=_mask(tokens, ordered))


# An Alertmanager alert name as people write them: `HighQueueLatency`, `KubePodCrashLooping`.
_ALERT_NAME_RE = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")


def _unlisted_alert_mentions(
    text: str, lowered: str, tokens: tuple[Token, ...], taken: list[Mention]
) -> list[Mention]:
    """CamelCase names the catalog does not list, kept exactly as written.

    Dropping them silently turned `silence HighQueueLatency on checkout` into a silence of
    every checkout alert; an alert name is the user's to give, the catalog only knows some.
    """
    found = []
    for token in tokens:
        if any(m.overlaps(token.start, token.end) for m in taken):
            continue
        written = text[token.start : token.end]
        # Only where the lowered line's span still indexes the original (it does for ASCII).
        if written.lower() == lowered[token.start : token.end] and len(written) <= 128 and _ALERT_NAME_RE.fullmatch(written):
            found.append(Mention("alertname", written, token.start, token.end))
    return found


def _pattern_mentions(text: str) -> list[Mention]:
    found: list[Mention] = []
    for match in _SLACK_USER_RE.finditer(text):
        _claim(found, Mention("target", match.group(1).upper(), match.start(), match.end()))
    for match in _INSTANCE_RE.finditer(text):
        _claim(found, Mention("instance", match.group(0), match.start(), match.end()))
    for match in _REGION_RE.finditer(text):
        _claim(found, Mention("region", match.group(0), match.start(), match.end()))
    for duration in find_durations(text):
        _claim(found, Mention("duration_s", duration.seconds, duration.start, duration.end))
    for pattern in (_HASH_INCIDENT_RE, _PREFIXED_INCIDENT_RE):
        for match in pattern.finditer(text):
            _claim(found, Mention("incident", int(match.group(1)), match.start(), match.end()))
    return found


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
    tokens: tuple[Token, ...], vocabulary: Vocabulary, taken: list[Mention]
) -> list[Mention]:
    found: list[Mention] = []
    free = [t for t in tokens if not any(m.overlaps(t.start, t.end) for m in taken)]
    for fuzzy in (False, True):
        for size in range(_MAX_NGRAM, 0, -1):
            for index in range(len(free) - size + 1):
                window = free[index : index + size]
                if any(m.overlaps(window[0].start, window[-1].end) for m in found):
                    continue
                mention = _catalog_match(window, vocabulary, fuzzy)
                if mention is not None:
                    found.append(mention)
    return found


def _catalog_match(window: list[Token], vocabulary: Vocabulary, fuzzy: bool) -> Mention | None:
    if not _adjacent(window):
        return None
    spelling = squash("".join(t.text for t in window))
    start, end = window[0].start, window[-1].end
    if not fuzzy:
        for kind, table in (("service", vocabulary.services), ("alertname", vocabulary.alerts)):
            value = table.get(spelling) or _without_suffix(spelling, table, kind)
            if value is not None:
                return Mention(kind, value, start, end)
        return None
    if not _may_be_typo(window, spelling):
        return None
    for kind, table in (("service", vocabulary.services), ("alertname", vocabulary.alerts)):
        value = closest(spelling, table)
        if value is not None:
            return Mention(kind, value, start, end)
    return None


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


def _number_mentions(text: str, tokens: tuple[Token, ...]) -> list[Mention]:
    found = []
    for index, token in enumerate(tokens):
        if not _DIGITS_RE.fullmatch(token.text) or not _stands_alone(text, token):
            continue
        before = tokens[index - 1].word if index else ""
        after = tokens[index + 1].word if index + 1 < len(tokens) else ""
        found.append(Mention(_number_kind(before, after, text, token), int(token.text),
                             token.start, token.end))
    return found


def _stands_alone(text: str, token: Token) -> bool:
    # `1=1`, `$1`, `` `whoami` `` are code, not a count, an incident or a team: free-form
    # values are only taken from words that stand between blanks and plain punctuation.
    before = text[token.start - 1] if token.start else " "
    after = text[token.end : token.end + 2] or " "
    return before in " #\t" and (after[0] in " \t?!.,:;" or after == "'s")


def _number_kind(before: str, after: str, text: str, token: Token) -> str:
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
        action = phrase or ACTION_WORDS.get(token.word)
        if action is not None:
            found.append(Mention("action", action, token.start, token.end))
    return found


def _target_mentions(text: str, tokens: tuple[Token, ...]) -> list[Mention]:
    words = [t.word for t in tokens]
    if not _ESCALATION_CUES.intersection(words):
        return []
    for index, token in enumerate(tokens[:-1]):
        if token.word not in _TARGET_LEADS:
            continue
        candidate = _next_target(text, tokens, index + 1)
        if candidate is not None:
            return [Mention("target", candidate.text.lstrip("@"), candidate.start, candidate.end)]
    return []


def _next_target(text: str, tokens: tuple[Token, ...], index: int) -> Token | None:
    while index < len(tokens) and tokens[index].word in _ARTICLES:
        index += 1
    if index >= len(tokens):
        return None
    token = tokens[index]
    plain = token.text.lstrip("@")
    if not _TARGET_RE.fullmatch(token.text) or not _stands_alone(text, token):
        return None
    if not token.text.startswith("@") and (
        plain in COMMON_WORDS or plain in KEYWORDS or token.word != token.text
    ):
        return None
    return token


def surface_words(fragment: str) -> list[str]:
    """The corrected words of a plain fragment, as `read` would produce them (for training)."""
    lowered = normalise(fragment)
    return [token.word for token in _tokens(lowered, [])]


def _mask(tokens: tuple[Token, ...], mentions: tuple[Mention, ...]) -> str:
    pieces: list[tuple[int, str]] = []
    for mention in mentions:
        if mention.kind != "action":
            pieces.append((mention.start, PLACEHOLDERS[mention.kind]))
    covered = {(m.start, m.end) for m in mentions if m.kind != "action"}
    for token in tokens:
        if not any(start < token.end and token.start < end for start, end in covered):
            pieces.append((token.start, token.word))
    return " ".join(piece for _, piece in sorted(pieces))
