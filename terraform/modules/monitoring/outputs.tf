output "alarm_topic_arn" {
  description = "SNS topic receiving alarms and budget notifications."
  value       = aws_sns_topic.alarms.arn
}
