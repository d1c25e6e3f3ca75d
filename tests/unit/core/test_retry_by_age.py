"""Transient faults are retried by age, not by count, with waits the broker's visibility timeout never reaches."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from config.settings import load_settings
from tasks.base import FIRST_FAILURE, retry_backoff_cap_s, retry_plan

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
EVENT = {"id": "e-1", "traceid": "t", "data": {}}


def outage(settings, seconds: float):
    """Fail every attempt for `seconds`; the delays chosen, and whether the message was ever given up."""
    random.seed(11)
    now, event, retries, delays = T0, EVENT, 0, []
    while now < T0 + timedelta(seconds=seconds):
        plan = retry_plan(event, retries, settings, now)
        if plan is None:
            return delays, True
        delay, event = plan
        delays.append(delay)
        now += timedelta(seconds=delay + 0.05)  # the attempt itself takes a moment
        retries += 1
    return delays, False


def test_a_five_minute_database_outage_dead_letters_nothing(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    delays, gave_up = outage(settings, 5 * 60)
    assert not gave_up
    assert len(delays) > settings.task_max_retries  # the old count limit would have dead-lettered it


def test_every_wait_stays_under_the_visibility_timeout(tmp_path):
    settings = load_settings(data_dir=tmp_path, broker_visibility_timeout_s=20, task_retry_backoff_cap_s=60)
    assert retry_backoff_cap_s(settings) == 10
    delays, _ = outage(settings, 10 * 60)
    assert max(delays) <= 10 < settings.broker_visibility_timeout_s


def test_the_first_failure_travels_with_the_retried_message_and_ends_retries_at_the_age(tmp_path):
    settings = load_settings(data_dir=tmp_path, task_retry_max_age_s=600)
    _, retried = retry_plan(EVENT, 0, settings, T0)
    assert retried[FIRST_FAILURE] == T0.isoformat() and retried["id"] == "e-1"
    assert retry_plan(retried, 500, settings, T0 + timedelta(seconds=599)) is not None
    assert retry_plan(retried, 3, settings, T0 + timedelta(seconds=600)) is None
