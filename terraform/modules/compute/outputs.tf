output "alb_dns_name" {
  description = "DNS name of the ALB: point a CNAME/alias of the certificate's name at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB (for a Route 53 alias record)."
  value       = aws_lb.this.zone_id
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the serve target group (CloudWatch dimension)."
  value       = aws_lb_target_group.serve.arn_suffix
}

output "ecr_repository_url" {
  description = "Push the image here (tag = var.image_tag)."
  value       = aws_ecr_repository.app.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the image repository."
  value       = aws_ecr_repository.app.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service names."
  value       = { serve = aws_ecs_service.serve.name, worker = aws_ecs_service.worker.name, flower = aws_ecs_service.flower.name }
}

output "migration_task_definition_arn" {
  description = "Task definition running `smartcloudops db upgrade`."
  value       = aws_ecs_task_definition.service["migrate"].arn
}

output "log_group_arns" {
  description = "Container log groups by service (serve, worker, flower, migrate, ecs-exec)."
  value       = { for key, group in aws_cloudwatch_log_group.service : key => group.arn }
}

output "app_secret_arn" {
  description = "Secret with webhook_token, api_token and flower_password."
  value       = aws_secretsmanager_secret.app.arn
}
