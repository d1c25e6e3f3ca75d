"""One contract for every GuardStore: the in-memory fake, Redis via fakeredis (Lua on lupa),
and a real Redis on 127.0.0.1:6379. The same script of requests gets the same answers."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.guard_store import RedisGuardStore
from pipeline.policy import GuardLimits
from pipeline.remediation import GuardRequest, InMemoryGuardStore
from pipeline.remediation.guards import BreakerPhase

pytestmark = pytest.mark.integration

LIMITS = GuardLimits(
    rate_limit_max=3,
    rate_limit_window_s=3600,
    cooldown_s=300,
    breaker_failure_threshold=3,
    breaker_cooldown_s=900,
)
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
TARGET = "ec2:i-0b1b2c3d4e5f60011"


def _real_redis():
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis on 127.0.0.1:6379 is required in CI: {exc}")
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    return client


def _fakeredis():
    fakeredis = pytest.importorskip("fakeredis")
    try:
        import lupa  # noqa: F401  (fakeredis runs Lua scripts only with lupa installed)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"lupa is required in CI for fakeredis Lua scripts: {exc}")
        pytest.skip(f"lupa not installed, fakeredis cannot run Lua: {exc}")
    return fakeredis.FakeRedis()


@pytest.fixture(params=["memory", "fakeredis", "redis"])
def store(request):
    if request.param == "memory":
        yield InMemoryGuardStore()
        return
    client = _fakeredis() if request.param == "fakeredis" else _real_redis()
    prefix = f"test-guard-{uuid.uuid4().hex}"
    yield RedisGuardStore(client, prefix=prefix)
    for key in client.scan_iter(match="{" + prefix + "}*"):
        client.delete(key)


def _ask(store, key, at, target=TARGET, action="ec2_reboot"):
    return store.check_and_reserve(GuardRequest(key, action, target), LIMITS, at)


def _seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def test_rate_limit_and_cooldown(store) -> None:
    answers = [
        _ask(store, "a", _seconds(0)),
        _ask(store, "b", _seconds(100)),
        _ask(store, "c", _seconds(300)),
        _ask(store, "d", _seconds(600)),
        _ask(store, "e", _seconds(900)),
        _ask(store, "f", _seconds(3601)),
    ]
    assert [(a.allowed, a.reason_code, a.retry_after_s) for a in answers] == [
        (True, "allowed", None),
        (False, "cooldown", 200.0),
        (True, "allowed", None),
        (True, "allowed", None),
        (False, "rate_limited", 2700.0),
        (True, "allowed", None),
    ]
    assert answers[4].detail == f"3 actions on {TARGET} within 3600s"


def test_same_key_is_reserved_once(store) -> None:
    assert _ask(store, "a", _seconds(0)).reason_code == "allowed"
    assert _ask(store, "a", _seconds(1)).reason_code == "already_reserved"
    assert _ask(store, "b", _seconds(301)).reason_code == "allowed"


def test_breaker_cycle(store) -> None:
    phases = [
        store.record_outcome("ec2_reboot", False, LIMITS, _seconds(0)).phase for _ in range(3)
    ]
    assert phases == [BreakerPhase.CLOSED, BreakerPhase.CLOSED, BreakerPhase.OPEN]
    refused = _ask(store, "a", _seconds(10))
    assert (refused.reason_code, refused.retry_after_s) == ("circuit_open", 890.0)
    assert refused.detail == "ec2_reboot failed 3 times in a row"
    assert store.breaker("ec2_reboot", LIMITS, _seconds(900)).phase is BreakerPhase.HALF_OPEN
    assert _ask(store, "trial", _seconds(900)).allowed
    assert _ask(store, "other", _seconds(901), target="ec2:i-0b1b2c3d4e5f60012").reason_code == (
        "circuit_half_open_trial_in_flight"
    )
    assert _ask(store, "trial", _seconds(902)).reason_code == "already_reserved"
    reopened = store.record_outcome("ec2_reboot", False, LIMITS, _seconds(950))
    assert (reopened.phase, reopened.consecutive_failures) == (BreakerPhase.OPEN, 4)
    assert (
        _ask(store, "later", _seconds(1849), target="ec2:i-0b1b2c3d4e5f60013").reason_code
        == "circuit_open"
    )
    assert _ask(store, "trial2", _seconds(1850), target="ec2:i-0b1b2c3d4e5f60013").allowed
    closed = store.record_outcome("ec2_reboot", True, LIMITS, _seconds(1860))
    assert (closed.phase, closed.consecutive_failures) == (BreakerPhase.CLOSED, 0)
    assert _ask(store, "after", _seconds(1870), target="ec2:i-0b1b2c3d4e5f60014").allowed


def test_breakers_are_per_action_type(store) -> None:
    for _ in range(3):
        store.record_outcome("ec2_reboot", False, LIMITS, _seconds(0))
    assert _ask(
        store, "a", _seconds(1), target="asg:eu-west-1:web", action="asg_set_desired_capacity"
    ).allowed


def test_kill_switch(store) -> None:
    assert not store.kill_switch_engaged()
    store.set_kill_switch(True)
    assert store.kill_switch_engaged()
    assert _ask(store, "a", _seconds(0)).reason_code == "kill_switch"
    store.set_kill_switch(False)
    assert _ask(store, "a", _seconds(0)).reason_code == "allowed"


def test_concurrent_requests_never_exceed_the_rate_limit(store) -> None:
    """Twenty workers ask at the same instant for distinct steps on one target: one wins."""
    answers = []
    barrier = threading.Barrier(20)

    def worker(n: int) -> None:
        barrier.wait()
        answers.append(_ask(store, f"step-{n}", _seconds(0)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a.allowed for a in answers) == 1
    assert {a.reason_code for a in answers if not a.allowed} == {"cooldown"}
