output "database_url" {
  description = "SCO_DATABASE_URL without a password (PGPASSWORD comes from the RDS-managed secret); TLS required."
  value       = "postgresql+psycopg://${aws_db_instance.this.username}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${aws_db_instance.this.db_name}?sslmode=require"
}

output "db_master_secret_arn" {
  description = "ARN of the RDS-managed secret holding the master username and password."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "db_instance_identifier" {
  description = "Identifier of the RDS instance (for alarms)."
  value       = aws_db_instance.this.identifier
}

output "redis_secret_arn" {
  description = "ARN of the secret with broker_url and redis_url keys."
  value       = aws_secretsmanager_secret.redis.arn
}

output "redis_replication_group_id" {
  description = "ID of the ElastiCache replication group (for alarms)."
  value       = aws_elasticache_replication_group.this.replication_group_id
}
