"""Cross-validated NAB evaluation: folds never fit on the files they score."""

import numpy as np
import pytest

from pipeline.anomaly.training import TrainingSeries, fit
from pipeline.errors import InvalidInput
from pipeline.anomaly import crossval
from pipeline.nab.scoring import Window

LENGTH = 700


def corpus():
    """Three categories of two 5-minute series each; every series steps up at row 500."""
    files = []
    for c, category in enumerate(("alpha", "beta", "gamma")):
        for i in range(2):
            rng = np.random.default_rng(10 * c + i)
            values = 10 + rng.normal(0, 0.5, LENGTH)
            values[500:] += 6
            seconds = 1_700_000_000.0 + 300.0 * np.arange(LENGTH)
            files.append(
                crossval.LabelledFile(
                    f"{category}/s{i}.csv", seconds, values, [Window(470, 530)], [500]
                )
            )
    return files


class RecordingFit:
    """Fits a real model, remembering which files each call was shown."""

    def __init__(self):
        self.seen: list[set[str]] = []

    def __call__(self, files):
        self.seen.append({f.key for f in files})
        series = [TrainingSeries(f.key, f.seconds, f.values, f.windows) for f in files]
        return fit(series).detector()


def test_category_folds_hold_out_each_category_once_and_train_on_the_rest():
    keys = [f.key for f in corpus()]
    folds = crossval.folds(keys, "category")
    assert [f.name for f in folds] == ["alpha", "beta", "gamma"]
    for fold in folds:
        assert set(fold.train).isdisjoint(fold.test)
        assert set(fold.train) | set(fold.test) == set(keys)
    assert sorted(k for f in folds for k in f.test) == sorted(keys)


def test_file_folds_hold_out_one_file_each():
    keys = [f.key for f in corpus()]
    folds = crossval.folds(keys, "file")
    assert [f.test for f in folds] == [(k,) for k in sorted(keys)]


def test_a_fold_never_fits_on_the_files_it_scores():
    files = corpus()
    recorder = RecordingFit()
    result = crossval.cross_validate(files, recorder, by="category")
    assert len(recorder.seen) == 3
    for fold, seen in zip(result.folds, recorder.seen):
        assert not any(key.startswith(fold.name + "/") for key in seen)
        assert len(seen) == 4
    assert result.n_windows == 6


def test_the_step_is_found_early_and_lead_time_is_measured_against_the_label():
    files = corpus()
    result = crossval.cross_validate(files, RecordingFit(), by="category")
    leads = result.lead_minutes()
    assert len(leads) == 6
    # Found at the step itself (row 500, the labelled point) or up to an hour after it.
    assert np.all((leads <= 0) & (leads >= -60))
    assert result.normalised(crossval.STANDARD) > 50


def test_lead_time_counts_minutes_from_first_detection_to_the_labelled_point():
    file = corpus()[0]
    detected = np.zeros(LENGTH, dtype=bool)
    detected[[480, 490, 600]] = True
    assert crossval.lead_minutes(file, detected) == [pytest.approx(20 * 5.0)]


def test_an_unknown_split_or_a_single_group_is_invalid_input():
    with pytest.raises(InvalidInput):
        crossval.folds(["a/x.csv", "b/y.csv"], "month")
    with pytest.raises(InvalidInput):
        crossval.folds(["a/x.csv", "a/y.csv"], "category")
