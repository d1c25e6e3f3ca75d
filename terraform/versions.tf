terraform {
  # 1.6 brings the test framework and the validation features the variables rely on.
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: `manage_master_user_password`, ElastiCache `auth_token_update_strategy`
      # and the `aws_vpc_security_group_*_rule` resources all exist from 5.31 on.
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State: see docs/deploy.md ("Remote state"). Add a backend "s3" block here, or pass
  # it with `terraform init -backend-config=backend.hcl`, once the state bucket exists.
}
