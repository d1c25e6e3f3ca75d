# ElastiCache Redis: the Celery broker and the guards' atomic state. Cluster mode stays
# disabled because Celery's Redis transport does not speak Redis Cluster.

resource "random_password" "redis_auth" {
  length  = 64
  special = false # ElastiCache forbids some punctuation; 64 alphanumerics is ~380 bits
}

resource "aws_elasticache_subnet_group" "this" {
  name        = "${var.name}-redis"
  description = "Isolated data subnets"
  subnet_ids  = var.data_subnet_ids
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-redis${split(".", var.redis.engine_version)[0]}"
  family      = "redis${split(".", var.redis.engine_version)[0]}"
  description = "Broker: never evict queued messages"

  # A broker that evicts keys under memory pressure silently drops tasks; refusing
  # writes instead makes the webhook answer 503 and Alertmanager retry.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "aws_cloudwatch_log_group" "redis" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/${var.name}/redis/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV2_AWS_50:One cache.t4g.micro node by default for near-zero idle cost; redis.num_cache_clusters >= 2 turns on Multi-AZ automatic failover. Queued messages survive in the daily snapshot and Alertmanager retries.
  replication_group_id = "${var.name}-redis"
  description          = "SmartCloudOps broker and guard state"
  engine               = "redis"
  engine_version       = var.redis.engine_version
  node_type            = var.redis.node_type
  port                 = var.ports.redis
  parameter_group_name = aws_elasticache_parameter_group.this.name

  num_cache_clusters         = var.redis.num_cache_clusters
  automatic_failover_enabled = var.redis.num_cache_clusters > 1
  multi_az_enabled           = var.redis.num_cache_clusters > 1

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [var.redis_security_group_id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.redis_auth.result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.redis.snapshot_days
  snapshot_window            = "02:00-03:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  dynamic "log_delivery_configuration" {
    for_each = aws_cloudwatch_log_group.redis

    content {
      destination      = log_delivery_configuration.value.name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.key
    }
  }
}
