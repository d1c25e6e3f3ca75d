# Connection settings the containers receive through ECS `secrets` (never plain env):
#   redis secret  -> SCO_BROKER_URL, SCO_REDIS_URL (both carry the auth token)
#   RDS secret    -> PGPASSWORD (libpq reads it; SCO_DATABASE_URL carries no password)

locals {
  redis_host = aws_elasticache_replication_group.this.primary_endpoint_address
  # rediss:// with certificate verification: ElastiCache presents an Amazon-issued
  # certificate that the image's CA bundle trusts; Celery requires ssl_cert_reqs here.
  redis_base = "rediss://:${random_password.redis_auth.result}@${local.redis_host}:${var.ports.redis}"
}

resource "aws_secretsmanager_secret" "redis" {
  #checkov:skip=CKV2_AWS_57:The auth token is rotated by Terraform (replace random_password.redis_auth; auth_token_update_strategy = ROTATE keeps both valid), not by a rotation Lambda.
  name                    = "${var.name}/redis"
  description             = "Broker and guard-state URLs of ElastiCache Redis (with the auth token)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id = aws_secretsmanager_secret.redis.id
  secret_string = jsonencode({
    broker_url = "${local.redis_base}/0?ssl_cert_reqs=required"
    redis_url  = "${local.redis_base}/1?ssl_cert_reqs=required"
  })
}
