"""Reading a NAB-layout folder: `data/<category>/<file>.csv` and `labels/combined_windows.json`."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InvalidInput, NotFound
from pipeline.nab.corpus import DataFile

WINDOWS_FILE = Path("labels") / "combined_windows.json"


def data_keys(data_dir: Path) -> list[str]:
    """Every `<category>/<file>.csv` under `data_dir/data`, sorted."""
    root = Path(data_dir) / "data"
    if not root.is_dir():
        raise NotFound(f"no NAB data folder at {root}")
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.csv"))


def read_data_file(data_dir: Path, key: str) -> DataFile:
    """Read one `timestamp,value` CSV of the corpus."""
    frame = read_series_csv(Path(data_dir) / "data" / key)
    return DataFile(
        key=key,
        timestamps=pd.DatetimeIndex(frame["timestamp"]),
        values=frame["value"].to_numpy(np.float64),
    )


def read_series_csv(path: Path) -> pd.DataFrame:
    """Read a `timestamp,value` CSV sorted by time; raise InvalidInput when it is not one."""
    try:
        frame = pd.read_csv(path, usecols=["timestamp", "value"])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        frame["value"] = pd.to_numeric(frame["value"]).astype(np.float64)
    except (ValueError, KeyError) as error:
        raise InvalidInput(
            f"{path}: expected a CSV with columns timestamp,value ({error})"
        ) from error
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_windows(data_dir: Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """The labelled windows of every file, as (start, end) timestamps."""
    path = Path(data_dir) / WINDOWS_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise NotFound(f"no NAB windows file at {path}") from error
    return {
        key: [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in spans]
        for key, spans in raw.items()
    }
