output "kms_key_arn" {
  description = "ARN of the stack's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "execution_role_arn" {
  description = "ECS task execution role (pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arns" {
  description = "Task role per service: serve, worker, flower, migrate."
  value       = { for service, role in aws_iam_role.task : service => role.arn }
}
