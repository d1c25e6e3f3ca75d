# One image, four roles: the same container runs `smartcloudops serve | worker | flower |
# db upgrade`. Settings come from SCO_* variables; anything secret arrives through ECS
# `secrets` from Secrets Manager, never as plain environment.

data "aws_region" "current" {}

locals {
  image          = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
  app_secret_arn = aws_secretsmanager_secret.app.arn
  tmp_volume     = "tmp"

  shared_secrets = merge(var.app_secrets, {
    SCO_WEBHOOK_TOKEN = "${local.app_secret_arn}:webhook_token::"
    SCO_API_TOKEN     = "${local.app_secret_arn}:api_token::"
  })

  services = {
    serve = {
      command = ["serve"]
      cpu     = var.serve.cpu
      memory  = var.serve.memory
      port    = var.ports.serve
      environment = {
        SCO_HTTP_HOST = "0.0.0.0"
        SCO_HTTP_PORT = tostring(var.ports.serve)
      }
      secrets      = {}
      health_url   = "http://127.0.0.1:${var.ports.serve}/healthz"
      stop_timeout = 30
    }
    worker = {
      command = ["worker"]
      cpu     = var.worker.cpu
      memory  = var.worker.memory
      port    = null
      environment = {
        SCO_WORKER_CONCURRENCY = tostring(var.worker.concurrency)
      }
      secrets    = {}
      health_url = null
      # Fargate's maximum: a warm shutdown finishes in-flight tasks (acks_late makes
      # anything cut short redeliver), also on a Fargate Spot interruption.
      stop_timeout = 120
    }
    flower = {
      command = ["flower"]
      cpu     = 256
      memory  = 512
      port    = var.ports.flower
      environment = {
        SCO_FLOWER_HOST     = "0.0.0.0"
        SCO_FLOWER_PORT     = tostring(var.ports.flower)
        SCO_FLOWER_USERNAME = "admin"
      }
      # `smartcloudops flower` always passes --basic-auth: Flower never runs without it.
      secrets = {
        SCO_FLOWER_PASSWORD = "${local.app_secret_arn}:flower_password::"
      }
      health_url   = "http://127.0.0.1:${var.ports.flower}/healthcheck"
      stop_timeout = 30
    }
    migrate = {
      command      = ["db", "upgrade"]
      cpu          = 256
      memory       = 1024
      port         = null
      environment  = {}
      secrets      = {}
      health_url   = null
      stop_timeout = 30
    }
  }

  # Health probe without curl in the image: the interpreter is already there.
  health_probe = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)"
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; scratch space (SCO_DATA_DIR, tempfiles) is task storage.
  volume {
    name = local.tmp_volume
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = local.image
    essential              = true
    command                = each.value.command
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    stopTimeout            = each.value.stop_timeout
    linuxParameters        = { initProcessEnabled = true }

    environment = [
      for key, value in merge(var.app_environment, each.value.environment) : { name = key, value = value }
    ]
    secrets = [
      for key, reference in merge(local.shared_secrets, each.value.secrets) : { name = key, valueFrom = reference }
    ]

    portMappings = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
    mountPoints  = [{ sourceVolume = local.tmp_volume, containerPath = "/tmp", readOnly = false }]

    healthCheck = each.value.health_url == null ? null : {
      command     = ["CMD", "python", "-c", local.health_probe, each.value.health_url]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = each.key
      }
    }
  }])
}
