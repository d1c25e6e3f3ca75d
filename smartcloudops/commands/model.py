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
        "--method",
        choices=("novelty", "forest"),
        default="novelty",
        help="novelty: per-series novelty in time, only the threshold is fitted (default); "
        "forest: the earlier IsolationForest on sample-count features, exported to ONNX",
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
    from smartcloudops.commands import learning

    learning.register_train(actions)


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="measure the anomaly detector or the outcome learners on a benchmark"
    )
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
        "--out",
        type=Path,
        default=Path(".smartcloudops") / "nab_results",
        metavar="OUT",
        help="results folder (NAB layout) when scoring one model",
    )
    nab.add_argument(
        "--cv",
        choices=("category", "file"),
        default=None,
        help="cross-validate: fit on all categories (files) but one, score the one left out",
    )
    nab.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="DIR",
        help="model folder or .onnx file (default: the shipped model)",
    )
    nab.add_argument(
        "--method",
        choices=("novelty", "forest"),
        default="novelty",
        help="with --cv: which detector each fold fits (default novelty, the shipped one)",
    )
    nab.add_argument(
        "--name", default="smartcloudops", help="detector name used in result file names"
    )
    nab.set_defaults(func=evaluate_nab_command)
    from smartcloudops.commands import learning

    learning.register_evaluate(benchmarks)


def train_command(args: argparse.Namespace) -> int:
    from adapters import anomaly_model as store
    from adapters.anomaly_model import read_training_series, train
    from pipeline.anomaly.training import ForestSettings, fit_novelty

    try:
        if args.method == "novelty":
            model = fit_novelty(read_training_series(args.data))
        else:
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
    from adapters import anomaly_model as store

    try:
        model = store.load(args.model)
    except (NotFound, KeyError) as error:
        print(f"smartcloudops model export: {error}", file=sys.stderr)
        return 1
    out = store.export_onnx(model, args.out)
    print(f"model {model.model_version} exported to {out} (sidecar {out.with_suffix('.json')})")
    return 0


def evaluate_nab_command(args: argparse.Namespace) -> int:
    from adapters import anomaly_model as store
    from adapters.nab_evaluation import AT_MODEL_THRESHOLD, evaluate_nab

    if args.cv:
        return cross_validate_command(args)
    try:
        detector = store.load_detector(args.model)
        scores = evaluate_nab(args.data, args.out, detector, args.name)
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops evaluate nab: {error}", file=sys.stderr)
        return 1
    at_threshold = scores.pop(AT_MODEL_THRESHOLD)
    print(f"NAB scores of {args.name} (model {detector.model_version}):")
    print(
        f"  standard at the model's own threshold {detector.threshold:.4f}: {at_threshold:6.1f}"
    )
    print("  with thresholds swept on these very labels (optimistic unless the data is new):")
    for profile, score in scores.items():
        print(f"    {profile:20s} {score:6.1f}")
    return 0


def cross_validate_command(args: argparse.Namespace) -> int:
    """Fit on all folds but one, score the held-out one through ONNX; print CV beside in-sample."""
    import numpy as np

    from pipeline.anomaly import crossval
    from pipeline.nab.profiles import PROFILES

    try:
        files = _labelled_corpus(args.data)
        fit = _fit_novelty_detector if args.method == "novelty" else _fit_onnx_detector
        result = crossval.cross_validate(files, fit, by=args.cv)
        optimistic = crossval.in_sample(files, fit)
    except (InvalidInput, NotFound) as error:
        print(f"smartcloudops evaluate nab: {error}", file=sys.stderr)
        return 1
    names = [p.name for p in PROFILES]
    print(f"NAB, cross-validated by {args.cv} (each fold fitted without the files it scores):")
    print(f"  {'':28s}" + "".join(f"{n:>20s}" for n in names))
    for fold in result.folds:
        if fold.n_windows:
            cells = "".join(f"{fold.normalised(p):20.1f}" for p in PROFILES)
        else:
            cells = "".join(f"{'FP ' + format(fold.raw[p.name], '.2f'):>20s}" for p in PROFILES)
        print(f"  {fold.name[:28]:28s}{cells}")
    print(f"  {'cross-validated':28s}" + "".join(f"{result.normalised(p):20.1f}" for p in PROFILES))
    print(
        f"  {'in-sample (optimistic)':28s}"
        + "".join(f"{optimistic.normalised(p):20.1f}" for p in PROFILES)
    )
    leads = result.lead_minutes()
    median = f"{np.median(leads):.0f} min" if len(leads) else "n/a"
    print(
        f"  lead time, cross-validated: median {median} before the labelled point "
        f"({len(leads)} of {result.n_windows} windows detected)"
    )
    return 0


def _labelled_corpus(data_dir: Path) -> list:
    """Every file of a NAB-layout folder with its windows and labelled points."""
    import json

    import numpy as np

    from adapters import nab_files
    from pipeline.nab import corpus
    from pipeline.anomaly.crossval import LabelledFile
    from adapters.nab_evaluation import seconds

    windows = nab_files.read_windows(data_dir)
    labels_path = Path(data_dir) / "labels" / "combined_labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.is_file() else {}
    files = []
    for key in nab_files.data_keys(data_dir):
        data = nab_files.read_data_file(data_dir, key)
        times = seconds(data.timestamps)
        label_times = seconds(np.array(labels.get(key, []), dtype="datetime64[ns]"))
        files.append(
            LabelledFile(
                key,
                times,
                data.values,
                corpus.windows_as_rows(data.timestamps, windows.get(key, [])),
                [int(i) for i in np.searchsorted(times, label_times)],
            )
        )
    return files


def _fit_novelty_detector(files):  # type: ignore[no-untyped-def]
    """The shipped method: only the threshold is fitted, on the files given."""
    from pipeline.anomaly.training import TrainingSeries, fit_novelty

    return fit_novelty(
        [TrainingSeries(f.key, f.seconds, f.values, f.windows) for f in files]
    ).detector()


def _fit_onnx_detector(files):  # type: ignore[no-untyped-def]
    """Fit a model on labelled files and score it through ONNX, as production does."""
    from adapters.onnx_scorer import OnnxForestScorer
    from pipeline.anomaly.onnx_forest import forest_to_onnx
    from pipeline.anomaly.training import TrainingSeries, fit

    model = fit([TrainingSeries(f.key, f.seconds, f.values, f.windows) for f in files])
    onnx = forest_to_onnx(model.forest, model.spec.n_features, model_version=model.model_version)
    return model.detector(OnnxForestScorer(onnx))
