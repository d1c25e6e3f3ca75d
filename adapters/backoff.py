"""Exponential backoff with full jitter: the one formula every retry here uses."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter(
    attempt: int, *, base_s: float, cap_s: float, draw: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]; `draw` gives a number in [0, 1)."""
    return draw() * min(cap_s, base_s * 2**attempt)
