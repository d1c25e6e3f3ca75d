"""Full-jitter backoff: the one formula task retries and AWS call retries share."""

from __future__ import annotations

from adapters.backoff import full_jitter


def test_the_ceiling_doubles_each_attempt_up_to_the_cap() -> None:
    ceilings = [full_jitter(n, base_s=0.5, cap_s=60.0, draw=lambda: 1.0) for n in range(9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_the_delay_is_the_draw_scaled_into_zero_to_the_ceiling() -> None:
    assert full_jitter(3, base_s=1.0, cap_s=10.0, draw=lambda: 0.0) == 0.0
    assert full_jitter(3, base_s=1.0, cap_s=10.0, draw=lambda: 0.25) == 2.0


def test_the_default_draw_stays_within_the_ceiling() -> None:
    delays = [full_jitter(2, base_s=0.5, cap_s=60.0) for _ in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 1
