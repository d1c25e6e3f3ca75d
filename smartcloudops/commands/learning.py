"""`evaluate remediation` and `model train-remediation`: the outcome learners on a replay."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.errors import InvalidInput, NotFound


def register_evaluate(benchmarks: argparse._SubParsersAction) -> None:
    remediation = benchmarks.add_parser(
        "remediation",
        help="train the outcome learners on a replay's first weeks, score them on the rest",
    )
    remediation.add_argument(
        "--replay", type=Path, required=True, metavar="FILE",
        help="JSON lines: a header, then one incident per line (python -m benchmarks.estate_sim)",
    )
    remediation.add_argument(
        "--train-weeks", type=float, default=10.0,
        help="weeks from the first incident used for training; the rest is held out",
    )
    remediation.add_argument("--json", action="store_true", help="print the figures as JSON")
    remediation.set_defaults(func=evaluate_remediation_command)


def evaluate_remediation_command(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from adapters.replay_files import read_replay
    from pipeline.learning import evaluation as ev

    try:
        if not args.train_weeks > 0:
            raise InvalidInput("--train-weeks must be positive")
        header, cases = read_replay(args.replay)
        if not cases:
            raise InvalidInput(f"{args.replay} holds no incidents")
        first = min(c.context.opened_at for c in cases)
        train, test = ev.split(cases, first + timedelta(weeks=args.train_weeks))
        if not train or not test:
            raise InvalidInput(
                f"--train-weeks {args.train_weeks} leaves {len(train)} training and "
                f"{len(test)} held-out incidents; both must be non-empty"
            )
        choice = ev.choose(train, header.get("playbook"))
        rates = ev.fit_rates(train, choice.strength)
        rankers = {
            "rule only (playbook)": ev.playbook_ranker(header.get("playbook", {})),
            f"learner (a): rates, prior strength {choice.strength:g}": ev.rates_ranker(rates),
            "learner (b): classifier": ev.classifier_ranker(_through_onnx(ev.fit_classifier(train))),
        }
        figures = {name: ev.score(test, ranker).row() for name, ranker in rankers.items()}
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops evaluate remediation: {error}", file=sys.stderr)
        return 1
    used = {"classifier": "learner (b): classifier", "rule": "rule only (playbook)"}.get(choice.learner) or next(
        name for name in figures if name.startswith("learner (a)")
    )
    if args.json:
        print(json.dumps({"simulated": bool(header.get("simulated")), "train": len(train),
                          "held_out": len(test), "figures": figures, "used": used,
                          "reason": choice.reason, "validation": choice.validation()}, indent=2))
        return 0
    if header.get("simulated"):
        print("SIMULATED DATA: these figures describe the simulator, not a real estate.")
    print(f"trained on {len(train)} incidents, held out the later {len(test)} (time split)")
    print(f"  {'':44s}{'top-1':>8s}{'regret':>9s}{'Brier':>8s}{'1st fix':>9s}")
    for name, row in figures.items():
        brier = "—" if row["brier"] is None else f"{row['brier']:.3f}"
        print(f"  {name:44s}{row['top1_accuracy']:8.3f}{row['regret_failed_attempts']:9.3f}"
              f"{brier:>8s}{row['first_choice_fix_rate']:9.3f}")
    print(f"  used: {used} ({choice.reason}; judged without the held-out weeks)")
    return 0


def _through_onnx(model):  # type: ignore[no-untyped-def]
    """The classifier as production scores it: its ONNX export run by onnxruntime."""
    from adapters.onnx_scorer import OnnxProbabilityScorer

    return model.with_scorer(OnnxProbabilityScorer(model.to_onnx()))


def register_train(actions: argparse._SubParsersAction) -> None:
    train = actions.add_parser(
        "train-remediation",
        help="fit the outcome learners on a replay, choose one, write the classifier as ONNX",
    )
    train.add_argument(
        "--replay", type=Path, required=True, metavar="FILE",
        help="JSON lines: a header, then one incident per line (python -m benchmarks.estate_sim)",
    )
    train.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    train.set_defaults(func=train_remediation_command)


def train_remediation_command(args: argparse.Namespace) -> int:
    from adapters.remediation_model import write_model
    from adapters.replay_files import read_replay
    from pipeline.learning import evaluation as ev

    try:
        header, cases = read_replay(args.replay)
        if not cases:
            raise InvalidInput(f"{args.replay} holds no incidents")
        # Which learner, judged on the last quarter of these weeks (no held-out weeks here:
        # `evaluate remediation` is where they are scored); the classifier is then refitted
        # on every week.
        choice = ev.choose(cases, header.get("playbook"))
        classifier = ev.fit_classifier(cases)
        metadata = write_model(
            args.out, classifier, learner=choice.learner, reason=choice.reason,
            strength=choice.strength, trained_on=len(cases), simulated=bool(header.get("simulated")),
            validation_brier={"rates": choice.rates_brier, "classifier": choice.classifier_brier},
            validation=choice.validation(),
        )
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops model train-remediation: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: classifier on {len(cases)} incidents (ONNX {metadata['onnx_sha256'][:12]})")
    print(f"  used: {metadata['learner']} ({metadata['reason']})")
    if metadata["learner"] == "rule":
        print("  no learner's choices fixed more than the playbook's on the later weeks: the advice keeps "
              "the rule's order (the classifier is kept but not used)")
    elif metadata["learner"] != "classifier":
        print("  the classifier's choices did not fix more than the rates' on the later weeks: it is kept but not used")
    return 0
