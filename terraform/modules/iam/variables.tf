variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "remediation_regions" {
  description = "Regions whose tagged resources the remediation role may act on."
  type        = list(string)

  validation {
    condition     = length(var.remediation_regions) > 0
    error_message = "remediation_regions must name at least one region."
  }
}

variable "ssm_document_arns" {
  description = "Allowlisted SSM document ARNs for ssm:SendCommand; empty grants no SendCommand."
  type        = list(string)
}

variable "metric_namespace" {
  description = "The only CloudWatch namespace the workers may publish to."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull from."
  type        = string
}

variable "log_group_arns" {
  description = "Log groups the execution role may write container logs to."
  type        = list(string)
}

variable "secret_arns" {
  description = "Secrets Manager ARNs (without JSON-key suffix) the execution role may inject into containers."
  type        = list(string)
}

variable "exec_log_group_arn" {
  description = "Log group receiving ECS Exec session logs (Flower port forwarding)."
  type        = string
}
