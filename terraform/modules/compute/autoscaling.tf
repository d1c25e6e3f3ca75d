# Workers follow the backlog: the workers publish SmartCloudOps/QueueDepth (messages
# waiting in the pipeline queues, dimension Deployment = var.name) every minute, and
# target tracking keeps it near worker.queue_depth_target. The HTTP consumer follows CPU.

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker.min_count
  max_capacity       = var.worker.max_count
}

resource "aws_appautoscaling_policy" "worker_queue_depth" {
  name               = "${var.name}-worker-queue-depth"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker.queue_depth_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300 # drain slowly: a burst of alerts often comes back

    customized_metric_specification {
      namespace   = var.metric_namespace
      metric_name = "QueueDepth"
      statistic   = "Average"
      unit        = "Count"

      dimensions {
        name  = "Deployment"
        value = var.name
      }
    }
  }
}

resource "aws_appautoscaling_target" "serve" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.serve.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.serve.min_count
  max_capacity       = var.serve.max_count
}

resource "aws_appautoscaling_policy" "serve_cpu" {
  name               = "${var.name}-serve-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.serve.service_namespace
  resource_id        = aws_appautoscaling_target.serve.resource_id
  scalable_dimension = aws_appautoscaling_target.serve.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.serve.cpu_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
