"""Typo tolerance scales with word length and never bridges two meanings."""

from __future__ import annotations

import pytest

from pipeline.nlu.fuzzy import allowed_edits, closest, edit_distance, is_typo_of


@pytest.mark.parametrize(("length", "edits"), [(3, 0), (4, 0), (5, 1), (9, 1), (10, 2), (20, 2)])
def test_allowed_edits_grow_with_length(length, edits):
    assert allowed_edits(length) == edits


def test_a_swap_of_neighbours_is_one_edit():
    assert edit_distance("restart", "restrat", limit=2) == 1


def test_distance_is_capped_above_the_limit():
    assert edit_distance("checkout", "payments", limit=1) == 2


@pytest.mark.parametrize(
    ("word", "reference", "expected"),
    [("chekout", "checkout", True), ("web", "wet", False), ("xheckout", "checkout", False),
     ("notifcations", "notifications", True)],
)
def test_is_typo_of(word, reference, expected):
    assert is_typo_of(word, reference) is expected


def test_closest_refuses_ties_between_meanings():
    assert closest("paymant", {"payment": "a", "paymint": "b"}) is None
    assert closest("paymant", {"payment": "a", "paymint": "a"}) == "a"
