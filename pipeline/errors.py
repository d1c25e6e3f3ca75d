"""The one error hierarchy of SmartCloudOps.

Transient errors are retried with backoff and jitter; permanent errors are failed,
audited and dead-lettered. Expected outcomes (a guard refusing, a duplicate alert)
are events, not exceptions.
"""


class SmartCloudOpsError(Exception):
    """Base of every error the product raises on purpose."""


class TransientError(SmartCloudOpsError):
    """A fault that may pass: broker or database unreachable, throttling, timeouts."""


class PermanentError(SmartCloudOpsError):
    """A fault that retrying cannot fix: bad input, a broken invariant."""


class InvalidInput(PermanentError):
    """Input from outside failed validation; the message names what is wrong."""


class ConfigurationError(PermanentError):
    """A setting or operator file is missing or malformed; the message names it."""


class NotFound(PermanentError):
    """A referenced entity (incident, series, step) does not exist."""
