"""Learner (a): a smoothed success rate per (incident signature, action), with a Beta prior.

Each level of a signature (see `Signature.widen`) shrinks towards the level above it: the
rate for (InstanceDown on checkout, critical, tier 1; ec2_reboot) is a Beta posterior whose
prior mean is the rate for (InstanceDown, critical; ec2_reboot), and so on up to the
action's rate over every incident, whose prior is the fix rate of every run of every
action (an action nobody tried is assumed average, not an even chance). A prior weighs
`strength` pseudo-runs, so two runs barely move a rate learnt from twenty elsewhere, and
twenty runs of the exact signature outweigh it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.errors import InvalidInput
from pipeline.learning.outcomes import Outcome, Signature

ROOT_PRIOR = 0.5  # before any run at all
INTERVAL = 0.95


@dataclass(frozen=True)
class Estimate:
    """How likely `action` is to fix an incident of a signature, and on what evidence."""

    action: str
    probability: float
    low: float
    high: float
    fixed: int  # runs at the most specific level with any evidence
    tried: int
    evidence: str  # what those runs were: "similar InstanceDown incidents on checkout"

    def explain(self) -> str:
        share = f"{self.probability:.0%}, {INTERVAL:.0%} interval {self.low:.0%}–{self.high:.0%}"
        if not self.tried:
            return f"{self.action}: never tried on {self.evidence} ({share}, the prior)"
        return f"{self.action} fixed {self.fixed} of {self.tried} {self.evidence} ({share})"


class OutcomeRates:
    """Counts of fixed / tried runs per level of signature and action; estimates from them."""

    def __init__(self, strength: float = 2.0) -> None:
        if not strength > 0:
            raise InvalidInput("the prior's strength must be positive")
        self.strength = strength
        self._counts: dict[tuple[tuple[str, ...], str], list[int]] = defaultdict(lambda: [0, 0])
        self._all = [0, 0]  # fixed, tried over every run

    @classmethod
    def fit(cls, outcomes: Iterable[Outcome], strength: float = 2.0) -> OutcomeRates:
        rates = cls(strength)
        for outcome in outcomes:
            rates.add(outcome)
        return rates

    def add(self, outcome: Outcome) -> None:
        self._all[0] += int(outcome.fixed)
        self._all[1] += 1
        for key in outcome.signature.widen():
            counts = self._counts[(key, outcome.action)]
            counts[0] += int(outcome.fixed)
            counts[1] += 1

    def estimate(self, signature: Signature, action: str) -> Estimate:
        fixed, tried = self._all
        mean = (fixed + self.strength * ROOT_PRIOR) / (tried + self.strength)
        alpha, beta = self.strength * mean, self.strength * (1 - mean)
        evidence = (0, 0, "incidents of any kind")
        for key in reversed(signature.widen()):
            fixed, tried = self._counts.get((key, action), (0, 0))
            alpha = fixed + self.strength * mean
            beta = tried - fixed + self.strength * (1 - mean)
            mean = alpha / (alpha + beta)
            if tried:
                evidence = (fixed, tried, _describe(key, signature))
        from scipy.special import betaincinv  # on use: the HTTP server loads SciPy only to explain

        low, high = betaincinv(alpha, beta, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
        fixed, tried, text = evidence
        return Estimate(action, float(mean), float(low), float(high), fixed, tried, text)

    def rank(self, signature: Signature, actions: Sequence[str]) -> list[Estimate]:
        """The allowed `actions`, most likely to fix first (ties keep the given order)."""
        estimates = [self.estimate(signature, action) for action in actions]
        return sorted(estimates, key=lambda e: -e.probability)


def _describe(key: tuple[str, ...], signature: Signature) -> str:
    level = key[0]
    if level == "signature":
        return f"similar {signature.alertname} incidents on {signature.service}"
    if level == "alert":
        return f"{signature.severity} {signature.alertname} incidents on any service"
    if level == "alert-name":
        return f"{signature.alertname} incidents"
    return "incidents of any kind"
