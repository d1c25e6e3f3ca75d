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

Which ranking to use is decided without the oracle, as production must, on the last quarter
of the training weeks: the playbook's order (rule only), learner (a) or learner (b), each
valued by how often its choices fixed among the runs actually tried there (weighted by the
on-call's chance of trying them), less one standard error; a learner replaces the playbook's
order only when it is higher (`choose`). Learner (a)'s prior strength is chosen there by the
Brier score of its predicted chance for the first runs tried (realised outcomes).
"""

from __future__ import annotations

import math
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
    # Calibration in the large: the mean predicted chance of the first choice, beside its true
    # mean chance (`first_choice_fix_rate`); None for a ranking without probabilities.
    first_choice_predicted: float | None = None

    def row(self) -> dict:
        return {
            "cases": self.cases,
            "top1_accuracy": round(self.top1, 4),
            "regret_failed_attempts": round(self.regret, 4),
            "brier": None if self.brier is None else round(self.brier, 4),
            "first_choice_fix_rate": round(self.first_choice_fix_rate, 4),
            "first_choice_predicted": None if self.first_choice_predicted is None
            else round(self.first_choice_predicted, 4),
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
    top1, regret, brier, fix, said = [], [], [], [], []
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
            said.append(predicted)
    every = len(brier) == len(cases)
    return Scores(
        cases=len(cases),
        top1=float(np.mean(top1)),
        regret=float(np.mean(regret)),
        brier=float(np.mean(brier)) if every else None,
        first_choice_fix_rate=float(np.mean(fix)),
        first_choice_predicted=float(np.mean(said)) if every else None,
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


RULE, RATES, CLASSIFIER = "rule", "rates", "classifier"
# Pseudo-counts pulling the on-call's choice frequencies after a given set of failed actions
# towards their frequencies at that attempt number (see `OnCallPropensity`).
PROPENSITY_SHRINK = 2.0


@dataclass(frozen=True)
class Choice:
    learner: str  # RULE (the playbook's order: learning reorders nothing), RATES or CLASSIFIER
    strength: float  # learner (a)'s prior strength
    rates_brier: float
    classifier_brier: float | None
    reason: str
    # Each candidate's estimated chance that its choice fixes, on the validation weeks (None: its
    # choices were never the action tried there, so there is no evidence for it).
    fix_value: Mapping[str, float | None] | None = None
    matched: Mapping[str, int] | None = None  # validation runs where its choice was the one tried
    fix_bound: Mapping[str, float | None] | None = None  # each estimate less one standard error

    def validation(self) -> dict:
        """What the choice was made on, for a report or the model's sidecar."""
        return {
            "rates_brier": round(self.rates_brier, 4),
            "classifier_brier": None if self.classifier_brier is None else round(self.classifier_brier, 4),
            "fix_value": {k: None if v is None else round(v, 4) for k, v in (self.fix_value or {}).items()},
            "fix_bound": {k: None if v is None else round(v, 4) for k, v in (self.fix_bound or {}).items()},
            "matched_runs": dict(self.matched or {}),
        }


class OnCallPropensity:
    """How often the on-call tried each action, given the alert name and what already failed.

    Estimated from the attempts of the training weeks (which action was tried, never whether it
    fixed): the chance of `action` after the failed set `tried` is its count there plus
    `PROPENSITY_SHRINK` pseudo-counts spread as at that attempt number (each count plus one),
    normalised over the actions not yet tried. It weighs the logged runs so that a candidate's
    choices are judged as if the on-call had followed it (inverse propensity weighting).
    """

    def __init__(self, cases: Sequence[Case]) -> None:
        self._exact: dict[tuple, dict[str, int]] = {}
        self._step: dict[tuple, dict[str, int]] = {}
        for case in cases:
            for k, attempt in enumerate(case.attempts):
                tried = frozenset(a.action for a in case.attempts[:k])
                for table, key in ((self._exact, (case.context.signature.alertname, tried)),
                                   (self._step, (case.context.signature.alertname, k))):
                    counts = table.setdefault(key, {})
                    counts[attempt.action] = counts.get(attempt.action, 0) + 1

    def chance(self, case: Case, tried: Sequence[str], action: str) -> float:
        alert, left = case.context.signature.alertname, [a for a in case.allowed if a not in tried]
        if action not in left:
            raise InvalidInput(f"{action} was already tried or is not allowed")
        exact = self._exact.get((alert, frozenset(tried)), {})
        step = self._step.get((alert, len(tried)), {})
        step_total = sum(step.get(a, 0) + 1 for a in left)

        def weight(a: str) -> float:
            return exact.get(a, 0) + PROPENSITY_SHRINK * (step.get(a, 0) + 1) / step_total

        return weight(action) / sum(weight(a) for a in left)


# A candidate's next action for an incident, given the actions that already failed on it.
NextAction = Callable[[Case, Sequence[str]], str]


def next_by_ranker(ranker: Ranker) -> NextAction:
    """The first action of a fresh incident's ranking that was not tried yet (the rule, the rates)."""
    def next_action(case: Case, tried: Sequence[str]) -> str:
        return next(a for a, _ in ranker(case) if a not in tried)

    return next_action


def next_by_classifier(model: OutcomeClassifier) -> NextAction:
    """The classifier's likeliest fix among the untried actions, knowing which ones failed."""
    def next_action(case: Case, tried: Sequence[str]) -> str:
        left = [a for a in case.allowed if a not in tried]
        p = model.probabilities([case.context] * len(left), left, [list(tried)] * len(left))
        return left[int(np.argmax(p))]

    return next_action


@dataclass(frozen=True)
class FixValue:
    """A candidate's estimated chance that its choice fixes, and how much evidence it rests on."""

    value: float | None  # None: its choice was never the action tried
    matched: int  # runs where its choice was the action tried
    effective: float  # those runs' effective number, (sum of weights)^2 / sum of squared weights

    @property
    def lower(self) -> float | None:
        """One standard error below the estimate (binomial, on the effective number of runs, the
        share smoothed by one fix and one failure so a few runs that all fixed are not certain)."""
        if self.value is None:
            return None
        share = (self.value * self.effective + 1) / (self.effective + 2)
        return self.value - math.sqrt(share * (1 - share) / self.effective)


def fix_value(cases: Sequence[Case], choose_next: NextAction, propensity: OnCallPropensity) -> FixValue:
    """How often the candidate's choices fix, estimated from the runs actually tried (no oracle).

    Every run of `cases` is a decision (the candidate's next action after the runs before it on the
    incident); the runs where it is the action that was tried count, each weighted by one over the
    on-call's chance of trying it there, and the weighted share that fixed is the estimate
    (self-normalised inverse propensity weighting)."""
    weights, squares, fixes, matched = 0.0, 0.0, 0.0, 0
    for case in cases:
        for k, attempt in enumerate(case.attempts):
            tried = [a.action for a in case.attempts[:k]]
            if attempt.action not in case.allowed or attempt.action in tried:
                continue
            if choose_next(case, tried) != attempt.action:
                continue
            weight = 1.0 / propensity.chance(case, tried, attempt.action)
            weights += weight
            squares += weight * weight
            fixes += weight * float(attempt.fixed)
            matched += 1
    if not weights:
        return FixValue(None, 0, 0.0)
    return FixValue(fixes / weights, matched, weights * weights / squares)


def choose(
    training: Sequence[Case], playbook: Mapping[str, Sequence[str]] | None = None, seed: int = 0
) -> Choice:
    """Which ranking the advice uses, judged on the last quarter of the training weeks (no oracle).

    Learner (a)'s prior strength is the one with the lowest realised Brier score of first attempts
    there. Then each candidate (the playbook's order when `playbook` is given, the rates, the
    classifier), fitted on the first three quarters, is valued by how often its choices fix on the
    last quarter (`fix_value`, over every run tried there), judged by the estimate less one standard
    error: a choice seldom tried there rests on little evidence, and the largest of several noisy
    estimates is too high. A learner is used only when its bound is above the playbook's; otherwise
    learning reorders nothing (RULE). Without a playbook the learner with the higher bound is used.
    """
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
    propensity = OnCallPropensity(ordered)
    candidates: dict[str, NextAction] = {}
    if playbook is not None:
        candidates[RULE] = next_by_ranker(playbook_ranker(playbook))
    candidates[RATES] = next_by_ranker(rates_ranker(fit_rates(fit_part, strength)))
    classifier_brier, not_fitted = None, ""
    try:
        model = fit_classifier(fit_part, seed)
    except InvalidInput as error:
        not_fitted = f"; classifier not fitted: {error}"
    else:
        classifier_brier = realised_brier(
            check, lambda c, a: float(model.probabilities([c.context], [a])[0])
        )
        candidates[CLASSIFIER] = next_by_classifier(model)
    valued = {name: fix_value(check, pick, propensity) for name, pick in candidates.items()}
    bounds = {name: v.lower for name, v in valued.items()}
    learners = {n: b for n, b in bounds.items() if n != RULE and b is not None}
    best = max(learners, key=learners.__getitem__, default=None)
    shown = ", ".join(f"{n} {'—' if v.value is None else f'{v.value:.3f} (bound {v.lower:.3f}, {v.matched} runs)'}"
                      for n, v in valued.items())
    if best is None:
        learner, why = (RULE if playbook is not None else RATES), "no learner's choice was ever the one tried"
    elif playbook is not None and (bounds[RULE] is not None and learners[best] <= bounds[RULE]):
        learner, why = RULE, "no learner's choices fixed more than the playbook's, by the bound"
    else:
        learner, why = best, ("its choices fixed the most, by the bound" if playbook is None
                              else "its choices fixed more than the playbook's and the other learner's, by the bound")
    return Choice(learner, strength, briers[strength], classifier_brier,
                  f"{why} on the later training weeks ({shown}){not_fitted}",
                  {n: v.value for n, v in valued.items()}, {n: v.matched for n, v in valued.items()},
                  bounds)
