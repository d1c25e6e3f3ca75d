"""Services get secrets from Secrets Manager, logs are retained and encrypted, workers scale on queue depth."""

from __future__ import annotations

import re

import pytest
from sco_terraform_config import Configuration

SECRET_LOOKING = re.compile(r"TOKEN|PASSWORD|SECRET|BASIC_AUTH|BROKER_URL|REDIS_URL|PGPASS", re.IGNORECASE)


@pytest.fixture(scope="module")
def config() -> Configuration:
    return Configuration()


def _root_module_call(config: Configuration, name: str) -> dict:
    return next(body for _, entry in config.sections("module") for key, body in entry.items() if key == name)


def _service_definitions(config: Configuration) -> dict:
    return config.locals_of("modules/compute")["services"]


def test_shared_plain_environment_holds_no_secret(config: Configuration) -> None:
    environment = _root_module_call(config, "compute")["app_environment"]
    assert "SCO_DATABASE_URL" in environment
    assert [name for name in environment if SECRET_LOOKING.search(name)] == []


def test_per_service_plain_environment_holds_no_secret(config: Configuration) -> None:
    for service, definition in _service_definitions(config).items():
        assert [name for name in definition["environment"] if SECRET_LOOKING.search(name)] == [], service


def test_connection_secrets_come_from_secrets_manager(config: Configuration) -> None:
    secrets = _root_module_call(config, "compute")["app_secrets"]
    assert secrets == {
        "SCO_BROKER_URL": "${module.datastores.redis_secret_arn}:broker_url::",
        "SCO_REDIS_URL": "${module.datastores.redis_secret_arn}:redis_url::",
        "PGPASSWORD": "${module.datastores.db_master_secret_arn}:password::",
    }


def test_database_url_carries_no_password_and_requires_tls(config: Configuration) -> None:
    url = config.outputs("modules/datastores")["database_url"]["value"]
    assert url.startswith("postgresql+psycopg://${aws_db_instance.this.username}@")
    assert url.endswith("?sslmode=require")


def test_the_four_roles_run_the_smartcloudops_cli(config: Configuration) -> None:
    commands = {service: definition["command"] for service, definition in _service_definitions(config).items()}
    assert commands == {
        "serve": ["serve"],
        "worker": ["worker"],
        "flower": ["flower"],
        "migrate": ["db", "upgrade"],
    }


def test_flower_gets_basic_auth_from_secrets_manager(config: Configuration) -> None:
    flower_secrets = _service_definitions(config)["flower"]["secrets"]
    assert flower_secrets == {"SCO_FLOWER_PASSWORD": flower_secrets["SCO_FLOWER_PASSWORD"]}
    assert flower_secrets["SCO_FLOWER_PASSWORD"].endswith(":flower_password::")


def test_every_log_group_has_retention_and_kms(config: Configuration) -> None:
    groups = config.resources("aws_cloudwatch_log_group")
    assert {block.address for block in groups} == {
        "modules/compute:resource.aws_cloudwatch_log_group.service",
        "modules/datastores:resource.aws_cloudwatch_log_group.postgres",
        "modules/datastores:resource.aws_cloudwatch_log_group.redis",
        "modules/network:resource.aws_cloudwatch_log_group.flow",
    }
    for block in groups:
        assert block.body["retention_in_days"] == "${var.log_retention_days}", block.address
        assert block.body["kms_key_id"] == "${var.kms_key_arn}", block.address


def test_every_secret_is_encrypted_with_the_stack_key(config: Configuration) -> None:
    secrets = config.resources("aws_secretsmanager_secret")
    assert {block.name for block in secrets} == {"app", "redis"}
    assert all(block.body["kms_key_id"] == "${var.kms_key_arn}" for block in secrets)


def test_alarm_topic_is_encrypted_and_budget_notifies_it(config: Configuration) -> None:
    (topic,) = config.resources("aws_sns_topic")
    assert topic.body["kms_master_key_id"] == "${var.kms_key_arn}"
    (budget,) = config.resources("aws_budgets_budget")
    assert budget.body["budget_type"] == "COST"
    assert {notification["notification_type"] for notification in budget.body["notification"]} == {"ACTUAL", "FORECASTED"}
    assert all(notification["subscriber_sns_topic_arns"] == ["${aws_sns_topic.alarms.arn}"] for notification in budget.body["notification"])


def test_workers_track_the_queue_depth_metric(config: Configuration) -> None:
    policies = {block.name: block.body for block in config.resources("aws_appautoscaling_policy")}
    tracking = policies["worker_queue_depth"]["target_tracking_scaling_policy_configuration"][0]
    metric = tracking["customized_metric_specification"][0]
    assert metric["metric_name"] == "QueueDepth"
    assert metric["namespace"] == "${var.metric_namespace}"
    assert metric["dimensions"] == [{"name": "Deployment", "value": "${var.name}"}]
    assert tracking["target_value"] == "${var.worker.queue_depth_target}"
    assert config.locals_of("root")["metric_namespace"] == "SmartCloudOps"


def test_containers_run_read_only_as_a_non_root_user(config: Configuration) -> None:
    (tasks,) = [block for block in config.resources("aws_ecs_task_definition")]
    definitions = tasks.body["container_definitions"]
    assert "readonlyRootFilesystem = true" in definitions
    assert 'user = "10001:10001"' in definitions
