"""The remediation action port: what a step asks of an action, and what it gets back.

adapters/aws implements it with boto3 (one class per action); unit tests use fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.errors import TransientError


class ActionOutcomeUnknown(TransientError):
    """A state-changing call lost its connection after sending: it may or may not have acted.

    Never re-sent in place (that could act twice); the step is verified instead.
    """


@dataclass(frozen=True)
class ActionResult:
    """The API call made (or, in a dry run, that would be made) and a summary of the answer."""

    called: str
    request: dict[str, Any]
    response_summary: dict[str, Any]
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "called": self.called,
            "request": self.request,
            "response_summary": self.response_summary,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    observed_state: dict[str, Any]
    detail: str
    polls: int = field(default=1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "observed_state": self.observed_state,
            "detail": self.detail,
            "polls": self.polls,
        }


class RemediationAction(Protocol):
    """One allowed action: act (or describe, in a dry run), recover a lost answer, verify."""

    def execute(self, params: Any, dry_run: bool, *, idempotency_key: str | None = None) -> ActionResult: ...

    def recover(self, params: Any, idempotency_key: str) -> ActionResult: ...

    def verify(self, params: Any, executed: ActionResult, *, timeout_s: float, poll_s: float,
               settle_s: float = 0.0) -> VerifyResult: ...
