"""Chat understanding benchmark: parse latency and quality, hybrid vs two baselines.

    python benchmarks/bench_nlu.py [--set FILE.jsonl --catalog CATALOG.yaml] [--repeat 20]

Measures on a labelled set (default: the held-out set with its own catalog):
- first-use training time of the classifier;
- `understand()` latency per line, median and p99, over `--repeat` passes;
- intent accuracy and entity F1 of the hybrid recogniser;
- the same for two baselines: the rules-only path (no classifier: a line no rule claims is
  `unknown`), and a naive classifier (sklearn TF-IDF + logistic regression on raw text,
  trained on the same templates with the development catalog's names filled in; entities
  read by the same reader), to show what masking and rules buy. The naive latency is its
  intent prediction alone, through sklearn's pipeline.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import time
from pathlib import Path

from config.labelled_lines import read_labelled_lines
from config.vocabulary import load_vocabulary
from pipeline.nlu.classifier import Prediction, intent_classifier
from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext
from pipeline.nlu.corpus import TEMPLATES
from pipeline.nlu.evaluation import Recogniser, evaluate
from pipeline.nlu.understanding import Understanding, understand
from pipeline.nlu.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = ROOT / "tests/unit/nlu/data/heldout.jsonl"
DEFAULT_CATALOG = ROOT / "tests/unit/nlu/data/heldout_catalog.yaml"
DEV_CATALOG = Path("/work/shared/data/chat/catalog.yaml")


class RulesOnly:
    """A classifier that never answers: what the rules alone achieve."""

    def predict(self, masked: str) -> Prediction:
        return Prediction("unknown", 0.0)


class NaiveRawTextClassifier:
    """TF-IDF + logistic regression on unmasked text, trained with one catalog's names."""

    def __init__(self, service_names: list[str], alert_names: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        texts, intents = self._corpus(service_names, alert_names)
        self._model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
            LogisticRegression(C=10.0, max_iter=300),
        )
        self._model.fit(texts, intents)

    def intent(self, text: str) -> str:
        return str(self._model.predict([text.lower()])[0])

    @staticmethod
    def _corpus(services: list[str], alerts: list[str]) -> tuple[list[str], list[str]]:
        rng = random.Random(3)
        fillers = {
            "svc": lambda: rng.choice(services), "alert": lambda: rng.choice(alerts),
            "inst": lambda: "i-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16)),
            "region": lambda: rng.choice(["us-east-1", "eu-west-1"]),
            "dur": lambda: rng.choice(["2h", "30m", "1 day"]),
            "inc": lambda: rng.choice(["", "#", "incident "]) + str(rng.randint(1, 999)),
            "cap": lambda: str(rng.randint(2, 20)), "target": lambda: "dba-oncall",
            "act": lambda: rng.choice(["restart", "reboot", "redeploy", "scale", "start"]),
        }
        texts, intents = [], []
        for intent, templates in TEMPLATES.items():
            for template in templates:
                for _ in range(4):
                    texts.append(re.sub(r"\{(\w+)\}", lambda m: fillers[m.group(1)](), template))
                    intents.append(intent)
        return texts, intents


def recognisers(naive: NaiveRawTextClassifier) -> dict[str, Recogniser]:
    """The hybrid recogniser and the two baselines, all with the same reader and context."""

    def rules_only(text: str, context: ChatContext, vocabulary: Vocabulary) -> Understanding:
        return understand(text, context, vocabulary, classifier=RulesOnly())

    def naive_raw_text(text: str, context: ChatContext, vocabulary: Vocabulary) -> Understanding:
        # Intent from the raw-text model instead of rules + masked classifier; entities and
        # context resolution as in the product, so only the intent recogniser differs.
        read_as_product = understand(text, context, vocabulary)
        intent = naive.intent(text)
        if intent == read_as_product.intent:
            return read_as_product
        return understand(text, context, vocabulary, classifier=Fixed(intent))

    return {"hybrid": understand, "rules_only": rules_only, "naive": naive_raw_text}


class Fixed:
    """A classifier that always answers one intent (to replay the naive model's choice)."""

    def __init__(self, intent: str) -> None:
        self._intent = intent

    def predict(self, masked: str) -> Prediction:
        return Prediction(self._intent, 1.0)


def latencies_ms(texts: list[str], vocabulary: Vocabulary, recogniser: Recogniser,
                 repeat: int) -> list[float]:
    """Per-call latency in milliseconds, every text `repeat` times."""
    samples = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter()
            recogniser(text, EMPTY_CONTEXT, vocabulary)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def naive_latencies_ms(texts: list[str], naive: NaiveRawTextClassifier, repeat: int) -> list[float]:
    """Per-call latency of the naive model's intent prediction alone."""
    samples = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter()
            naive.intent(text)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def quality(lines, vocabulary: Vocabulary, recogniser: Recogniser) -> dict:
    """Intent accuracy and entity F1 of `recogniser` on `lines`."""
    report = evaluate(lines, vocabulary, recogniser)
    return {"intent_accuracy": round(report.intent_accuracy, 4),
            "entity_f1": round(report.entity_f1, 4)}


def summarise(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 4),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(DEFAULT_SET))
    parser.add_argument("--catalog", default=str(DEFAULT_CATALOG))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    vocabulary = load_vocabulary(args.catalog)
    lines = read_labelled_lines(args.set)
    texts = [line.text for line in lines]

    started = time.perf_counter()
    intent_classifier()  # first use trains it: that is what is timed
    training_s = time.perf_counter() - started

    dev = load_vocabulary(DEV_CATALOG) if DEV_CATALOG.exists() else vocabulary
    naive = NaiveRawTextClassifier(list(dev.service_names), list(dev.alert_names))

    results = {}
    for name, recogniser in recognisers(naive).items():
        latencies_ms(texts[:20], vocabulary, recogniser, 1)  # warm caches
        results[name] = quality(lines, vocabulary, recogniser)
        if name != "naive":
            results[name] |= summarise(latencies_ms(texts, vocabulary, recogniser, args.repeat))
    # The naive model's cost is its own prediction: sklearn's per-call overhead.
    results["naive"] |= summarise(naive_latencies_ms(texts, naive, args.repeat))
    for name in ("rules_only", "naive"):
        results[name]["median_ratio_vs_hybrid"] = round(
            results[name]["median_ms"] / results["hybrid"]["median_ms"], 3)

    print(json.dumps({
        "set": args.set, "lines": len(lines), "repeat": args.repeat,
        "classifier_training_s": round(training_s, 3),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
                   f"python {platform.python_version()}".strip(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
