"""Typo-tolerant word matching: bounded edit distance scaled to the word's length."""

from __future__ import annotations

from collections.abc import Mapping


def allowed_edits(length: int) -> int:
    """How many edits a word of `length` characters may carry and still match.

    Short words get none: one edit turns `web` into `wet` or `pay` into `day`, and the
    cost of acting on the wrong service is far higher than asking the user to retype.
    """
    if length < 5:
        return 0
    if length < 10:
        return 1
    return 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous_row: list[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous_row, row = previous_row, row, [i] + [0] * len(b)
        best = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            row[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
    return row[len(b)]


def is_typo_of(word: str, reference: str) -> bool:
    """True when `word` is `reference` typed with a few slips (first letter kept)."""
    if word == reference:
        return True
    if not word or not reference or word[0] != reference[0]:
        # Typos almost always keep the first letter; requiring it removes most false hits.
        return False
    limit = allowed_edits(min(len(word), len(reference)))
    return limit > 0 and edit_distance(word, reference, limit) <= limit


def closest(word: str, references: Mapping[str, str]) -> str | None:
    """The value of the unique nearest key within the allowed edits, else None.

    `references` maps a normalised spelling to what it stands for. A tie between two
    different meanings is no match: guessing between two services is worse than asking.
    """
    exact = references.get(word)
    if exact is not None:
        return exact
    best_distance, found = None, set()
    for key, meaning in references.items():
        if not key or key[0] != word[:1]:
            continue
        limit = allowed_edits(min(len(word), len(key)))
        if limit == 0:
            continue
        distance = edit_distance(word, key, limit)
        if distance > limit:
            continue
        if best_distance is None or distance < best_distance:
            best_distance, found = distance, {meaning}
        elif distance == best_distance:
            found.add(meaning)
    return next(iter(found)) if len(found) == 1 else None
