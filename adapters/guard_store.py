"""Guard state in Redis: check-and-reserve is one Lua script, so it is atomic across workers.

The script applies the same rules as `pipeline.remediation.guards.reserve` (kill switch,
circuit breaker, rate limit, cooldown, then record the reservation); one contract test runs
against this adapter and the in-memory fake so the two cannot drift. All keys share one hash
tag, so the script also runs on Redis Cluster. Times are the caller's clock (epoch seconds).
"""

from __future__ import annotations

import math
from datetime import datetime

import redis

from pipeline.errors import TransientError
from pipeline.policy import GuardLimits
from pipeline.remediation.guards import (
    BreakerSnapshot,
    BreakerState,
    GuardDecision,
    GuardRequest,
    Reason,
)
from pipeline.remediation.store import snapshot

# Idempotency of a reservation must outlive any redelivery of its step.
RESERVATION_TTL_S = 7 * 24 * 3600

CHECK_AND_RESERVE = """
local now = tonumber(ARGV[1])
local key = ARGV[2]
local rate_max = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local cooldown = tonumber(ARGV[5])
local breaker_cooldown = tonumber(ARGV[6])
local reservation_ttl_ms = tonumber(ARGV[7])

if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'kill_switch', ''}
end

local breaker = redis.call('HMGET', KEYS[2], 'failures', 'opened_at', 'trial_key', 'trial_at')
local failures = tonumber(breaker[1]) or 0
local opened_at = tonumber(breaker[2])
local take_trial = false
if opened_at then
  if now - opened_at < breaker_cooldown then
    return {'circuit_open', tostring(opened_at + breaker_cooldown - now), tostring(failures)}
  end
  local trial_key = breaker[3]
  local trial_at = tonumber(breaker[4]) or 0
  if trial_key and trial_key ~= key and now - trial_at < breaker_cooldown then
    return {'circuit_half_open_trial_in_flight', ''}
  end
  take_trial = true
end

local function claim_trial()
  if take_trial then
    redis.call('HSET', KEYS[2], 'trial_key', key, 'trial_at', ARGV[1])
  end
end

if redis.call('EXISTS', KEYS[5]) == 1 then
  claim_trial()
  return {'already_reserved', ''}
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[3])
if count >= rate_max then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {'rate_limited', tostring(tonumber(oldest[2]) + window - now), tostring(count)}
end

local last = tonumber(redis.call('GET', KEYS[4]))
if last and now - last < cooldown then
  return {'cooldown', tostring(last + cooldown - now), tostring(now - last)}
end

claim_trial()
redis.call('ZADD', KEYS[3], now, key)
redis.call('PEXPIRE', KEYS[3], math.ceil(window * 1000))
redis.call('SET', KEYS[4], ARGV[1], 'PX', math.max(1, math.ceil(cooldown * 1000)))
redis.call('SET', KEYS[5], ARGV[1], 'PX', reservation_ttl_ms)
return {'allowed', ''}
"""

RECORD_OUTCOME = """
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
  return {'0', ''}
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened_at = redis.call('HGET', KEYS[1], 'opened_at')
if opened_at or failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[2])
  opened_at = ARGV[2]
end
redis.call('HDEL', KEYS[1], 'trial_key', 'trial_at')
return {tostring(failures), opened_at or ''}
"""


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _ceil(seconds: str) -> float:
    return float(max(0, math.ceil(float(seconds))))


class RedisGuardStore:
    """The production `GuardStore`."""

    def __init__(self, client: redis.Redis, prefix: str = "sco:guard") -> None:
        self._client = client
        # One hash tag for every key: a Lua script may only touch keys of one cluster slot.
        self._prefix = "{" + prefix + "}"
        self._check = client.register_script(CHECK_AND_RESERVE)
        self._record = client.register_script(RECORD_OUTCOME)

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def check_and_reserve(
        self, request: GuardRequest, limits: GuardLimits, now: datetime
    ) -> GuardDecision:
        keys = [
            self._key("kill"),
            self._key("breaker", request.action),
            self._key("rate", request.target),
            self._key("last", request.target),
            self._key("reserved", request.idempotency_key),
        ]
        args = [
            repr(now.timestamp()),
            request.idempotency_key,
            limits.rate_limit_max,
            repr(float(limits.rate_limit_window_s)),
            repr(float(limits.cooldown_s)),
            repr(float(limits.breaker_cooldown_s)),
            RESERVATION_TTL_S * 1000,
        ]
        reply = [_text(v) for v in self._run(self._check, keys, args)]
        return _decision(request, limits, reply)

    def record_outcome(
        self, action: str, succeeded: bool, limits: GuardLimits, now: datetime
    ) -> BreakerSnapshot:
        args = ["1" if succeeded else "0", repr(now.timestamp()), limits.breaker_failure_threshold]
        failures, opened_at = (
            _text(v) for v in self._run(self._record, [self._key("breaker", action)], args)
        )
        state = BreakerState(int(failures), float(opened_at) if opened_at else None)
        return snapshot(action, state, limits, now.timestamp())

    def breaker(self, action: str, limits: GuardLimits, now: datetime) -> BreakerSnapshot:
        fields = self._call(
            self._client.hmget, self._key("breaker", action), "failures", "opened_at"
        )
        failures, opened_at = (_text(v) for v in fields)
        state = BreakerState(int(failures or 0), float(opened_at) if opened_at else None)
        return snapshot(action, state, limits, now.timestamp())

    def set_kill_switch(self, engaged: bool) -> None:
        if engaged:
            self._call(self._client.set, self._key("kill"), "1")
        else:
            self._call(self._client.delete, self._key("kill"))

    def kill_switch_engaged(self) -> bool:
        return bool(self._call(self._client.exists, self._key("kill")))

    def _run(self, script, keys: list, args: list):
        return self._call(script, keys=keys, args=args)

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise TransientError(f"guard store unreachable: {exc}") from exc


def _decision(request: GuardRequest, limits: GuardLimits, reply: list[str]) -> GuardDecision:
    code = reply[0]
    if code == Reason.ALLOWED:
        return GuardDecision(True, code, "")
    if code == Reason.ALREADY_RESERVED:
        return GuardDecision(True, code, "this step passed its guards before; not counted again")
    if code == Reason.KILL_SWITCH:
        return GuardDecision(False, code, "global kill switch engaged")
    if code == Reason.CIRCUIT_HALF_OPEN:
        return GuardDecision(False, code, f"one trial of {request.action} is in flight")
    retry_after, measure = reply[1], reply[2]
    if code == Reason.CIRCUIT_OPEN:
        detail = f"{request.action} failed {measure} times in a row"
    elif code == Reason.RATE_LIMITED:
        detail = f"{measure} actions on {request.target} within {limits.rate_limit_window_s:g}s"
    else:
        detail = (
            f"{request.target} acted on {float(measure):.0f}s ago; cooldown {limits.cooldown_s:g}s"
        )
    return GuardDecision(False, code, detail, _ceil(retry_after))
