"""NAB application profiles: how much a true positive, a false positive and a miss weigh."""

from dataclasses import dataclass


@dataclass(frozen=True)
class CostProfile:
    """Weights of one NAB application profile (NAB `config/profiles.json`)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD = CostProfile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
REWARD_LOW_FP = CostProfile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0)
REWARD_LOW_FN = CostProfile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)

PROFILES: tuple[CostProfile, ...] = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)

# NAB ignores the first 15% of every file (capped at 750 rows): detectors are learning then.
PROBATIONARY_PERCENT = 0.15
PROBATIONARY_CAP_ROWS = 5000
