"""A NAB corpus file and its labelled windows as rows (reading the folder: adapters.nab_files)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import InvalidInput
from pipeline.nab.scoring import Window

@dataclass(frozen=True)
class DataFile:
    """One NAB series: its key (`<category>/<file>.csv`), timestamps and values."""

    key: str
    timestamps: pd.DatetimeIndex
    values: np.ndarray

    @property
    def category(self) -> str:
        return self.key.split("/")[0]

    @property
    def file_name(self) -> str:
        return self.key.split("/")[1]


def windows_as_rows(
    timestamps: pd.DatetimeIndex, spans: list[tuple[pd.Timestamp, pd.Timestamp]]
) -> list[Window]:
    """Map window timestamps to the row indices of the file (they match rows exactly)."""
    return [Window(_row_of(timestamps, start), _row_of(timestamps, end)) for start, end in spans]


def _row_of(timestamps: pd.DatetimeIndex, moment: pd.Timestamp) -> int:
    matches = np.flatnonzero(timestamps == moment)
    if len(matches) == 0:
        raise InvalidInput(f"window edge {moment} is not a row of the file")
    return int(matches[0])


def label_column(n_rows: int, windows: list[Window]) -> np.ndarray:
    """1 for rows inside a window, else 0."""
    labels = np.zeros(n_rows, dtype=np.int64)
    for window in windows:
        labels[window.start : window.end + 1] = 1
    return labels
