"""AWS failures mapped onto the product's one error hierarchy."""

from __future__ import annotations

from pipeline.errors import InvalidInput, NotFound, PermanentError, TransientError
from services.actions import ActionOutcomeUnknown


class AwsTransientError(TransientError):
    """Throttling, a 5xx or a lost connection that outlived our retries; retry later."""


class AwsOutcomeUnknown(ActionOutcomeUnknown):
    """A state-changing call lost its connection after sending: it may or may not have acted.

    Not retried in place (that could act twice); the caller should verify instead of re-sending.
    """


class AwsPermissionDenied(PermanentError):
    """Our credentials may not make this call; retrying cannot help."""


class AwsResourceNotFound(NotFound):
    """The instance, group, service, command or database does not exist."""


class AwsRequestRejected(InvalidInput):
    """AWS refused the request's parameters (validation error, wrong state)."""
