# Private tasks need AWS APIs (ECR, Logs, Secrets Manager, CloudWatch, and the APIs the
# remediation acts on) and, for Slack replies, the internet. Two ways, chosen by
# egress_mode; docs/deploy.md has the cost comparison.

# Image layers come from S3: the gateway endpoint is free and keeps that traffic off the
# NAT gateway's per-GB charge in both modes.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  tags = { Name = "${var.name}-s3" }
}

resource "aws_eip" "nat" {
  count  = local.use_nat ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${var.name}-nat" }
}

# A single NAT gateway: one AZ losing it stops egress until it returns, which the
# pipeline survives (consumers keep accepting, workers retry AWS calls with backoff).
resource "aws_nat_gateway" "this" {
  count = local.use_nat ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = { Name = var.name }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route" "private_nat" {
  count = local.use_nat ? 1 : 0

  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

resource "aws_security_group" "endpoints" {
  count = local.use_nat ? 0 : 1

  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from the app subnets only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count = local.use_nat ? 0 : length(local.app_cidrs)

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from app subnet ${count.index}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = local.app_cidrs[count.index]
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.use_nat ? toset([]) : toset(var.interface_endpoint_services)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = slice(aws_subnet.app[*].id, 0, min(var.endpoint_az_count, length(aws_subnet.app)))
  security_group_ids  = [aws_security_group.endpoints[0].id]

  tags = { Name = "${var.name}-${each.value}" }
}
