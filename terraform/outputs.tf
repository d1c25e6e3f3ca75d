output "alb_dns_name" {
  description = "DNS name of the ALB; create a CNAME/alias for the certificate's host name pointing here."
  value       = module.compute.alb_dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone of the ALB, for an alias record."
  value       = module.compute.alb_zone_id
}

output "ecr_repository_url" {
  description = "Push the SmartCloudOps image here, tagged with var.image_tag."
  value       = module.compute.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster running serve, worker and flower."
  value       = module.compute.cluster_name
}

output "service_names" {
  description = "ECS services by role."
  value       = module.compute.service_names
}

output "migration_command" {
  description = "Runs `smartcloudops db upgrade` once as a Fargate task; run it after every apply that changes the image."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${data.aws_region.current.name}",
    "--cluster ${module.compute.cluster_name}",
    "--launch-type FARGATE",
    "--task-definition ${module.compute.migration_task_definition_arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.network.app_subnet_ids)}],securityGroups=[${module.network.security_group_ids["app"]}],assignPublicIp=DISABLED}'",
  ])
}

output "app_secret_arn" {
  description = "Secret holding webhook_token (Alertmanager's bearer token), api_token and flower_password."
  value       = module.compute.app_secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of alarms and budget notifications (subscribe a pager here)."
  value       = module.monitoring.alarm_topic_arn
}

output "kms_key_arn" {
  description = "Customer-managed KMS key of the stack."
  value       = module.iam.kms_key_arn
}

output "nat_public_ip" {
  description = "Egress address of the tasks with egress_mode = nat (null otherwise)."
  value       = module.network.nat_public_ip
}
