"""Random operation sequences give the same answers from the Lua script as from the pure rules
(the in-memory fake), so the Redis adapter cannot drift from `guards.reserve`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.guard_store import RedisGuardStore
from pipeline.policy import GuardLimits
from pipeline.remediation import GuardRequest, InMemoryGuardStore

pytestmark = pytest.mark.integration

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa", reason="fakeredis runs Lua scripts only with lupa installed")

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
LIMITS = GuardLimits(
    rate_limit_max=2,
    rate_limit_window_s=600,
    cooldown_s=60,
    breaker_failure_threshold=2,
    breaker_cooldown_s=300,
)

reserve = st.tuples(
    st.just("reserve"),
    st.sampled_from(["k1", "k2", "k3", "k4", "k5", "k6"]),
    st.sampled_from(["ec2:i-0000000000000aaa1", "ec2:i-0000000000000aaa2"]),
    st.sampled_from(["ec2_reboot", "ecs_force_new_deployment"]),
)
outcome = st.tuples(
    st.just("outcome"), st.booleans(), st.sampled_from(["ec2_reboot", "ecs_force_new_deployment"])
)
kill = st.tuples(st.just("kill"), st.booleans())
operations = st.lists(
    st.tuples(st.integers(0, 400), st.one_of(reserve, reserve, outcome, kill)), max_size=40
)


def _apply(store, operation, at):
    kind = operation[0]
    if kind == "reserve":
        _, key, target, action = operation
        decision = store.check_and_reserve(GuardRequest(key, action, target), LIMITS, at)
        return (decision.allowed, decision.reason_code, decision.retry_after_s, decision.detail)
    if kind == "outcome":
        snapshot = store.record_outcome(operation[2], operation[1], LIMITS, at)
        return (snapshot.phase, snapshot.consecutive_failures, snapshot.opened_at)
    store.set_kill_switch(operation[1])
    return store.kill_switch_engaged()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_lua_and_pure_rules_agree_on_every_answer(steps) -> None:
    fake = InMemoryGuardStore()
    redis_store = RedisGuardStore(fakeredis.FakeRedis(), prefix=f"eq-{uuid.uuid4().hex}")
    at = T0
    for gap, operation in steps:
        at += timedelta(seconds=gap)
        assert _apply(redis_store, operation, at) == _apply(fake, operation, at), operation
