variable "name" {
  description = "Prefix of resource names."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zone names to spread the subnets over."
  type        = list(string)
}

variable "egress_mode" {
  description = "\"nat\" (one NAT gateway) or \"endpoints\" (interface VPC endpoints, no internet egress)."
  type        = string

  validation {
    condition     = contains(["nat", "endpoints"], var.egress_mode)
    error_message = "egress_mode must be \"nat\" or \"endpoints\"."
  }
}

variable "endpoint_az_count" {
  description = "In how many AZs each interface endpoint gets a network interface."
  type        = number
}

variable "interface_endpoint_services" {
  description = "AWS service short names reached through interface endpoints when egress_mode = \"endpoints\"."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the flow-log log group."
  type        = number
}

variable "flow_log_traffic_type" {
  description = "ACCEPT, REJECT or ALL."
  type        = string
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDRs allowed to reach the ALB on 80 (redirect only) and 443."
  type        = list(string)
}

variable "flower_allowed_cidrs" {
  description = "Private IPv4 CIDRs allowed to reach Flower on its port."
  type        = list(string)

  validation {
    condition     = !contains(var.flower_allowed_cidrs, "0.0.0.0/0")
    error_message = "Flower is never public."
  }
}

variable "ports" {
  description = "Listening ports: serve (HTTP consumer), flower, redis, postgres."
  type = object({
    serve    = number
    flower   = number
    redis    = number
    postgres = number
  })
}
