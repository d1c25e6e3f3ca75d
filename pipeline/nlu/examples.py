"""Labelled chat lines as classifier training examples: masked exactly as `read` masks them."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.nlu.evaluation import LabelledLine
from pipeline.nlu.reading import read
from pipeline.nlu.vocabulary import Vocabulary


def masked_examples(
    lines: Iterable[LabelledLine], vocabulary: Vocabulary
) -> list[tuple[str, str]]:
    """(masked text, intent) for each line, masked with the lines' own catalog."""
    examples = []
    for line in lines:
        masked = read(line.text, vocabulary).masked
        if masked:
            examples.append((masked, line.intent))
    return examples
