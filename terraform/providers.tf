provider "aws" {
  region = var.aws_region

  default_tags {
    # Deliberately NOT `smartcloudops:managed`: the remediation role acts only on
    # resources carrying that tag, and SmartCloudOps must not restart its own stack
    # unless an operator tags one of its resources on purpose.
    tags = merge(var.tags, {
      "smartcloudops:deployment" = var.name
      "managed-by"               = "terraform"
    })
  }
}
