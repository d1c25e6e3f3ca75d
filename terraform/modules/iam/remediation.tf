# The workers' role: exactly the calls the remediation actions (adapters/aws) and their
# verify and recovery steps make (EC2 reboot/start, Auto Scaling desired capacity, ECS force new deployment, SSM
# allowlisted documents, RDS reboot), and every call that changes something only on
# resources tagged smartcloudops:managed = true. The tag is the operator's opt-in.

locals {
  ec2_instance_arns = [for region in var.remediation_regions : "arn:${local.partition}:ec2:${region}:${local.account_id}:instance/*"]
  asg_arns          = [for region in var.remediation_regions : "arn:${local.partition}:autoscaling:${region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]
  ecs_service_arns  = [for region in var.remediation_regions : "arn:${local.partition}:ecs:${region}:${local.account_id}:service/*/*"]
  rds_db_arns       = [for region in var.remediation_regions : "arn:${local.partition}:rds:${region}:${local.account_id}:db:*"]
}

data "aws_iam_policy_document" "remediation" {
  statement {
    # These EC2, Auto Scaling and SSM read calls support no resource-level permissions.
    sid = "ReadStateWithoutResourceTypes"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "ec2:DescribeInstanceStatus",
      "ec2:DescribeInstances",
      "ssm:GetCommandInvocation",
      "ssm:ListCommandInvocations",
      "ssm:ListCommands", # finds a command a crashed worker sent, by its idempotency comment
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ReadEcsServicesAndRdsInstances"
    actions   = ["ecs:DescribeServices", "rds:DescribeDBInstances"]
    resources = concat(local.ecs_service_arns, local.rds_db_arns)
  }

  statement {
    sid       = "RebootOrStartManagedInstances"
    actions   = ["ec2:RebootInstances", "ec2:StartInstances"]
    resources = local.ec2_instance_arns

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/smartcloudops:managed"
      values   = ["true"]
    }
  }

  statement {
    sid       = "SetCapacityOfManagedAutoScalingGroups"
    actions   = ["autoscaling:SetDesiredCapacity"]
    resources = local.asg_arns

    condition {
      test     = "StringEquals"
      variable = "autoscaling:ResourceTag/smartcloudops:managed"
      values   = ["true"]
    }
  }

  statement {
    # Force new deployment. Tag conditions need the long ECS ARN format (default since 2021).
    sid       = "RedeployManagedEcsServices"
    actions   = ["ecs:UpdateService"]
    resources = local.ecs_service_arns

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/smartcloudops:managed"
      values   = ["true"]
    }
  }

  statement {
    sid       = "RebootManagedRdsInstances"
    actions   = ["rds:RebootDBInstance"]
    resources = local.rds_db_arns

    condition {
      test     = "StringEquals"
      variable = "rds:db-tag/smartcloudops:managed"
      values   = ["true"]
    }
  }

  statement {
    sid       = "PublishQueueDepthMetric"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metric_namespace]
    }
  }

  # The SSM action checks a document's declared parameters before sending it.
  dynamic "statement" {
    for_each = length(var.ssm_document_arns) > 0 ? [1] : []

    content {
      sid       = "ReadAllowlistedSsmDocuments"
      actions   = ["ssm:DescribeDocument"]
      resources = var.ssm_document_arns
    }
  }

  # ssm:SendCommand is authorised against the document AND every target instance:
  # both statements must allow it, so only allowlisted documents reach tagged instances.
  dynamic "statement" {
    for_each = length(var.ssm_document_arns) > 0 ? [1] : []

    content {
      sid       = "SendAllowlistedSsmDocuments"
      actions   = ["ssm:SendCommand"]
      resources = var.ssm_document_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.ssm_document_arns) > 0 ? [1] : []

    content {
      sid       = "SendCommandsToManagedInstances"
      actions   = ["ssm:SendCommand"]
      resources = local.ec2_instance_arns

      condition {
        test     = "StringEquals"
        variable = "ssm:resourceTag/smartcloudops:managed"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_role_policy" "remediation" {
  name   = "remediation-on-managed-resources"
  role   = aws_iam_role.task["worker"].id
  policy = data.aws_iam_policy_document.remediation.json
}
