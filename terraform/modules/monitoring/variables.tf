variable "name" {
  description = "Prefix of resource names and the Deployment dimension of QueueDepth."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key encrypting the SNS topic."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail subscribers of the alarm topic."
  type        = list(string)
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD."
  type        = number
}

variable "metric_namespace" {
  description = "Namespace of the QueueDepth metric."
  type        = string
}

variable "queue_backlog_alarm_threshold" {
  description = "QueueDepth above which the backlog alarm fires after 15 minutes."
  type        = number
}

variable "alb_arn_suffix" {
  description = "ALB dimension for the 5xx and health alarms."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "Target group dimension for the health alarm."
  type        = string
}

variable "db_instance_identifier" {
  description = "RDS instance for the storage and CPU alarms."
  type        = string
}

variable "redis_replication_group_id" {
  description = "ElastiCache replication group whose nodes get a memory alarm."
  type        = string
}

variable "redis_num_cache_clusters" {
  description = "Number of nodes in the replication group."
  type        = number
}
