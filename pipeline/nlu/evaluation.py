"""Score the recogniser on labelled chat lines: intent accuracy, entity micro P/R/F1, confusion."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import InvalidInput
from pipeline.nlu.clarify import MUTATING_INTENTS
from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext
from pipeline.nlu.understanding import INTENTS, Understanding, next_context, understand
from pipeline.nlu.vocabulary import Vocabulary

_SLACK_MENTION_RE = re.compile(r"<@([A-Za-z0-9]+)(?:\|[^>]*)?>")

Recogniser = Callable[[str, ChatContext, Vocabulary], Understanding]


@dataclass(frozen=True)
class LabelledLine:
    """One line of a chat evaluation file."""

    text: str
    intent: str
    entities: Mapping[str, Any]
    session: str | None = None


@dataclass(frozen=True)
class Miss:
    """A line the recogniser got wrong, for humans to read."""

    text: str
    expected_intent: str
    got_intent: str
    expected_entities: Mapping[str, Any]
    got_entities: Mapping[str, Any]
    asked: bool = False
    severe: bool = False


@dataclass(frozen=True)
class EvaluationReport:
    """Intent accuracy, entity micro precision/recall/F1 and the intent confusion counts.

    `asked_share` is the share of lines where the bot asked a clarifying question instead
    of answering; `answered_accuracy` is the intent accuracy on the other lines; `severe`
    counts mutating actions taken (not asked) on a wrong intent. Intent accuracy and
    entity figures score the best guess on every line, asked or not.
    """

    n: int
    intent_accuracy: float
    entity_precision: float
    entity_recall: float
    entity_f1: float
    confusion: dict[str, dict[str, int]]
    misses: tuple[Miss, ...] = field(default=())
    asked_share: float = 0.0
    answered_accuracy: float = 1.0
    severe: int = 0
    # Raw counts behind the ratios, so reports on several sets can be pooled (`pool`).
    counts: Mapping[str, int] = field(default_factory=dict)

    def summary_line(self) -> str:
        """The headline figures on one line."""
        return (
            f"n={self.n} intent={self.intent_accuracy:.3f} entityF1={self.entity_f1:.3f} "
            f"asked={self.asked_share:.3f} answered_acc={self.answered_accuracy:.3f} "
            f"severe={self.severe}"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON-able object (misses included, as lists of fields)."""
        return {
            "n": self.n,
            "intent_accuracy": self.intent_accuracy,
            "entity_precision": self.entity_precision,
            "entity_recall": self.entity_recall,
            "entity_f1": self.entity_f1,
            "asked_share": self.asked_share,
            "answered_accuracy": self.answered_accuracy,
            "severe_errors": self.severe,
            "confusion": self.confusion,
            "misses": [dict(miss.__dict__) for miss in self.misses],
        }


def parse_labelled_lines(raw_lines: Iterable[str], source: str) -> list[LabelledLine]:
    """Parse the lines of a JSONL evaluation set; a bad line is reported as source:number."""
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        if raw.strip():
            lines.append(_labelled(raw, f"{source}:{number}"))
    return lines


def _labelled(raw: str, where: str) -> LabelledLine:
    try:
        data = json.loads(raw)
        text, intent = data["text"], data["intent"]
        entities = data.get("entities") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{where}: needs a JSON object with text and intent: {exc}") from exc
    if intent not in INTENTS or not isinstance(text, str) or not isinstance(entities, dict):
        raise InvalidInput(f"{where}: unknown intent {intent!r} or malformed text/entities")
    session = data.get("session")
    return LabelledLine(text, intent, entities, str(session) if session is not None else None)


def predict_lines(
    lines: Iterable[LabelledLine], vocabulary: Vocabulary, recogniser: Recogniser = understand
) -> list[Understanding]:
    """Understand every line in order; lines sharing a session carry their context."""
    contexts: dict[str, ChatContext] = {}
    results = []
    for line in lines:
        context = contexts.get(line.session, EMPTY_CONTEXT) if line.session else EMPTY_CONTEXT
        understanding = recogniser(line.text, context, vocabulary)
        if line.session:
            contexts[line.session] = next_context(context, understanding)
        results.append(understanding)
    return results


def evaluate(
    lines: list[LabelledLine], vocabulary: Vocabulary, recogniser: Recogniser = understand
) -> EvaluationReport:
    """Score `recogniser` (the product's by default) on `lines` (see EvaluationReport)."""
    predictions = predict_lines(lines, vocabulary, recogniser)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    true_positive = predicted_total = expected_total = correct = 0
    asked = answered_correct = severe = 0
    misses = []
    for line, got in zip(lines, predictions):
        confusion[line.intent][got.intent] += 1
        right = line.intent == got.intent
        correct += right
        asked += got.asks
        answered_correct += right and not got.asks
        wrong_action = not got.asks and not right and got.intent in MUTATING_INTENTS
        severe += wrong_action
        expected_pairs, got_pairs = _scored_pairs(line, got)
        true_positive += len(expected_pairs & got_pairs)
        predicted_total += len(got_pairs)
        expected_total += len(expected_pairs)
        if not right or expected_pairs != got_pairs:
            misses.append(Miss(line.text, line.intent, got.intent, line.entities, got.entities,
                               got.asks, wrong_action))
    precision = _ratio(true_positive, predicted_total)
    recall = _ratio(true_positive, expected_total)
    return EvaluationReport(
        n=len(lines),
        intent_accuracy=_ratio(correct, len(lines)),
        entity_precision=precision,
        entity_recall=recall,
        entity_f1=_ratio(2 * precision * recall, precision + recall),
        confusion={gold: dict(row) for gold, row in sorted(confusion.items())},
        misses=tuple(misses),
        asked_share=_ratio(asked, len(lines)) if lines else 0.0,
        answered_accuracy=_ratio(answered_correct, len(lines) - asked),
        severe=severe,
        counts={"correct": correct, "asked": asked, "answered_correct": answered_correct,
                "true_positive": true_positive, "predicted": predicted_total,
                "expected": expected_total},
    )


def pool(reports: Iterable[EvaluationReport]) -> EvaluationReport:
    """One report over the lines of several: micro figures, as if scored as one set."""
    reports = list(reports)
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.counts)
    n = sum(report.n for report in reports)
    precision = _ratio(total["true_positive"], total["predicted"])
    recall = _ratio(total["true_positive"], total["expected"])
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        for gold, row in report.confusion.items():
            confusion[gold].update(row)
    return EvaluationReport(
        n=n,
        intent_accuracy=_ratio(total["correct"], n),
        entity_precision=precision,
        entity_recall=recall,
        entity_f1=_ratio(2 * precision * recall, precision + recall),
        confusion={gold: dict(row) for gold, row in sorted(confusion.items())},
        misses=tuple(miss for report in reports for miss in report.misses),
        asked_share=_ratio(total["asked"], n) if n else 0.0,
        answered_accuracy=_ratio(total["answered_correct"], n - total["asked"]),
        severe=sum(report.severe for report in reports),
        counts=dict(total),
    )


def _scored_pairs(
    line: LabelledLine, got: Understanding
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    # The label format defines entities as parameters of a command; on a line labelled
    # unknown there is no command, and the writers differ on whether they keep the names
    # such a line mentions. Its intent is scored, its entities are not.
    if line.intent == "unknown":
        return set(), set()
    return _pairs(line.entities), _pairs(got.entities)


def _pairs(entities: Mapping[str, Any]) -> set[tuple[str, str]]:
    # Compared as key=value strings so `12` and 12 agree, as the label format intends.
    return {(key, _comparable(key, value)) for key, value in entities.items()}


def _comparable(key: str, value: Any) -> str:
    # An escalation target is written `sre-leads`, `@sre-leads` or as a Slack mention
    # `<@U03H7QK2P>`: the same person or team, whichever a writer chose.
    text = str(value)
    if key != "target":
        return text
    mention = _SLACK_MENTION_RE.fullmatch(text.strip())
    if mention is not None:
        text = mention.group(1)
    return text.strip().lstrip("@").lower()


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 1.0
