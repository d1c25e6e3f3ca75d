locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# Missing data is breaching: only the workers publish QueueDepth, so silence means no
# worker is alive (or none can reach CloudWatch), which is itself an incident.
resource "aws_cloudwatch_metric_alarm" "queue_backlog" {
  alarm_name          = "${var.name}-queue-backlog"
  alarm_description   = "Pipeline backlog above ${var.queue_backlog_alarm_threshold} for 15 minutes, or workers stopped publishing QueueDepth."
  namespace           = var.metric_namespace
  metric_name         = "QueueDepth"
  dimensions          = { Deployment = var.name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.queue_backlog_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alb_target_5xx" {
  alarm_name          = "${var.name}-webhook-5xx"
  alarm_description   = "The HTTP consumer answered 5xx (broker down means Alertmanager is retrying)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alb_no_healthy_target" {
  alarm_name          = "${var.name}-webhook-unhealthy"
  alarm_description   = "No healthy HTTP consumer behind the ALB: webhooks are being refused."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_free_storage" {
  alarm_name          = "${var.name}-db-free-storage"
  alarm_description   = "RDS free storage below 2 GiB (autoscaling storage may be at its maximum)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 2 * 1024 * 1024 * 1024
  comparison_operator = "LessThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${var.name}-db-cpu"
  alarm_description   = "RDS CPU above 80% for 15 minutes (burstable credits run out after that)."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# noeviction means a full Redis refuses writes: alarm well before that.
# Member clusters are named <group>-001, -002, ...: known at plan time, unlike the
# replication group's member_clusters attribute.
resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each = toset([for index in range(var.redis_num_cache_clusters) : format("%s-%03d", var.redis_replication_group_id, index + 1)])

  alarm_name          = "${var.name}-redis-memory-${each.key}"
  alarm_description   = "Redis memory above 80%: the broker refuses writes at 100% (noeviction)."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
