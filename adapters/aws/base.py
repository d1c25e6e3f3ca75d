"""What every AWS action shares: dry run, the one state-changing call, verification by polling."""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import NoCredentialsError

from adapters.aws.clients import AwsClients
from adapters.aws.retry import Retrier
from pipeline.errors import InvalidInput
from pipeline.policy import ActionName
from services.actions import ActionResult, VerifyResult


@dataclass(frozen=True)
class Observation:
    """One look at the resource: is it where we want it, is it hopeless, what we saw."""

    done: bool
    state: dict[str, Any]
    failed: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Call:
    """A state-changing API call: service, operation (snake and Pascal case) and parameters."""

    service: str
    operation: str
    api_name: str
    request: dict[str, Any]

    @property
    def called(self) -> str:
        return f"{self.service}:{self.api_name}"


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[0-9a-f]{16,64}$")


def _checked_key(key: str | None) -> str | None:
    if key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise InvalidInput("idempotency key must be 16-64 lower-case hex digits")
    return key


class AwsAction(ABC):
    """One remediation action against AWS; subclasses describe their call and how to verify it."""

    action: ClassVar[ActionName]
    params_type: ClassVar[type]

    def __init__(
        self,
        clients: AwsClients,
        retrier: Retrier,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._retrier = retrier
        self._monotonic = monotonic
        self._sleep = sleep

    def execute(
        self, params: Any, dry_run: bool, *, idempotency_key: str | None = None
    ) -> ActionResult:
        """Act (or in a dry run only describe what would be called); dry runs change nothing.

        `idempotency_key` (the plan step's) is stamped on the call where the API has room for
        it, so `recover` can find the call again after a crash between execute and record.
        """
        self._check_params(params)
        key = _checked_key(idempotency_key)
        try:
            before = self.preflight(params)
        except NoCredentialsError:
            if not dry_run:
                raise
            # The call does not depend on what the target looks like: record it all the same.
            before = {"not_inspected": "no AWS credentials; the target's state was not read"}
        call = self.call_for(params, before, key)
        if dry_run:
            return ActionResult(call.called, call.request, {"before": before}, dry_run=True)
        client = self._clients.client(call.service, params.region)
        response = self._retrier.call(
            call.called, getattr(client, call.operation), mutating=True, **call.request
        )
        summary = {"before": before, **self.summarise(response)}
        return ActionResult(call.called, call.request, summary, dry_run=False)

    def recover(self, params: Any, idempotency_key: str) -> ActionResult:
        """The result of an execution whose answer was lost (worker killed after the call).

        Never calls anything that changes state. By default verification needs nothing from
        the lost answer, so an empty summary marked `recovered` is enough to verify with.
        """
        self._check_params(params)
        call = self.call_for(params, {}, _checked_key(idempotency_key))
        return ActionResult(call.called, call.request, {"recovered": True}, dry_run=False)

    def verify(
        self,
        params: Any,
        executed: ActionResult,
        *,
        timeout_s: float,
        poll_s: float,
        settle_s: float = 0.0,
    ) -> VerifyResult:
        """Poll the real API until the resource is healthy again, it fails, or time runs out.

        `settle_s` waits before the first look: right after a reboot the old "ok" status can
        still be reported and must not count as recovery.
        """
        self._check_params(params)
        if executed.dry_run:
            seen = self.observe(params, executed)
            return VerifyResult(
                True, seen.state, "dry run: nothing was changed, state observed once"
            )
        deadline = self._monotonic() + timeout_s
        if settle_s > 0:
            self._sleep(min(settle_s, timeout_s))
        polls = 0
        while True:
            seen = self.observe(params, executed)
            polls += 1
            if seen.done or seen.failed:
                return VerifyResult(seen.done and not seen.failed, seen.state, seen.detail, polls)
            if self._monotonic() + poll_s > deadline:
                return VerifyResult(
                    False, seen.state, f"timed out after {timeout_s:g}s: {seen.detail}", polls
                )
            self._sleep(poll_s)

    def _check_params(self, params: Any) -> None:
        if type(params) is not self.params_type:
            raise InvalidInput(
                f"{self.action} needs {self.params_type.__name__}, got {type(params).__name__}"
            )

    def _describe(self, service: str, region: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        client = self._clients.client(service, region)
        return self._retrier.call(
            f"{service}:{operation}", getattr(client, operation), mutating=False, **kwargs
        )

    @abstractmethod
    def preflight(self, params: Any) -> dict[str, Any]:
        """Read-only look at the target before acting (Describe*); refuses impossible requests."""

    @abstractmethod
    def call_for(
        self, params: Any, before: dict[str, Any], idempotency_key: str | None = None
    ) -> Call:
        """The one state-changing call this action makes."""

    @abstractmethod
    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        """The part of the API answer worth keeping in the audit trail."""

    @abstractmethod
    def observe(self, params: Any, executed: ActionResult) -> Observation:
        """One read-only look at the target after acting."""
