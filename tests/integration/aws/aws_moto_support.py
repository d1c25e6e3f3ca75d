"""Helpers shared by the AWS integration tests (conftest is not importable by name)."""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

REGION = "eu-west-1"
MUTATING_OPERATIONS = frozenset(
    {
        "RebootInstances",
        "StartInstances",
        "SetDesiredCapacity",
        "UpdateService",
        "SendCommand",
        "RebootDBInstance",
    }
)


@dataclass
class CallRecorder:
    """Every HTTP request boto3 sends, by operation name (via botocore's `before-send` hook)."""

    operations: list[str] = field(default_factory=list)

    def __call__(self, event_name: str, **_: object) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])

    @property
    def mutating(self) -> list[str]:
        return [op for op in self.operations if op in MUTATING_OPERATIONS]


def make_session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
