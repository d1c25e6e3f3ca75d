"""Replay a NAB-layout corpus through the streaming detector, write NAB results, score them."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adapters import nab_files
from pipeline.anomaly.detector import StreamingDetector
from pipeline.anomaly.replay import Timed, replay_series, seconds
from pipeline.nab import corpus, scoring
from pipeline.nab.profiles import PROFILES, STANDARD, CostProfile

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, eq=False)
class ScoredFile:
    """A corpus file's anomaly scores and its labelled windows as rows."""

    key: str
    scores: np.ndarray
    windows: list[scoring.Window]


def evaluate_nab(
    data_dir: Path, out_dir: Path, detector: StreamingDetector, name: str
) -> dict[str, float]:
    """Score every corpus file with the detector (never shown labels); return NAB's three scores."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    files = [nab_files.read_data_file(data_dir, key) for key in nab_files.data_keys(data_dir)]
    scores = replay(files, detector)
    all_windows = nab_files.read_windows(data_dir)
    scored = []
    for data, file_scores in zip(files, scores):
        windows = corpus.windows_as_rows(data.timestamps, all_windows.get(data.key, []))
        _write_results_file(out_dir / name, name, data, file_scores, windows)
        scored.append(ScoredFile(data.key, file_scores, windows))
    report = score_corpus(scored)
    _write_score_tables(out_dir / name, name, report)
    scores = {profile: result["normalised"] for profile, result in report.items()}
    scores[AT_MODEL_THRESHOLD] = score_at_threshold(scored, detector.threshold, STANDARD)
    return scores


# The standard profile at the threshold the model ships with (what production alerts on).
AT_MODEL_THRESHOLD = "standard_at_model_threshold"


def score_at_threshold(
    files: Sequence[ScoredFile], threshold: float, profile: CostProfile
) -> float:
    """Normalised NAB score when rows at or above a fixed threshold are detections."""
    sweeps = [scoring.prepare_file(f.key, f.scores, f.windows, profile) for f in files]
    raw = sum(scoring.score_file(sweep, threshold, profile).score for sweep in sweeps)
    return scoring.normalised_score(raw, sum(s.n_windows for s in sweeps), profile)


def replay(files: Sequence[corpus.DataFile], detector: StreamingDetector) -> list[np.ndarray]:
    """Anomaly scores of every file, fed to the detector chunk by chunk, all files per call."""
    return replay_series([Timed(seconds(f.timestamps), f.values) for f in files], detector)


def score_corpus(files: Sequence[ScoredFile]) -> dict[str, dict]:
    """Per profile: the swept threshold, raw and normalised score, and every file's score."""
    n_windows = sum(len(f.windows) for f in files)
    report = {}
    for profile in PROFILES:
        sweeps = [scoring.prepare_file(f.key, f.scores, f.windows, profile) for f in files]
        best = scoring.best_threshold(sweeps, profile)
        report[profile.name] = {
            "threshold": best.threshold,
            "raw": best.score,
            "normalised": scoring.normalised_score(best.score, n_windows, profile),
            "files": [scoring.score_file(sweep, best.threshold, profile) for sweep in sweeps],
        }
    return report


def _write_results_file(
    detector_dir: Path,
    name: str,
    data: corpus.DataFile,
    scores: np.ndarray,
    windows: list[scoring.Window],
) -> None:
    path = detector_dir / data.category / f"{name}_{data.file_name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "timestamp": data.timestamps.strftime(_TIME_FORMAT),
            "value": data.values,
            "anomaly_score": scores,
            "label": corpus.label_column(len(data.values), windows),
        }
    )
    frame.to_csv(path, index=False)


def _write_score_tables(detector_dir: Path, name: str, report: dict[str, dict]) -> None:
    """NAB-style `<name>_<profile>_scores.csv` tables and a `final_results.json`."""
    detector_dir.mkdir(parents=True, exist_ok=True)
    for profile, result in report.items():
        rows = [
            [name, profile, f.name, f.threshold, f.score, f.tp, f.tn, f.fp, f.fn, f.total]
            for f in result["files"]
        ]
        table = pd.DataFrame(
            rows,
            columns=[
                "Detector",
                "Profile",
                "File",
                "Threshold",
                "Score",
                "TP",
                "TN",
                "FP",
                "FN",
                "Total_Count",
            ],
        )
        table.to_csv(detector_dir / f"{name}_{profile}_scores.csv", index=False)
    summary = {
        profile: {"score": r["normalised"], "raw": r["raw"], "threshold": r["threshold"]}
        for profile, r in report.items()
    }
    (detector_dir / "final_results.json").write_text(
        json.dumps({name: summary}, indent=2, sort_keys=True) + "\n"
    )
