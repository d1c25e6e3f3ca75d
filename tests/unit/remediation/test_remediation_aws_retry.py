"""The AWS retry rules without a network: what is retried, how long we wait, what it becomes."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from adapters.aws.errors import (
    AwsOutcomeUnknown,
    AwsPermissionDenied,
    AwsRequestRejected,
    AwsResourceNotFound,
    AwsTransientError,
)
from adapters.aws.retry import Retrier, RetryPolicy, is_retryable
from pipeline.errors import InvalidInput, NotFound, PermanentError, TransientError


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


class _Flaky:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"ok": True, **kwargs}


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("Throttling", 400, True),
        ("RequestLimitExceeded", 503, True),
        ("TooManyRequestsException", 429, True),
        ("InternalError", 500, True),
        ("SomethingNew", 502, True),
        ("ValidationError", 400, False),
        ("InvalidParameterValue", 400, False),
        ("AccessDenied", 403, False),
    ],
)
def test_which_errors_are_retryable(code: str, status: int, retryable: bool) -> None:
    assert is_retryable(_client_error(code, status)) is retryable


def test_full_jitter_stays_under_the_doubling_cap() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=4.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(3, lambda: 0.0) == 0.0


def test_throttled_call_is_retried_with_jittered_sleeps_then_returns() -> None:
    sleeps: list[float] = []
    retrier = Retrier(
        RetryPolicy(attempts=4, base_delay_s=1.0, max_delay_s=10.0),
        sleep=sleeps.append,
        draw=lambda: 0.5,
    )
    fn = _Flaky(_client_error("Throttling"), _client_error("Throttling"))
    assert retrier.call("ec2:RebootInstances", fn, mutating=True, InstanceIds=["i-1"]) == {
        "ok": True,
        "InstanceIds": ["i-1"],
    }
    assert (fn.calls, sleeps) == (3, [0.5, 1.0])


@pytest.mark.parametrize(
    ("error", "expected", "family"),
    [
        (_client_error("ValidationError"), AwsRequestRejected, InvalidInput),
        (_client_error("UnauthorizedOperation", 403), AwsPermissionDenied, PermanentError),
        (_client_error("InvalidInstanceID.NotFound"), AwsResourceNotFound, NotFound),
        (_client_error("ClusterNotFoundException"), AwsResourceNotFound, NotFound),
        (ParamValidationError(report="bad"), AwsRequestRejected, InvalidInput),
    ],
)
def test_permanent_errors_are_raised_at_once_in_our_hierarchy(error, expected, family) -> None:
    sleeps: list[float] = []
    fn = _Flaky(error)
    with pytest.raises(expected) as raised:
        Retrier(sleep=sleeps.append).call("op", fn, mutating=False)
    assert isinstance(raised.value, family)
    assert raised.value.__cause__ is error
    assert (fn.calls, sleeps) == (1, [])


def test_connection_refused_is_retried_even_for_changes() -> None:
    fn = _Flaky(EndpointConnectionError(endpoint_url="http://x"))
    assert Retrier(sleep=lambda s: None).call("op", fn, mutating=True) == {"ok": True}
    assert fn.calls == 2


def test_read_timeout_on_a_change_is_outcome_unknown_and_transient() -> None:
    fn = _Flaky(ReadTimeoutError(endpoint_url="http://x"))
    with pytest.raises(AwsOutcomeUnknown) as raised:
        Retrier(sleep=lambda s: None).call("op", fn, mutating=True)
    assert isinstance(raised.value, TransientError) and fn.calls == 1


def test_exhausted_retries_become_a_transient_error() -> None:
    fn = _Flaky(*[_client_error("Throttling")] * 3)
    with pytest.raises(AwsTransientError, match="after 3 attempts"):
        Retrier(RetryPolicy(attempts=3), sleep=lambda s: None).call("op", fn, mutating=False)
    assert fn.calls == 3
