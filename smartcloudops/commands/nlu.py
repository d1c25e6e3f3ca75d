"""`smartcloudops nlu eval FILE.jsonl --catalog CATALOG.yaml`, `nlu parse TEXT` and `nlu train`."""

from __future__ import annotations

import argparse
import json
import sys

from config.labelled_lines import read_labelled_lines
from config.vocabulary import load_vocabulary
from pipeline.errors import SmartCloudOpsError
from pipeline.nlu.context import EMPTY_CONTEXT
from pipeline.nlu.evaluation import EvaluationReport, evaluate
from pipeline.nlu.understanding import understand


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `nlu eval` and `nlu parse`."""
    nlu = subparsers.add_parser("nlu", help="chat language understanding: evaluate or try it")
    commands = nlu.add_subparsers(dest="nlu_command", required=True)

    evaluate_parser = commands.add_parser(
        "eval", help="score the recogniser on labelled chat lines (JSONL)"
    )
    evaluate_parser.add_argument("file", help="JSONL: {text, intent, entities, session?} a line")
    evaluate_parser.add_argument("--catalog", required=True, help="service catalog YAML")
    evaluate_parser.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate_parser.add_argument(
        "--misses", action="store_true", help="also list the lines it got wrong"
    )
    evaluate_parser.set_defaults(func=run_eval)

    parse_parser = commands.add_parser("parse", help="show how one chat line is understood")
    parse_parser.add_argument("text", help="the chat line, quoted")
    parse_parser.add_argument("--catalog", required=True, help="service catalog YAML")
    parse_parser.set_defaults(func=run_parse)

    train_parser = commands.add_parser(
        "train", help="train the chat classifier into a weights file (the chat worker scores with it)"
    )
    train_parser.add_argument("--out", help="the .npz file (default: the data dir's, named for this code)")
    train_parser.set_defaults(func=run_train)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate and print the report; exit 2 on unreadable input."""
    try:
        vocabulary = load_vocabulary(args.catalog)
        lines = read_labelled_lines(args.file)
    except (SmartCloudOpsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(lines, vocabulary)
    if args.json:
        data = report.to_json()
        if not args.misses:
            data.pop("misses")
        print(json.dumps(data, sort_keys=True))
    else:
        print(format_report(report, show_misses=args.misses))
    return 0


def run_parse(args: argparse.Namespace) -> int:
    """Print the understanding of one line as JSON."""
    try:
        vocabulary = load_vocabulary(args.catalog)
    except SmartCloudOpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = understand(args.text, EMPTY_CONTEXT, vocabulary)
    print(json.dumps({
        "intent": result.intent,
        "entities": result.entities,
        "confidence": round(result.confidence, 3),
        "source": result.source,
        "question": result.question.text() if result.question else None,
    }, sort_keys=True))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train the shipped classifier (scikit-learn) and write its weights."""
    from adapters.nlu_model import model_file, save_intent_classifier
    from pipeline.nlu.classifier import train_shipped
    from smartcloudops.bootstrap import settings_from_environment

    path = args.out or model_file(settings_from_environment().resolved_data_dir)
    save_intent_classifier(train_shipped(), path)
    print(path)
    return 0


def format_report(report: EvaluationReport, show_misses: bool = False) -> str:
    """Human-readable report: the figures, then the intent confusion table."""
    lines = [
        f"lines            {report.n}",
        f"intent accuracy  {report.intent_accuracy:.3f}",
        f"entity precision {report.entity_precision:.3f}",
        f"entity recall    {report.entity_recall:.3f}",
        f"entity F1        {report.entity_f1:.3f}",
        f"asked            {report.asked_share:.3f}  (share of lines answered with a question)",
        f"answered acc.    {report.answered_accuracy:.3f}  (intent accuracy where it did not ask)",
        f"severe errors    {report.severe}  (mutating action taken on a wrong intent; goal 0)",
        "",
        "confusion (expected -> predicted: count)",
    ]
    for expected, row in report.confusion.items():
        cells = ", ".join(f"{got}: {count}" for got, count in sorted(row.items()))
        lines.append(f"  {expected:<15} {cells}")
    if show_misses and report.misses:
        lines += ["", "misses"]
        lines += [
            f"  {m.text!r}: expected {m.expected_intent} {dict(m.expected_entities)}, "
            f"got {m.got_intent} {dict(m.got_entities)}"
            + (" [asked]" if m.asked else "") + (" [SEVERE]" if m.severe else "")
            for m in report.misses
        ]
    return "\n".join(lines)
