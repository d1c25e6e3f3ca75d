"""Honest evaluation of the learners on a replay: train on earlier weeks, judge on later ones.

A replay case is one incident: what a learner could know when the plan was made, the
actions the policy allowed, the runs that were actually tried (action and whether it fixed
the incident) and, when the replay comes from a simulator, each allowed action's true
chance of fixing it (the oracle). Never shuffled: the split is a moment in time.

- top-1 accuracy: the first choice is one of the actions with the best true chance;
- regret: expected failed attempts when trying actions in the learner's order until one
  fixes the incident, minus the same for the oracle's order;
- Brier score: expected squared error of the first choice's predicted chance of a fix
  against its outcome, (q - p)^2 + p(1 - p) with p its true chance.

Which learner to use is decided without the oracle, as production must: on the last
quarter of the training weeks, by the Brier score of each learner's predicted chance for
the runs that were actually tried there (realised outcomes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pipeline.errors import InvalidInput
from pipeline.learning.classifier import OutcomeClassifier
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Outcome
from pipeline.learning.rates import OutcomeRates

# An ordering of a case's allowed actions, with each one's predicted chance (None: no
# probability, as a written playbook has none).
Ranking = list[tuple[str, float | None]]
Ranker = Callable[["Case"], Ranking]


@dataclass(frozen=True)
class Attempt:
    action: str
    fixed: bool
    finished_at: datetime


@dataclass(frozen=True)
class Case:
    context: IncidentContext
    allowed: tuple[str, ...]
    attempts: tuple[Attempt, ...]
    truth: Mapping[str, float] | None = None

    def outcomes(self) -> list[Outcome]:
        return [
            Outcome(
                run_id=f"{self.context.incident_id}/{i}",
                incident_id=self.context.incident_id,
                signature=self.context.signature,
                action=a.action,
                finished_at=a.finished_at,
                resolved=a.fixed,
                recurred=False,
                worsened=False,
            )
            for i, a in enumerate(self.attempts)
        ]


@dataclass(frozen=True)
class Scores:
    cases: int
    top1: float
    regret: float
    brier: float | None
    first_choice_fix_rate: float

    def row(self) -> dict:
        return {
            "cases": self.cases,
            "top1_accuracy": round(self.top1, 4),
            "regret_failed_attempts": round(self.regret, 4),
            "brier": None if self.brier is None else round(self.brier, 4),
            "first_choice_fix_rate": round(self.first_choice_fix_rate, 4),
        }


def split(cases: Sequence[Case], at: datetime) -> tuple[list[Case], list[Case]]:
    """Cases opened before `at`, and at or after it, each in time order."""
    ordered = sorted(cases, key=lambda c: c.context.opened_at)
    return (
        [c for c in ordered if c.context.opened_at < at],
        [c for c in ordered if c.context.opened_at >= at],
    )


def expected_failures(order: Sequence[str], truth: Mapping[str, float]) -> float:
    """Expected failed attempts trying `order` until one fixes (independent chances)."""
    failures, all_failed = 0.0, 1.0
    for action in order:
        all_failed *= 1.0 - truth[action]
        failures += all_failed
    return failures


def score(cases: Sequence[Case], ranker: Ranker) -> Scores:
    """The metrics above over cases that carry the oracle's chances."""
    if not cases or any(c.truth is None for c in cases):
        raise InvalidInput("scoring needs cases with the simulator's true chances")
    top1, regret, brier, fix = [], [], [], []
    for case in cases:
        truth = case.truth or {}
        ranking = ranker(case)
        first, predicted = ranking[0]
        best = max(truth[a] for a in case.allowed)
        oracle = sorted(case.allowed, key=lambda a: -truth[a])
        top1.append(truth[first] >= best - 1e-12)
        regret.append(
            expected_failures([a for a, _ in ranking], truth) - expected_failures(oracle, truth)
        )
        fix.append(truth[first])
        if predicted is not None:
            brier.append((predicted - truth[first]) ** 2 + truth[first] * (1 - truth[first]))
    return Scores(
        cases=len(cases),
        top1=float(np.mean(top1)),
        regret=float(np.mean(regret)),
        brier=float(np.mean(brier)) if len(brier) == len(cases) else None,
        first_choice_fix_rate=float(np.mean(fix)),
    )


def playbook_ranker(playbook: Mapping[str, Sequence[str]]) -> Ranker:
    """Rule only: the playbook's actions for the alert name first, in its order."""

    def rank(case: Case) -> Ranking:
        preferred = [a for a in playbook.get(case.context.signature.alertname, ()) if a in case.allowed]
        rest = [a for a in case.allowed if a not in preferred]
        return [(a, None) for a in preferred + rest]

    return rank


def rates_ranker(rates: OutcomeRates) -> Ranker:
    def rank(case: Case) -> Ranking:
        return [(e.action, e.probability) for e in rates.rank(case.context.signature, case.allowed)]

    return rank


def classifier_ranker(model: OutcomeClassifier) -> Ranker:
    def rank(case: Case) -> Ranking:
        return list(model.rank(case.context, case.allowed))

    return rank


STRENGTHS = (2.0, 5.0, 10.0, 30.0)  # prior strengths tried for learner (a)


def fit_rates(cases: Sequence[Case], strength: float = 10.0) -> OutcomeRates:
    """Rates from first attempts only: a later attempt ran on an incident the first did not
    fix, a biased sample for judging a first choice."""
    return OutcomeRates.fit((c.outcomes()[0] for c in cases if c.attempts), strength)


def fit_classifier(cases: Sequence[Case], seed: int = 0) -> OutcomeClassifier:
    rows = [
        (c.context, a.action, a.fixed, [b.action for b in c.attempts[:i]])
        for c in cases
        for i, a in enumerate(c.attempts)
    ]
    return OutcomeClassifier.fit(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
        seed=seed,
    )


def realised_brier(cases: Sequence[Case], predict: Callable[[Case, str], float]) -> float:
    """Brier score of predicted chances for the first runs actually tried (no oracle needed)."""
    errors = [(predict(c, c.attempts[0].action) - float(c.attempts[0].fixed)) ** 2
              for c in cases if c.attempts]
    if not errors:
        raise InvalidInput("no runs to judge the learners on")
    return float(np.mean(errors))


@dataclass(frozen=True)
class Choice:
    learner: str  # "classifier" or "rates"
    strength: float  # learner (a)'s prior strength
    rates_brier: float
    classifier_brier: float | None
    reason: str


def choose(training: Sequence[Case], seed: int = 0) -> Choice:
    """Learner (a)'s prior strength, then classifier or rates, all judged on the last quarter
    of the training weeks by the realised Brier score of first attempts (no oracle)."""
    ordered = sorted(training, key=lambda c: c.context.opened_at)
    cut = int(len(ordered) * 0.75)
    fit_part, check = ordered[:cut], ordered[cut:]
    briers = {}
    for strength in STRENGTHS:
        rates = fit_rates(fit_part, strength)
        briers[strength] = realised_brier(
            check, lambda c, a, r=rates: r.estimate(c.context.signature, a).probability
        )
    strength = min(briers, key=briers.__getitem__)
    try:
        model = fit_classifier(fit_part, seed)
    except InvalidInput as error:
        return Choice("rates", strength, briers[strength], None, f"classifier not fitted: {error}")
    classifier_brier = realised_brier(
        check, lambda c, a: float(model.probabilities([c.context], [a])[0])
    )
    if classifier_brier < briers[strength]:
        return Choice("classifier", strength, briers[strength], classifier_brier,
                      "lower Brier on the later training weeks")
    return Choice("rates", strength, briers[strength], classifier_brier,
                  "the classifier was not better on the later training weeks")
