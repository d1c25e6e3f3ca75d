variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "data_subnet_ids" {
  description = "Private, isolated subnets for RDS and ElastiCache."
  type        = list(string)
}

variable "postgres_security_group_id" {
  description = "Security group of the RDS instance."
  type        = string
}

variable "redis_security_group_id" {
  description = "Security group of the ElastiCache replication group."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for storage, secrets and log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the Redis log groups."
  type        = number
}

variable "db" {
  description = "RDS PostgreSQL settings (see the root variable `db`)."
  type = object({
    instance_class        = string
    engine_version        = string
    allocated_storage     = number
    max_allocated_storage = number
    backup_retention_days = number
    multi_az              = bool
    deletion_protection   = bool
    monitoring_interval   = number
  })
}

variable "redis" {
  description = "ElastiCache settings (see the root variable `redis`)."
  type = object({
    node_type          = string
    engine_version     = string
    num_cache_clusters = number
    snapshot_days      = number
  })
}

variable "ports" {
  description = "Listening ports of redis and postgres."
  type = object({
    redis    = number
    postgres = number
  })
}
