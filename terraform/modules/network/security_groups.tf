# Every security group of the stack lives here, so "what can reach what" reads in one
# file. Only the ALB accepts traffic from outside the VPC.
#
#   internet --443/80--> alb --serve port--> serve_ingress (serve tasks)
#   flower_allowed_cidrs --flower port--> flower_ingress (flower task)
#   app (every task) --6379--> redis, --5432--> postgres, --443--> AWS APIs / Slack

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached to the ALB in modules/compute/alb.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-alb"
  description = "Public ALB: HTTPS and the HTTP-to-HTTPS redirect"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from allowed clients (Alertmanager, Slack)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers a 301 to HTTPS (listener has no forward action); closing it breaks clients that start on http.
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP, answered only with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_serve" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to the HTTP consumer tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.serve
  to_port                      = var.ports.serve
  referenced_security_group_id = aws_security_group.serve_ingress.id
}

# Shared by every Fargate task: what a task may reach.
resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5:Attached to every ECS service in modules/compute/services.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-app"
  description = "Every SmartCloudOps task: egress to Redis, PostgreSQL and HTTPS"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-app" }
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to AWS APIs (through NAT or endpoints) and Slack response URLs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "app_redis" {
  security_group_id            = aws_security_group.app.id
  description                  = "Redis (broker, guard state)"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.redis
  to_port                      = var.ports.redis
  referenced_security_group_id = aws_security_group.redis.id
}

resource "aws_vpc_security_group_egress_rule" "app_postgres" {
  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL (store, audit trail)"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.postgres
  to_port                      = var.ports.postgres
  referenced_security_group_id = aws_security_group.postgres.id
}

# Added to the serve tasks only: the ALB may reach them.
resource "aws_security_group" "serve_ingress" {
  #checkov:skip=CKV2_AWS_5:Attached to the serve service in modules/compute/services.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-serve-ingress"
  description = "HTTP consumer tasks: accept traffic from the ALB only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-serve-ingress" }
}

resource "aws_vpc_security_group_ingress_rule" "serve_from_alb" {
  security_group_id            = aws_security_group.serve_ingress.id
  description                  = "From the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.serve
  to_port                      = var.ports.serve
  referenced_security_group_id = aws_security_group.alb.id
}

# Added to the Flower task only: never public; private CIDRs (VPN) at most.
resource "aws_security_group" "flower_ingress" {
  #checkov:skip=CKV2_AWS_5:Attached to the flower service in modules/compute/services.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-flower-ingress"
  description = "Flower task: accept traffic from allowed private CIDRs only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-flower-ingress" }
}

resource "aws_vpc_security_group_ingress_rule" "flower_from_private" {
  for_each = toset(var.flower_allowed_cidrs)

  security_group_id = aws_security_group.flower_ingress.id
  description       = "Flower from an allowed private network"
  ip_protocol       = "tcp"
  from_port         = var.ports.flower
  to_port           = var.ports.flower
  cidr_ipv4         = each.value
}

resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5:Attached to the ElastiCache replication group in modules/datastores/redis.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-redis"
  description = "ElastiCache Redis: accept the app tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-redis" }
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_app" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the app tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.redis
  to_port                      = var.ports.redis
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "postgres" {
  #checkov:skip=CKV2_AWS_5:Attached to the RDS instance in modules/datastores/postgres.tf; checkov's graph does not follow a security group id through module outputs.
  name        = "${var.name}-postgres"
  description = "RDS PostgreSQL: accept the app tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-postgres" }
}

resource "aws_vpc_security_group_ingress_rule" "postgres_from_app" {
  security_group_id            = aws_security_group.postgres.id
  description                  = "PostgreSQL from the app tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.ports.postgres
  to_port                      = var.ports.postgres
  referenced_security_group_id = aws_security_group.app.id
}
