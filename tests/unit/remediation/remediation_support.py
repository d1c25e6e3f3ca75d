"""A small estate (catalog + policy) and a fake clock, shared by the remediation unit tests.

A module of its own rather than conftest.py: `from conftest import ...` resolves to whichever
conftest was imported first when several test folders run together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.policy import Policy

SEARCH_INSTANCES = (
    "i-0b1b2c3d4e5f60011",
    "i-0b1b2c3d4e5f60012",
    "i-0b1b2c3d4e5f60013",
    "i-0b1b2c3d4e5f60014",
)
CHECKOUT_INSTANCE = "i-0a1b2c3d4e5f60001"

CATALOG = {
    "services": [
        {
            "name": "search",
            "tier": 2,
            "aws": {"region": "eu-west-1", "instance_ids": list(SEARCH_INSTANCES)},
            "systemd_units": ["opensearch.service"],
        },
        {
            "name": "checkout",
            "aliases": ["checkout-api"],
            "tier": 1,
            "aws": {
                "region": "eu-west-1",
                "instance_ids": [CHECKOUT_INSTANCE],
                "autoscaling_group": {
                    "name": "checkout-asg",
                    "min_size": 2,
                    "max_size": 8,
                    "desired_capacity": 4,
                },
            },
            "systemd_units": ["checkout-api.service"],
        },
        {
            "name": "payments",
            "tier": 1,
            "aws": {
                "region": "eu-west-1",
                "ecs": {"cluster": "prod-eu", "service": "payments"},
                "rds_instance_id": "payments-db",
            },
        },
    ],
    "alerts": ["InstanceDown", "HighCPU"],
}

POLICY = {
    "approvals": {"roles": ["sre-oncall"], "timeout_s": 600},
    "guards": {
        "rate_limit_max": 3,
        "rate_limit_window_s": 3600,
        "cooldown_s": 300,
        "max_targets_per_plan": 2,
        "max_fleet_share": 0.5,
        "breaker_failure_threshold": 3,
        "breaker_cooldown_s": 900,
    },
    "actions": {
        "ec2_reboot": {},
        "ec2_start": {},
        "asg_set_desired_capacity": {"max_step": 2},
        "ecs_force_new_deployment": {},
        "ssm_run_command": {
            "documents": [{"name": "SmartCloudOps-RestartSystemdUnit", "unit_parameter": "unit"}]
        },
        "rds_reboot": {},
    },
    "rules": [
        {
            "name": "reboot-down",
            "match": {"alertnames": ["InstanceDown"]},
            "actions": [{"action": "ec2_reboot"}],
        },
        {
            "name": "scale-checkout",
            "match": {"alertnames": ["HighCPU"], "services": ["checkout"]},
            "actions": [{"action": "asg_set_desired_capacity", "scale_out_by": 1}],
        },
        {
            "name": "restart-search",
            "match": {"alertnames": ["HighErrorRate"], "services": ["search"]},
            "actions": [
                {
                    "action": "ssm_run_command",
                    "document": "SmartCloudOps-RestartSystemdUnit",
                    "unit": "opensearch.service",
                }
            ],
        },
        {
            "name": "db",
            "match": {"alertnames": ["ReplicationLag"], "labels": {"severity": "critical"}},
            "minimum_decision": "needs_approval",
            "actions": [{"action": "rds_reboot"}],
        },
    ],
}


def make_policy(**overrides) -> Policy:
    return Policy.model_validate({**POLICY, **overrides})


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: datetime = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
