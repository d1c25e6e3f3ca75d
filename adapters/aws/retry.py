"""Our own retry for AWS calls: exponential backoff with full jitter, only where it is safe.

botocore's retries are switched off (see clients.py) so that this is the one place deciding.
Throttling, 5xx and failures to connect are retried; validation and permission errors never.
A state-changing call whose connection broke after sending is not re-sent (it may have acted).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from adapters.aws.errors import (
    AwsOutcomeUnknown,
    AwsPermissionDenied,
    AwsRequestRejected,
    AwsResourceNotFound,
    AwsTransientError,
)
from adapters.backoff import full_jitter

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
PERMISSION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_retryable(error: ClientError) -> bool:
    """Throttling and server-side failures pass; everything else is the request's fault."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
    code = error_code(error)
    return code in THROTTLING_CODES or code in TRANSIENT_CODES or int(status) >= 500


def permanent_error(error: ClientError, operation: str) -> Exception:
    """The PermanentError subclass for a non-retryable AWS error."""
    code = error_code(error)
    message = f"{operation}: {code}: {error.response.get('Error', {}).get('Message', '')}"
    if code in PERMISSION_CODES:
        return AwsPermissionDenied(message)
    if code.endswith("NotFound") or code.endswith("NotFoundException") or "DoesNotExist" in code:
        return AwsResourceNotFound(message)
    return AwsRequestRejected(message)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0

    def delay(self, attempt: int, draw: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return full_jitter(attempt, base_s=self.base_delay_s, cap_s=self.max_delay_s, draw=draw)


class Retrier:
    """Runs one AWS call with the retry policy; sleep and randomness are injectable for tests."""

    def __init__(
        self,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._draw = draw

    def call(self, operation: str, fn: Callable[..., T], *, mutating: bool, **kwargs: Any) -> T:
        """Call `fn(**kwargs)`, retrying transient failures; raises our error hierarchy."""
        for attempt in range(self.policy.attempts):
            try:
                return fn(**kwargs)
            except ParamValidationError as exc:
                # botocore refused the request before sending it: our parameters are wrong.
                raise AwsRequestRejected(f"{operation}: {exc}") from exc
            except ClientError as exc:
                if not is_retryable(exc):
                    raise permanent_error(exc, operation) from exc
                last: Exception = exc
            except (EndpointConnectionError, ConnectTimeoutError) as exc:
                last = exc  # never reached the service: always safe to retry
            except (HTTPClientError, BotoConnectionError) as exc:
                if mutating:
                    raise AwsOutcomeUnknown(
                        f"{operation}: connection lost after sending: {exc}"
                    ) from exc
                last = exc
            if attempt + 1 < self.policy.attempts:
                self._sleep(self.policy.delay(attempt, self._draw))
        raise AwsTransientError(
            f"{operation}: still failing after {self.policy.attempts} attempts: {last}"
        ) from last
