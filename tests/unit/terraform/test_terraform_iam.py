"""IAM rules: no wildcard action anywhere, remediation only on resources tagged managed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sco_terraform_config import (
    Configuration,
    managed_tag_setters,
    non_literal_policies,
    untagged_mutations,
    wildcard_actions,
    wildcard_principals,
)

# What the remediation issue calls, and which condition key carries the tag for each
# mutating call (service-specific where the service documents its own key).
REMEDIATION_READS = {
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "autoscaling:DescribeAutoScalingGroups",
    "ecs:DescribeServices",
    "ssm:GetCommandInvocation",
    "ssm:ListCommandInvocations",
    "ssm:ListCommands",
    "ssm:DescribeDocument",
    "rds:DescribeDBInstances",
}
REMEDIATION_MUTATIONS = {
    "ec2:RebootInstances": ("aws:ResourceTag/", "ec2:ResourceTag/"),
    "ec2:StartInstances": ("aws:ResourceTag/", "ec2:ResourceTag/"),
    "autoscaling:SetDesiredCapacity": ("autoscaling:ResourceTag/",),
    "ecs:UpdateService": ("aws:ResourceTag/", "ecs:ResourceTag/"),
    "ssm:SendCommand": ("ssm:resourceTag/",),
    "rds:RebootDBInstance": ("rds:db-tag/", "aws:ResourceTag/"),
}
METRIC_PUBLISH = "cloudwatch:PutMetricData"


@pytest.fixture(scope="module")
def config() -> Configuration:
    return Configuration()


@pytest.fixture(scope="module")
def remediation(config: Configuration):
    statements = config.policy_document("modules/iam", "remediation")
    assert statements, "the remediation policy document is missing"
    return statements


def _write(tmp_path: Path, text: str) -> Configuration:
    (tmp_path / "main.tf").write_text(text)
    return Configuration(tmp_path)


def test_no_policy_statement_anywhere_grants_a_wildcard_action(config: Configuration) -> None:
    statements = config.policy_statements()
    assert len(statements) >= 15
    assert wildcard_actions(statements) == []


def test_wildcard_checker_catches_star_service_star_and_not_actions(tmp_path: Path) -> None:
    broken = _write(
        tmp_path,
        """
        data "aws_iam_policy_document" "bad" {
          statement {
            sid       = "All"
            actions   = ["*"]
            resources = ["*"]
          }
          statement {
            sid       = "AllEc2"
            actions   = ["ec2:DescribeInstances", "ec2:*"]
            resources = ["*"]
          }
          statement {
            sid         = "Inverted"
            not_actions = ["iam:CreateUser"]
            resources   = ["*"]
          }
        }
        """,
    )
    offenders = wildcard_actions(broken.policy_statements())
    assert offenders == [
        "root:data.aws_iam_policy_document.bad#All: *",
        "root:data.aws_iam_policy_document.bad#AllEc2: ec2:*",
        "root:data.aws_iam_policy_document.bad#Inverted: not_actions",
    ]


def test_every_policy_is_an_aws_iam_policy_document_so_the_checks_see_it(config: Configuration) -> None:
    assert non_literal_policies(config) == []


def test_an_inline_json_policy_is_refused(tmp_path: Path) -> None:
    broken = _write(
        tmp_path,
        """
        resource "aws_iam_role_policy" "sneaky" {
          role   = "r"
          policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
        }
        """,
    )
    assert non_literal_policies(broken) == ["root:resource.aws_iam_role_policy.sneaky.policy"]


def test_no_statement_trusts_or_grants_to_anyone(config: Configuration) -> None:
    assert wildcard_principals(config.policy_statements()) == []


def test_remediation_role_grants_exactly_the_calls_remediation_makes(remediation) -> None:
    granted = {action for statement in remediation for action in statement.actions}
    assert granted == REMEDIATION_READS | set(REMEDIATION_MUTATIONS) | {METRIC_PUBLISH}


def test_every_mutating_remediation_call_requires_the_managed_tag(remediation) -> None:
    assert untagged_mutations(remediation, REMEDIATION_MUTATIONS) == []


def test_each_mutating_call_is_granted_only_with_its_own_condition_key(remediation) -> None:
    keys = {
        action: {condition["variable"] for condition in statement.conditions}
        for statement in remediation
        for action in statement.actions
        if action in REMEDIATION_MUTATIONS and statement.conditions
    }
    assert keys == {
        "ec2:RebootInstances": {"aws:ResourceTag/smartcloudops:managed"},
        "ec2:StartInstances": {"aws:ResourceTag/smartcloudops:managed"},
        "autoscaling:SetDesiredCapacity": {"autoscaling:ResourceTag/smartcloudops:managed"},
        "ecs:UpdateService": {"aws:ResourceTag/smartcloudops:managed"},
        "ssm:SendCommand": {"ssm:resourceTag/smartcloudops:managed"},
        "rds:RebootDBInstance": {"rds:db-tag/smartcloudops:managed"},
    }


def test_untagged_mutation_checker_catches_a_missing_or_wrong_condition(tmp_path: Path) -> None:
    broken = _write(
        tmp_path,
        """
        data "aws_iam_policy_document" "bad" {
          statement {
            sid       = "NoCondition"
            actions   = ["ec2:RebootInstances"]
            resources = ["arn:aws:ec2:us-east-1:123456789012:instance/*"]
          }
          statement {
            sid       = "WrongValue"
            actions   = ["rds:RebootDBInstance"]
            resources = ["arn:aws:rds:us-east-1:123456789012:db:*"]
            condition {
              test     = "StringEquals"
              variable = "rds:db-tag/smartcloudops:managed"
              values   = ["false", "true"]
            }
          }
          statement {
            sid       = "WrongKeyForAutoScaling"
            actions   = ["autoscaling:SetDesiredCapacity"]
            resources = ["*"]
            condition {
              test     = "StringEquals"
              variable = "aws:RequestTag/smartcloudops:managed"
              values   = ["true"]
            }
          }
          statement {
            sid       = "DocumentsAreExempt"
            actions   = ["ssm:SendCommand"]
            resources = var.ssm_document_arns
          }
        }
        """,
    )
    offenders = untagged_mutations(broken.policy_statements(), REMEDIATION_MUTATIONS)
    assert offenders == [
        "root:data.aws_iam_policy_document.bad#NoCondition: ec2:RebootInstances",
        "root:data.aws_iam_policy_document.bad#WrongValue: rds:RebootDBInstance",
        "root:data.aws_iam_policy_document.bad#WrongKeyForAutoScaling: autoscaling:SetDesiredCapacity",
    ]


def test_documents_are_read_only_from_the_allowlist(remediation) -> None:
    (describe,) = [statement for statement in remediation if "ssm:DescribeDocument" in statement.actions]
    assert describe.actions == ("ssm:DescribeDocument",)
    assert describe.body["resources"] == "${var.ssm_document_arns}"


def test_send_command_reaches_only_allowlisted_documents_and_tagged_instances(remediation) -> None:
    send = [statement for statement in remediation if "ssm:SendCommand" in statement.actions]
    resources = sorted(str(statement.body["resources"]) for statement in send)
    assert resources == ["${local.ec2_instance_arns}", "${var.ssm_document_arns}"]
    assert all(statement.actions == ("ssm:SendCommand",) for statement in send)


def test_only_reads_without_resource_types_use_a_star_resource(remediation) -> None:
    star = [statement for statement in remediation if statement.body.get("resources") == ["*"]]
    star_actions = {action for statement in star for action in statement.actions}
    assert star_actions == {
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "autoscaling:DescribeAutoScalingGroups",
        "ssm:GetCommandInvocation",
        "ssm:ListCommandInvocations",
        "ssm:ListCommands",
        METRIC_PUBLISH,
    }


def test_metric_publishing_is_limited_to_the_smartcloudops_namespace(remediation) -> None:
    (publish,) = [statement for statement in remediation if METRIC_PUBLISH in statement.actions]
    assert publish.actions == (METRIC_PUBLISH,)
    assert publish.conditions == [
        {"test": "StringEquals", "variable": "cloudwatch:namespace", "values": ["${var.metric_namespace}"]}
    ]


def test_remediation_calls_are_granted_by_no_other_policy(config: Configuration) -> None:
    remediation_calls = REMEDIATION_READS | set(REMEDIATION_MUTATIONS)
    elsewhere = [
        f"{statement.document}: {action}"
        for statement in config.policy_statements()
        if not statement.document.endswith(".remediation")
        for action in statement.actions
        if action in remediation_calls
    ]
    assert elsewhere == []


def test_remediation_policy_is_attached_to_the_worker_task_role_only(config: Configuration) -> None:
    attachments = {
        block.name: (block.body["role"], block.body["policy"]) for block in config.resources("aws_iam_role_policy")
    }
    assert attachments["remediation"] == (
        '${aws_iam_role.task["worker"].id}',
        "${data.aws_iam_policy_document.remediation.json}",
    )
    roles_with_policies = {role for role, _ in attachments.values()}
    assert '${aws_iam_role.task["serve"].id}' not in roles_with_policies
    assert '${aws_iam_role.task["migrate"].id}' not in roles_with_policies


def test_nothing_in_the_stack_tags_itself_as_remediable(config: Configuration) -> None:
    assert managed_tag_setters(config) == []


def test_managed_tag_setter_checker_catches_a_tagged_resource(tmp_path: Path) -> None:
    broken = _write(
        tmp_path,
        """
        resource "aws_ecs_service" "worker" {
          name = "worker"
          tags = { "smartcloudops:managed" = "true" }
        }
        """,
    )
    assert managed_tag_setters(broken) == ["root:resource.aws_ecs_service.worker"]


def test_task_roles_trust_only_this_accounts_ecs_tasks(config: Configuration) -> None:
    (trust,) = config.policy_document("modules/iam", "ecs_tasks_assume")
    assert trust.actions == ("sts:AssumeRole",)
    assert trust.body["principals"] == [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}]
    assert {condition["variable"] for condition in trust.conditions} == {"aws:SourceAccount", "aws:SourceArn"}


def test_execution_role_reads_only_the_stacks_secrets_and_repository(config: Configuration) -> None:
    statements = {statement.sid: statement for statement in config.policy_document("modules/iam", "execution")}
    assert statements["InjectSecrets"].body["resources"] == "${var.secret_arns}"
    assert statements["PullSmartCloudOpsImage"].body["resources"] == ["${var.ecr_repository_arn}"]
    assert statements["EcrLogin"].actions == ("ecr:GetAuthorizationToken",)
