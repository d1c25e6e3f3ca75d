# Application secrets, generated here and injected through ECS `secrets`:
#   webhook_token     -> SCO_WEBHOOK_TOKEN (Alertmanager's bearer token)
#   api_token         -> SCO_API_TOKEN (read and control API)
#   flower_password   -> SCO_FLOWER_PASSWORD (Flower's basic auth; the user is SCO_FLOWER_USERNAME)

resource "random_password" "app" {
  for_each = toset(["webhook_token", "api_token", "flower_password"])

  length  = 48
  special = false # tokens travel in HTTP headers and URLs: keep them URL-safe
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Generated tokens are rotated by replacing random_password.app and redeploying; no rotation Lambda to run or pay for.
  name                    = "${var.name}/app"
  description             = "SmartCloudOps webhook token, API token and Flower basic auth"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string = jsonencode({
    webhook_token     = random_password.app["webhook_token"].result
    api_token         = random_password.app["api_token"].result
    flower_password   = random_password.app["flower_password"].result
  })
}
