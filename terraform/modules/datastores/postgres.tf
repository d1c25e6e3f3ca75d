# RDS PostgreSQL: the store and the append-only audit trail. The master password is
# generated, stored and rotated by RDS in Secrets Manager (manage_master_user_password);
# Terraform never sees it.

locals {
  db_name     = "smartcloudops"
  db_username = "smartcloudops"
  db_family   = "postgres${split(".", var.db.engine_version)[0]}"
}

resource "aws_db_subnet_group" "this" {
  name        = "${var.name}-postgres"
  description = "Isolated data subnets"
  subnet_ids  = var.data_subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-${local.db_family}-"
  family      = local.db_family
  description = "TLS required; slow statements and connections logged"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500" # ms: slow statements only; logging every statement would log payloads
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    sid     = "RdsEnhancedMonitoringAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  count = var.db.monitoring_interval > 0 ? 1 : 0

  name               = "${var.name}-rds-monitoring"
  description        = "RDS enhanced monitoring publishes OS metrics"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  count = var.db.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.rds_monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_partition" "current" {}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_157:Multi-AZ doubles the idle cost; it is one variable away (db.multi_az = true) and backups cover the single-AZ case.
  #checkov:skip=CKV_AWS_353:Performance Insights is off by default to keep idle cost near zero on db.t4g.micro; enable it in the console or here when tuning.
  #checkov:skip=CKV_AWS_354:Performance Insights is not enabled (see CKV_AWS_353), so there is nothing to encrypt.
  identifier     = "${var.name}-postgres"
  engine         = "postgres"
  engine_version = var.db.engine_version
  instance_class = var.db.instance_class

  db_name                             = local.db_name
  username                            = local.db_username
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  iam_database_authentication_enabled = true

  allocated_storage     = var.db.allocated_storage
  max_allocated_storage = var.db.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.postgres_security_group_id]
  port                   = var.ports.postgres
  publicly_accessible    = false
  multi_az               = var.db.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.db.backup_retention_days
  backup_window             = "03:00-03:30"
  maintenance_window        = "sun:04:00-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-postgres-final"
  delete_automated_backups  = false

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  monitoring_interval             = var.db.monitoring_interval
  monitoring_role_arn             = one(aws_iam_role.rds_monitoring[*].arn)
  performance_insights_enabled    = false

  depends_on = [aws_cloudwatch_log_group.postgres]
}

# RDS creates the postgresql/upgrade log groups on its own without retention or KMS;
# creating them first with the right settings is the documented way to control that.
resource "aws_cloudwatch_log_group" "postgres" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${var.name}-postgres/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}
