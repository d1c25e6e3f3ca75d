"""`model train`, `model export` and `evaluate nab`: the anomaly model's life cycle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import InvalidInput, NotFound


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_model(subparsers)
    _register_evaluate(subparsers)


def _register_model(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="train and export the anomaly model")
    actions = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train", help="fit the model on history (timestamp,value CSVs or a NAB folder)"
    )
    train.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="PATH",
        help="CSV files, folders of CSVs, or NAB-layout folders (data/<category>/*.csv)",
    )
    train.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="model folder to write"
    )
    train.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="also train on N generated generic series (default 0)",
    )
    train.add_argument(
        "--seed", type=int, default=0, help="random seed of the forest and the generator"
    )
    train.set_defaults(func=train_command)
    export = actions.add_parser(
        "export", help="write the model as ONNX with its JSON sidecar beside it"
    )
    export.add_argument(
        "--model", type=Path, required=True, metavar="DIR", help="model folder from `model train`"
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE.onnx", help="ONNX file to write"
    )
    export.set_defaults(func=export_command)


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser("evaluate", help="measure the anomaly detector on a benchmark")
    benchmarks = evaluate.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    nab = benchmarks.add_parser(
        "nab", help="replay a NAB-layout folder and print NAB's three scores"
    )
    nab.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with data/<category>/*.csv and labels/combined_windows.json",
    )
    nab.add_argument(
        "--out", type=Path, required=True, metavar="OUT", help="results folder (NAB layout)"
    )
    nab.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="DIR",
        help="model folder or .onnx file (default: the shipped model)",
    )
    nab.add_argument(
        "--name", default="smartcloudops", help="detector name used in result file names"
    )
    nab.set_defaults(func=evaluate_nab_command)


def train_command(args: argparse.Namespace) -> int:
    from pipeline.anomaly import store
    from pipeline.anomaly.training import ForestSettings, train

    try:
        model = train(
            args.data,
            settings=ForestSettings(random_state=args.seed),
            synthetic_series=args.synthetic,
        )
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops model train: {error}", file=sys.stderr)
        return 1
    store.save(model, args.out)
    print(
        f"model {model.model_version} written to {args.out} "
        f"({model.training_summary['series']} series, threshold {model.threshold:.4f} "
        f"from {model.threshold_source})"
    )
    return 0


def export_command(args: argparse.Namespace) -> int:
    from pipeline.anomaly import store

    try:
        model = store.load(args.model)
    except NotFound as error:
        print(f"smartcloudops model export: {error}", file=sys.stderr)
        return 1
    out = store.export_onnx(model, args.out)
    print(f"model {model.model_version} exported to {out} (sidecar {out.with_suffix('.json')})")
    return 0


def evaluate_nab_command(args: argparse.Namespace) -> int:
    from pipeline.anomaly import store
    from pipeline.nab.evaluate import evaluate_nab

    try:
        detector = store.load_detector(args.model)
        scores = evaluate_nab(args.data, args.out, detector, args.name)
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops evaluate nab: {error}", file=sys.stderr)
        return 1
    print(f"NAB scores of {args.name} (model {detector.model_version}):")
    for profile, score in scores.items():
        print(f"  {profile:20s} {score:6.1f}")
    return 0
