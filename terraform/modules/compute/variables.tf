variable "name" {
  description = "Prefix of resource names and the Deployment dimension of QueueDepth."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for logs, secrets and the image repository."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the ALB."
  type        = list(string)
}

variable "app_subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups by role (alb, app, serve_ingress, flower_ingress) from the network module."
  type        = map(string)
}

variable "ports" {
  description = "Listening ports of serve and flower."
  type = object({
    serve  = number
    flower = number
  })
}

variable "acm_certificate_arn" {
  description = "Certificate of the HTTPS listener."
  type        = string
}

variable "alb_tls_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
}

variable "alb_access_logs_bucket" {
  description = "Existing bucket for ALB access logs, or null."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "Regional WAFv2 web ACL to associate, or null."
  type        = string
}

variable "image_tag" {
  description = "Tag of the image in the stack's ECR repository."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64."
  type        = string
}

variable "execution_role_arn" {
  description = "ECS task execution role."
  type        = string
}

variable "task_role_arns" {
  description = "Task role per service: serve, worker, flower, migrate."
  type        = map(string)
}

variable "log_retention_days" {
  description = "Retention of the container log groups."
  type        = number
}

variable "container_insights" {
  description = "Enable ECS Container Insights."
  type        = bool
}

variable "serve" {
  description = "HTTP consumer sizing and scaling bounds."
  type = object({
    cpu        = number
    memory     = number
    min_count  = number
    max_count  = number
    cpu_target = number
  })
}

variable "worker" {
  description = "Worker sizing, capacity provider and queue-depth scaling."
  type = object({
    cpu                = number
    memory             = number
    min_count          = number
    max_count          = number
    queue_depth_target = number
    capacity_provider  = string
    concurrency        = number
  })
}

variable "flower_desired_count" {
  description = "0 or 1 Flower task."
  type        = number
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the QueueDepth metric the workers publish."
  type        = string
}

variable "app_environment" {
  description = "Plain (non-secret) SCO_* settings shared by every container."
  type        = map(string)
}

variable "app_secrets" {
  description = "Environment variable name -> Secrets Manager reference (ARN or ARN:json-key::) shared by every container."
  type        = map(string)
}
