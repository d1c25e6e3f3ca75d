output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (ALB only)."
  value       = aws_subnet.public[*].id
}

output "app_subnet_ids" {
  description = "Private subnets of the Fargate tasks."
  value       = aws_subnet.app[*].id
}

output "app_subnet_cidrs" {
  description = "CIDR blocks of the app subnets."
  value       = aws_subnet.app[*].cidr_block
}

output "data_subnet_ids" {
  description = "Private, isolated subnets of RDS and ElastiCache."
  value       = aws_subnet.data[*].id
}

output "nat_public_ip" {
  description = "Egress address of the tasks (null with egress_mode = endpoints): allowlist it where needed."
  value       = one(aws_eip.nat[*].public_ip)
}

output "security_group_ids" {
  description = "Security groups by role: alb, app, serve_ingress, flower_ingress, redis, postgres."
  value = {
    alb            = aws_security_group.alb.id
    app            = aws_security_group.app.id
    serve_ingress  = aws_security_group.serve_ingress.id
    flower_ingress = aws_security_group.flower_ingress.id
    redis          = aws_security_group.redis.id
    postgres       = aws_security_group.postgres.id
  }
}
