"""Durations in the forms people type them."""

from __future__ import annotations

import pytest

from pipeline.nlu.durations import find_durations, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200), ("45m", 2700), ("90 minutes", 5400), ("1 day", 86400),
        ("an hour", 3600), ("two hours", 7200), ("1h30m", 5400), ("1h 30m", 5400),
        ("half an hour", 1800), ("1 hour and 30 minutes", 5400), ("1.5 hours", 5400),
        ("an hour and a half", 5400), ("a couple of hours", 7200), ("30s", 30),
        ("1 week", 604800), ("3 days", 259200), ("10 mins", 600), ("2 hrs", 7200),
        ("forty-five minutes", 2700), ("1h30", 5400), ("quarter of an hour", 900),
    ],
)
def test_duration_in_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["scale to 6", "2mb disk", "us-east-1", "i-0abc1234", "and"])
def test_no_duration_without_a_unit(text):
    assert find_durations(text) == []


def test_duration_inside_a_sentence_knows_its_span():
    text = "mute web for 30m please"
    (found,) = find_durations(text)
    assert (found.seconds, text[found.start : found.end]) == (1800, "30m")
