"""Typo-tolerant word matching: bounded edit distance scaled to the word's length."""

from __future__ import annotations

from collections.abc import Mapping

from rapidfuzz.distance import OSA


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
    return OSA.distance(a, b, score_cutoff=limit)


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
    found = candidates(word, references)
    return found[0] if len(found) == 1 else None


def candidates(
    word: str, references: Mapping[str, str], substitutions: bool = True
) -> tuple[str, ...]:
    """The meanings of the nearest keys within the allowed edits (several when tied).

    With `substitutions=False` a one-edit match of the same length must be a swap of
    neighbours: slips drop, add or swap letters, while a different English word one
    letter away (`skipping`/`shipping`, `logic`/`login`) differs by a substitution.
    """
    exact = references.get(word)
    if exact is not None:
        return (exact,)
    best_distance, found = None, []
    for key, meaning in references.items():
        if not key or key[0] != word[:1]:
            continue
        limit = allowed_edits(min(len(word), len(key)))
        if limit == 0:
            continue
        distance = edit_distance(word, key, limit)
        if distance > limit or (not substitutions and _substituted(word, key, distance)):
            continue
        if best_distance is None or distance < best_distance:
            best_distance, found = distance, [meaning]
        elif distance == best_distance and meaning not in found:
            found.append(meaning)
    return tuple(found)


def _substituted(word: str, key: str, distance: int) -> bool:
    return distance == 1 and len(word) == len(key) and sorted(word) != sorted(key)
