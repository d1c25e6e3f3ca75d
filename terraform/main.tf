# SmartCloudOps on AWS: HTTP consumer behind an HTTPS ALB, Celery workers scaling on
# queue depth, Flower on the inside, ElastiCache Redis and RDS PostgreSQL, all private.
# docs/deploy.md walks through variables, order of operations, scaling and idle cost.

data "aws_region" "current" {}

locals {
  metric_namespace = "SmartCloudOps"

  ports = {
    serve    = 8080
    flower   = 5555
    redis    = 6379
    postgres = 5432
  }

  # With egress_mode = "endpoints": what the tasks call. ECR/S3 pull the image, logs and
  # secretsmanager start the task, monitoring takes QueueDepth, ssmmessages carries ECS
  # Exec, and ec2/autoscaling/ecs/ssm/rds are the APIs remediation acts on.
  interface_endpoint_services = [
    "ecr.api", "ecr.dkr", "logs", "secretsmanager", "monitoring", "ssmmessages",
    "ec2", "autoscaling", "ecs", "ssm", "rds",
  ]

  # An explicit list, not "the first N available": the subnets must not move when AWS
  # adds a zone or one is impaired.
  availability_zones = length(var.availability_zones) > 0 ? var.availability_zones : ["${var.aws_region}a", "${var.aws_region}b"]

  remediation_regions = length(var.remediation_regions) > 0 ? var.remediation_regions : [data.aws_region.current.name]
}

module "iam" {
  source = "./modules/iam"

  name                = var.name
  remediation_regions = local.remediation_regions
  ssm_document_arns   = var.ssm_document_arns
  metric_namespace    = local.metric_namespace
  ecr_repository_arn  = module.compute.ecr_repository_arn
  log_group_arns      = [for service in ["serve", "worker", "flower", "migrate"] : module.compute.log_group_arns[service]]
  exec_log_group_arn  = module.compute.log_group_arns["ecs-exec"]
  secret_arns = [
    module.datastores.redis_secret_arn,
    module.datastores.db_master_secret_arn,
    module.compute.app_secret_arn,
  ]
}

module "network" {
  source = "./modules/network"

  name                        = var.name
  vpc_cidr                    = var.vpc_cidr
  availability_zones          = local.availability_zones
  egress_mode                 = var.egress_mode
  endpoint_az_count           = var.endpoint_az_count
  interface_endpoint_services = local.interface_endpoint_services
  kms_key_arn                 = module.iam.kms_key_arn
  log_retention_days          = var.log_retention_days
  flow_log_traffic_type       = var.flow_log_traffic_type
  alb_ingress_cidrs           = var.alb_ingress_cidrs
  flower_allowed_cidrs        = var.flower_allowed_cidrs
  ports                       = local.ports
}

module "datastores" {
  source = "./modules/datastores"

  name                       = var.name
  data_subnet_ids            = module.network.data_subnet_ids
  postgres_security_group_id = module.network.security_group_ids["postgres"]
  redis_security_group_id    = module.network.security_group_ids["redis"]
  kms_key_arn                = module.iam.kms_key_arn
  log_retention_days         = var.log_retention_days
  db                         = var.db
  redis                      = var.redis
  ports                      = { redis = local.ports.redis, postgres = local.ports.postgres }
}

module "compute" {
  source = "./modules/compute"

  name                   = var.name
  kms_key_arn            = module.iam.kms_key_arn
  vpc_id                 = module.network.vpc_id
  public_subnet_ids      = module.network.public_subnet_ids
  app_subnet_ids         = module.network.app_subnet_ids
  security_group_ids     = module.network.security_group_ids
  ports                  = { serve = local.ports.serve, flower = local.ports.flower }
  acm_certificate_arn    = var.acm_certificate_arn
  alb_tls_policy         = var.alb_tls_policy
  alb_access_logs_bucket = var.alb_access_logs_bucket
  waf_web_acl_arn        = var.waf_web_acl_arn
  image_tag              = var.image_tag
  cpu_architecture       = var.cpu_architecture
  execution_role_arn     = module.iam.execution_role_arn
  task_role_arns         = module.iam.task_role_arns
  log_retention_days     = var.log_retention_days
  container_insights     = var.container_insights
  serve                  = var.serve
  worker                 = var.worker
  flower_desired_count   = var.flower_desired_count
  metric_namespace       = local.metric_namespace

  app_environment = {
    SCO_DATABASE_URL          = module.datastores.database_url
    SCO_REMEDIATION_MODE      = var.remediation_mode
    SCO_LOG_FORMAT            = "json"
    SCO_DATA_DIR              = "/tmp/smartcloudops"
    SCO_CLOUDWATCH_NAMESPACE  = local.metric_namespace
    SCO_CLOUDWATCH_DEPLOYMENT = var.name
  }

  app_secrets = {
    SCO_BROKER_URL = "${module.datastores.redis_secret_arn}:broker_url::"
    SCO_REDIS_URL  = "${module.datastores.redis_secret_arn}:redis_url::"
    PGPASSWORD     = "${module.datastores.db_master_secret_arn}:password::"
  }
}

module "monitoring" {
  source = "./modules/monitoring"

  name                          = var.name
  kms_key_arn                   = module.iam.kms_key_arn
  alarm_emails                  = var.alarm_emails
  monthly_budget_usd            = var.monthly_budget_usd
  metric_namespace              = local.metric_namespace
  queue_backlog_alarm_threshold = var.queue_backlog_alarm_threshold
  alb_arn_suffix                = module.compute.alb_arn_suffix
  target_group_arn_suffix       = module.compute.target_group_arn_suffix
  db_instance_identifier        = module.datastores.db_instance_identifier
  redis_replication_group_id    = module.datastores.redis_replication_group_id
  redis_num_cache_clusters      = var.redis.num_cache_clusters
}
