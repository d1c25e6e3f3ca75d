# ---------------------------------------------------------------- identity and placement

variable "name" {
  description = "Deployment name: prefix of every resource name and the `Deployment` dimension of the QueueDepth metric."
  type        = string
  default     = "smartcloudops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,22}[a-z0-9]$", var.name))
    error_message = "name must be 4-24 characters of lower-case letters, digits and hyphens, starting with a letter (it prefixes ALB, RDS and ElastiCache names, which have short limits)."
  }
}

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "tags" {
  description = "Extra tags on every resource (cost allocation, owner). Must not contain smartcloudops:managed."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.tags), "smartcloudops:managed")
    error_message = "tags must not set smartcloudops:managed: that tag grants the remediation role power over a resource."
  }
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into public (ALB), private app and private data subnets."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR of size /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zone names to use (2 or 3: the ALB and the RDS subnet group need two). Empty means <region>a and <region>b."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || (length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3)
    error_message = "availability_zones must be empty or name 2 or 3 zones."
  }

  validation {
    condition     = alltrue([for zone in var.availability_zones : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", zone))])
    error_message = "availability_zones must contain zone names such as us-east-1a."
  }
}

variable "egress_mode" {
  description = "How private tasks reach AWS APIs and Slack: \"nat\" (one NAT gateway, cheapest with the full feature set) or \"endpoints\" (interface VPC endpoints only, no internet egress at all: Slack replies cannot leave)."
  type        = string
  default     = "nat"

  validation {
    condition     = contains(["nat", "endpoints"], var.egress_mode)
    error_message = "egress_mode must be \"nat\" or \"endpoints\"."
  }
}

variable "endpoint_az_count" {
  description = "With egress_mode = \"endpoints\": in how many AZs each interface endpoint gets a network interface (each costs $0.01/h per AZ)."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_az_count >= 1 && var.endpoint_az_count <= 3
    error_message = "endpoint_az_count must be between 1 and 3."
  }
}

variable "flow_log_traffic_type" {
  description = "Which traffic the VPC flow log records: REJECT (cheap, enough for security review), ACCEPT or ALL."
  type        = string
  default     = "REJECT"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

# ---------------------------------------------------------------- edge (ALB)

variable "acm_certificate_arn" {
  description = "ARN of the ACM certificate (same region) served by the HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/UUID)."
  }
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDRs allowed to reach the ALB. Slack slash commands come from the internet, hence the default; narrow it to your Alertmanager egress if you do not use chat."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for cidr in var.alb_ingress_cidrs : can(cidrhost(cidr, 0))])
    error_message = "alb_ingress_cidrs must be a non-empty list of valid IPv4 CIDRs."
  }
}

variable "alb_tls_policy" {
  description = "TLS security policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]|FS-1-2)", var.alb_tls_policy))
    error_message = "alb_tls_policy must be a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-1-2-*, ELBSecurityPolicy-TLS13-1-3-* or ELBSecurityPolicy-FS-1-2-*)."
  }
}

variable "alb_access_logs_bucket" {
  description = "Optional existing S3 bucket (SSE-S3, with the ELB log-delivery bucket policy) for ALB access logs; null disables them."
  type        = string
  default     = null

  validation {
    condition     = var.alb_access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.alb_access_logs_bucket))
    error_message = "alb_access_logs_bucket must be null or a valid S3 bucket name."
  }
}

variable "waf_web_acl_arn" {
  description = "Optional regional WAFv2 web ACL to associate with the ALB; null associates none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be null or a regional WAFv2 web ACL ARN."
  }
}

# ---------------------------------------------------------------- image and services

variable "image_tag" {
  description = "Tag of the SmartCloudOps image in the ECR repository this stack creates (immutable tags: use a version or a git sha)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid Docker tag other than \"latest\" (the repository's tags are immutable)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image and the Fargate tasks: X86_64, or ARM64 (Graviton, about 20% cheaper; build the image for linux/arm64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "serve" {
  description = "HTTP consumer (`smartcloudops serve`): Fargate size and the bounds of its CPU target tracking."
  type = object({
    cpu          = optional(number, 256)
    memory       = optional(number, 512)
    min_count    = optional(number, 1)
    max_count    = optional(number, 4)
    cpu_target   = optional(number, 60)
  })
  default = {}

  validation {
    condition     = var.serve.min_count >= 1 && var.serve.max_count >= var.serve.min_count && var.serve.max_count <= 50
    error_message = "serve needs 1 <= min_count <= max_count <= 50 (the webhook must always answer)."
  }

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.serve.cpu) && var.serve.memory >= 512 && var.serve.cpu_target >= 10 && var.serve.cpu_target <= 90
    error_message = "serve.cpu must be a Fargate CPU size (256..4096), memory at least 512 MiB, cpu_target between 10 and 90."
  }
}

variable "worker" {
  description = "Celery workers (`smartcloudops worker`): Fargate size, capacity provider, and target tracking on the SmartCloudOps/QueueDepth metric."
  type = object({
    cpu                = optional(number, 512)
    memory             = optional(number, 1024)
    min_count          = optional(number, 1)
    max_count          = optional(number, 10)
    queue_depth_target = optional(number, 100)
    capacity_provider  = optional(string, "FARGATE_SPOT")
    concurrency        = optional(number, 2)
  })
  default = {}

  validation {
    # Target tracking cannot scale out from zero tasks, and the workers publish the metric.
    condition     = var.worker.min_count >= 1 && var.worker.max_count >= var.worker.min_count && var.worker.max_count <= 100
    error_message = "worker needs 1 <= min_count <= max_count <= 100 (target tracking cannot scale out from zero, and the workers publish QueueDepth)."
  }

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.worker.capacity_provider) && var.worker.queue_depth_target > 0 && var.worker.concurrency >= 1 && var.worker.concurrency <= 64
    error_message = "worker.capacity_provider must be FARGATE or FARGATE_SPOT, queue_depth_target > 0, concurrency 1..64."
  }

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker.cpu) && var.worker.memory >= 512
    error_message = "worker.cpu must be a Fargate CPU size and memory at least 512 MiB."
  }
}

variable "flower_desired_count" {
  description = "Number of Flower tasks (0 or 1). Flower keeps task history in memory, so starting it on demand is fine."
  type        = number
  default     = 1

  validation {
    condition     = contains([0, 1], var.flower_desired_count)
    error_message = "flower_desired_count must be 0 or 1."
  }
}

variable "flower_allowed_cidrs" {
  description = "Private IPv4 CIDRs (VPN, peered VPC) allowed to reach Flower on port 5555; empty means reachable only through ECS Exec port forwarding."
  type        = list(string)
  default     = []

  validation {
    # RFC 1918 only: the network address (as Terraform normalises it) must be private
    # and the block no wider than 10.0.0.0/8, so 0.0.0.0/0 and public ranges are refused.
    condition = alltrue([
      for cidr in var.flower_allowed_cidrs :
      can(regex("^(10\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.)", cidrhost(cidr, 0))) && try(tonumber(split("/", cidr)[1]) >= 8, false)
    ])
    error_message = "flower_allowed_cidrs must be private (RFC 1918) CIDRs no wider than /8: Flower is never public."
  }
}

variable "container_insights" {
  description = "Enable ECS Container Insights (useful, but billed as custom metrics: roughly $10/month for this stack)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- remediation

variable "remediation_mode" {
  description = "SCO_REMEDIATION_MODE: dry_run records what would be called; execute acts for real."
  type        = string
  default     = "dry_run"

  validation {
    condition     = contains(["dry_run", "execute"], var.remediation_mode)
    error_message = "remediation_mode must be dry_run or execute."
  }
}

variable "remediation_regions" {
  description = "Regions whose tagged resources the remediation role may act on; empty means aws_region only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for region in var.remediation_regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "remediation_regions must contain region names such as us-east-1."
  }
}

variable "ssm_document_arns" {
  description = "Allowlisted SSM document ARNs the remediation role may send (e.g. your restart-systemd-unit document); empty disables ssm:SendCommand."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.ssm_document_arns : can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:([0-9]{12})?:document/[A-Za-z0-9_.-]+$", arn))])
    error_message = "ssm_document_arns must be explicit SSM document ARNs (no wildcards)."
  }

  validation {
    # AWS-RunShellScript and AWS-RunPowerShellScript run arbitrary text: the safety model forbids them.
    condition     = !anytrue([for arn in var.ssm_document_arns : can(regex("document/AWS-Run(PowerShell|Shell)Script$", arn))])
    error_message = "ssm_document_arns must not contain AWS-RunShellScript or AWS-RunPowerShellScript: remediation never runs free text."
  }
}

# ---------------------------------------------------------------- data stores

variable "db" {
  description = "RDS PostgreSQL settings."
  type = object({
    instance_class        = optional(string, "db.t4g.micro")
    engine_version        = optional(string, "16")
    allocated_storage     = optional(number, 20)
    max_allocated_storage = optional(number, 100)
    backup_retention_days = optional(number, 7)
    multi_az              = optional(bool, false)
    deletion_protection   = optional(bool, true)
    monitoring_interval   = optional(number, 60)
  })
  default = {}

  validation {
    condition     = can(regex("^db\\.", var.db.instance_class)) && can(regex("^1[4-7](\\.[0-9]+)?$", var.db.engine_version))
    error_message = "db.instance_class must start with db. and db.engine_version must be PostgreSQL 14-17 (e.g. \"16\" or \"16.4\")."
  }

  validation {
    condition     = var.db.allocated_storage >= 20 && var.db.max_allocated_storage >= var.db.allocated_storage
    error_message = "db.allocated_storage must be at least 20 GiB and max_allocated_storage at least allocated_storage."
  }

  validation {
    condition     = var.db.backup_retention_days >= 1 && var.db.backup_retention_days <= 35
    error_message = "db.backup_retention_days must be between 1 and 35: backups are not optional."
  }

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.db.monitoring_interval)
    error_message = "db.monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60 seconds."
  }
}

variable "redis" {
  description = "ElastiCache Redis (broker and guard state) settings."
  type = object({
    node_type          = optional(string, "cache.t4g.micro")
    engine_version     = optional(string, "7.1")
    num_cache_clusters = optional(number, 1)
    snapshot_days      = optional(number, 1)
  })
  default = {}

  validation {
    condition     = can(regex("^cache\\.", var.redis.node_type)) && can(regex("^7\\.[0-9]+$", var.redis.engine_version))
    error_message = "redis.node_type must start with cache. and redis.engine_version must be 7.x."
  }

  validation {
    condition     = var.redis.num_cache_clusters >= 1 && var.redis.num_cache_clusters <= 6 && var.redis.snapshot_days >= 0 && var.redis.snapshot_days <= 35
    error_message = "redis.num_cache_clusters must be 1-6 (2+ turns on automatic failover) and snapshot_days 0-35."
  }
}

# ---------------------------------------------------------------- monitoring and cost

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group of the stack."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ..., 365, ..., 3653)."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "alarm_emails must contain e-mail addresses."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD for the account; alerts at 80% actual and 100% forecast."
  type        = number
  default     = 150

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "queue_backlog_alarm_threshold" {
  description = "Alarm when SmartCloudOps/QueueDepth stays above this many messages for 15 minutes."
  type        = number
  default     = 1000

  validation {
    condition     = var.queue_backlog_alarm_threshold > 0
    error_message = "queue_backlog_alarm_threshold must be positive."
  }
}
