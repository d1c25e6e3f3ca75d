"""Read a JSONL file of labelled chat lines (an evaluation set) into the domain's LabelledLine."""

from __future__ import annotations

from pathlib import Path

from pipeline.nlu.evaluation import LabelledLine, parse_labelled_lines


def read_labelled_lines(path: str | Path) -> list[LabelledLine]:
    """Parse a JSONL evaluation file; a bad line is reported with its number."""
    with open(path, encoding="utf-8") as handle:
        return parse_labelled_lines(handle, str(path))
