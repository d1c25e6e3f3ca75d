locals {
  task_subnets = var.app_subnet_ids
}

resource "aws_ecs_service" "serve" {
  name                              = "serve"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.service["serve"].arn
  desired_count                     = var.serve.min_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true

  network_configuration {
    subnets          = local.task_subnets
    security_groups  = [var.security_group_ids["app"], var.security_group_ids["serve_ingress"]]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.serve.arn
    container_name   = "serve"
    container_port   = var.ports.serve
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by Application Auto Scaling
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "worker" {
  name                    = "worker"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.service["worker"].arn
  desired_count           = var.worker.min_count
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  # Workers ack late and are idempotent, so a Spot interruption loses and duplicates
  # nothing: Spot is the default for them.
  capacity_provider_strategy {
    capacity_provider = var.worker.capacity_provider
    weight            = 1
  }

  network_configuration {
    subnets          = local.task_subnets
    security_groups  = [var.security_group_ids["app"]]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by Application Auto Scaling
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_ecs_service" "flower" {
  name                    = "flower"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.service["flower"].arn
  desired_count           = var.flower_desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  enable_execute_command  = true # reach it by SSM port forwarding; it has no load balancer

  network_configuration {
    subnets          = local.task_subnets
    security_groups  = [var.security_group_ids["app"], var.security_group_ids["flower_ingress"]]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}
