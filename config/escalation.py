"""Load config/escalation.yaml (tiers of page targets with delays); errors name file, line, field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config.yaml_lines import validate_yaml_file
from pipeline.escalation import SLACK_POST_MESSAGE_URL, EscalationBook, EscalationPolicy, PageTarget, Tier

DEFAULT_ESCALATION_FILE = Path(__file__).with_name("escalation.yaml")


class TargetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    type: Literal["slack_webhook", "slack_api", "webhook"]
    url: str = Field(default="", pattern=r"^(https?://.*)?$", max_length=2048)
    routing_key: str = Field(default="", max_length=128)
    # slack_api: a channel id (C…, G…) or a user id (U…, W…: a direct message).
    channel: str = Field(default="", pattern=r"^([CGDUW][A-Z0-9]{2,30})?$")

    @model_validator(mode="after")
    def _complete(self) -> TargetEntry:
        if self.type == "slack_api" and not self.channel:
            raise ValueError("a slack_api target needs channel: a channel id (C…) or a user id (U…)")
        if self.type != "slack_api" and not self.url:
            raise ValueError(f"a {self.type} target needs url")
        return self


class TierEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after_s: float = Field(ge=0, le=7 * 86400)
    targets: list[TargetEntry] = Field(min_length=1)


class PolicyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: list[TierEntry] = Field(min_length=1, max_length=10)


class EscalationFile(BaseModel):
    """The shape of escalation.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_policy: str | None = None
    policies: dict[str, PolicyEntry] = Field(default_factory=dict)
    services: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_exist(self) -> EscalationFile:
        for owner, name in [("default_policy", self.default_policy), *self.services.items()]:
            if name is not None and name not in self.policies:
                raise ValueError(f"{owner} names policy {name!r}, which is not defined")
        return self


def escalation_book(entries: EscalationFile) -> EscalationBook:
    """The validated file as the domain's EscalationBook."""
    policies = {
        name: EscalationPolicy(
            name,
            tuple(
                Tier(
                    tier.after_s,
                    tuple(PageTarget(t.name, t.type, t.url or SLACK_POST_MESSAGE_URL, t.routing_key, t.channel)
                          for t in tier.targets),
                )
                for tier in policy.tiers
            ),
        )
        for name, policy in entries.policies.items()
    }
    return EscalationBook(policies, dict(entries.services), entries.default_policy)


def load_escalation(path: str | Path = DEFAULT_ESCALATION_FILE) -> EscalationBook:
    """Read and validate an escalation file; ConfigurationError names the file, line and field."""
    return escalation_book(validate_yaml_file(path, EscalationFile))
