"""Leave-one-catalog-out cross-validation of the chat recogniser on the independent dev sets.

    python benchmarks/nlu_cv.py [--sets retail fintech media] [--misses SET]

For each held-out set: train the intent classifier on the template corpus plus the masked
lines of the other sets (each masked with its own catalog), then score the held-out set
with its own catalog. The blind set is never named here: pass it only for the final score
with `smartcloudops nlu eval`.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from config.labelled_lines import read_labelled_lines
from config.vocabulary import load_vocabulary
from pipeline.nlu.classifier import IntentClassifier
from pipeline.nlu.corpus import training_examples
from pipeline.nlu.evaluation import evaluate
from pipeline.nlu.examples import masked_examples
from pipeline.nlu.understanding import understand

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks/data/chat"
DEV_SETS = ("retail", "fintech", "media")


def load(name: str):
    """(labelled lines, vocabulary) of one dev set."""
    folder = DATA / name
    return read_labelled_lines(folder / "lines.jsonl"), load_vocabulary(folder / "catalog.yaml")


def train(sets: dict, names: list[str]) -> IntentClassifier:
    """A classifier on the corpus plus the masked lines of `names`."""
    examples = list(training_examples())
    for name in names:
        lines, vocabulary = sets[name]
        examples += masked_examples(lines, vocabulary)
    return IntentClassifier([t for t, _ in examples], [i for _, i in examples])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=list(DEV_SETS))
    parser.add_argument("--misses", default=None)
    args = parser.parse_args()
    sets = {name: load(name) for name in args.sets}
    for held_out in args.sets:
        classifier = train(sets, [n for n in args.sets if n != held_out])
        lines, vocabulary = sets[held_out]
        report = evaluate(lines, vocabulary, partial(understand, classifier=classifier))
        print(f"{held_out:8} {report.summary_line()}")
        if args.misses == held_out:
            for miss in report.misses:
                print(f"  {miss.text!r}: expected {miss.expected_intent} "
                      f"{dict(miss.expected_entities)}, got {miss.got_intent} "
                      f"{dict(miss.got_entities)}{' ASKED' if miss.asked else ''}{' SEVERE' if miss.severe else ''}")


if __name__ == "__main__":
    main()
