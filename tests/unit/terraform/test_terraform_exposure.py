"""Only the ALB faces the internet; data stores are private and encrypted."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from sco_terraform_config import Block, Configuration, world_open_ingress


@pytest.fixture(scope="module")
def config() -> Configuration:
    return Configuration()


def _one(config: Configuration, type_: str) -> Block:
    (block,) = config.resources(type_)
    return block


def test_the_alb_is_the_only_load_balancer_and_it_is_the_one_internet_facing_resource(config: Configuration) -> None:
    balancers = config.resources("aws_lb") + config.resources("aws_alb") + config.resources("aws_elb")
    assert [(block.name, block.body["internal"]) for block in balancers] == [("this", False)]
    assert balancers[0].body["security_groups"] == ['${var.security_group_ids["alb"]}']


def test_only_the_alb_security_group_admits_the_internet(config: Configuration) -> None:
    assert world_open_ingress(config) == []
    alb_rules = [
        block.name
        for block in config.resources("aws_vpc_security_group_ingress_rule")
        if block.body["security_group_id"] == "${aws_security_group.alb.id}"
    ]
    assert sorted(alb_rules) == ["alb_http_redirect", "alb_https"]


def test_world_open_ingress_checker_catches_a_public_database(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        """
        resource "aws_vpc_security_group_ingress_rule" "postgres_from_anywhere" {
          security_group_id = aws_security_group.postgres.id
          ip_protocol       = "tcp"
          from_port         = 5432
          to_port           = 5432
          cidr_ipv4         = "0.0.0.0/0"
        }
        resource "aws_security_group" "redis" {
          ingress {
            from_port   = 6379
            to_port     = 6379
            protocol    = "tcp"
            cidr_blocks = ["0.0.0.0/0"]
          }
        }
        """
    )
    assert world_open_ingress(Configuration(tmp_path)) == [
        "root:resource.aws_vpc_security_group_ingress_rule.postgres_from_anywhere",
        "root:resource.aws_security_group.redis",
    ]


def test_data_stores_admit_only_the_app_tasks(config: Configuration) -> None:
    rules = {block.name: block.body for block in config.resources("aws_vpc_security_group_ingress_rule")}
    for name, group in (("redis_from_app", "redis"), ("postgres_from_app", "postgres")):
        assert rules[name]["security_group_id"] == f"${{aws_security_group.{group}.id}}"
        assert rules[name]["referenced_security_group_id"] == "${aws_security_group.app.id}"
        assert "cidr_ipv4" not in rules[name]


def _flower_cidr_is_accepted(condition: str, cidr: str) -> bool:
    """Evaluate the variable's validation for one CIDR, as Terraform would."""
    pattern = re.search(r'regex\("(.+?)", cidrhost', condition).group(1).replace("\\\\", "\\")
    network = ipaddress.ip_network(cidr, strict=False)
    return re.search(pattern, str(network.network_address)) is not None and network.prefixlen >= 8


def test_flower_is_never_public(config: Configuration) -> None:
    flower_cidrs = config.variables()["flower_allowed_cidrs"]
    assert flower_cidrs["default"] == []
    (service,) = [block for block in config.resources("aws_ecs_service") if block.name == "flower"]
    assert "load_balancer" not in service.body


@pytest.mark.parametrize(
    ("cidr", "accepted"),
    [
        ("10.8.0.0/16", True),
        ("172.20.0.0/16", True),
        ("192.168.10.0/24", True),
        ("0.0.0.0/0", False),
        ("8.8.8.0/24", False),
        ("172.32.0.0/16", False),
        ("172.16.0.0/8", False),
        ("10.0.0.0/7", False),
    ],
)
def test_flower_cidrs_must_be_private(config: Configuration, cidr: str, accepted: bool) -> None:
    condition = config.variables()["flower_allowed_cidrs"]["validation"][0]["condition"]
    assert _flower_cidr_is_accepted(condition, cidr) is accepted


def test_no_task_gets_a_public_ip(config: Configuration) -> None:
    services = config.resources("aws_ecs_service")
    assert {block.name for block in services} == {"serve", "worker", "flower"}
    for block in services:
        assert block.body["network_configuration"][0]["assign_public_ip"] is False, block.address
        assert block.body["network_configuration"][0]["subnets"] == "${local.task_subnets}"


def test_no_subnet_hands_out_public_ips(config: Configuration) -> None:
    subnets = config.resources("aws_subnet")
    assert {block.name for block in subnets} == {"public", "app", "data"}
    assert all(block.body.get("map_public_ip_on_launch", False) is False for block in subnets)


def test_data_subnets_have_no_route_out(config: Configuration) -> None:
    routes = config.resources("aws_route")
    assert {block.body["route_table_id"] for block in routes} == {
        "${aws_route_table.public.id}",
        "${aws_route_table.private.id}",
    }


def test_rds_is_private_encrypted_backed_up_and_protected(config: Configuration) -> None:
    db = _one(config, "aws_db_instance").body
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == "${var.kms_key_arn}"
    assert db["manage_master_user_password"] is True
    assert "password" not in db
    assert db["deletion_protection"] == "${var.db.deletion_protection}"
    assert db["skip_final_snapshot"] is False
    assert db["backup_retention_period"] == "${var.db.backup_retention_days}"


def test_database_defaults_keep_deletion_protection_and_backups(config: Configuration) -> None:
    db_type = config.variables()["db"]["type"]
    assert "deletion_protection = optional(bool, true)" in db_type
    assert "backup_retention_days = optional(number, 7)" in db_type


def test_database_requires_tls(config: Configuration) -> None:
    parameters = _one(config, "aws_db_parameter_group").body["parameter"]
    assert {"name": "rds.force_ssl", "value": "1"} in parameters


def test_redis_is_encrypted_in_transit_and_at_rest_with_an_auth_token(config: Configuration) -> None:
    assert config.resources("aws_elasticache_cluster") == []
    redis = _one(config, "aws_elasticache_replication_group").body
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["kms_key_id"] == "${var.kms_key_arn}"
    assert redis["transit_encryption_enabled"] is True
    assert redis["transit_encryption_mode"] == "required"
    assert redis["auth_token"] == "${random_password.redis_auth.result}"
    assert redis["security_group_ids"] == ["${var.redis_security_group_id}"]


def test_redis_never_evicts_queued_messages(config: Configuration) -> None:
    parameters = _one(config, "aws_elasticache_parameter_group").body["parameter"]
    assert parameters == [{"name": "maxmemory-policy", "value": "noeviction"}]


def test_data_stores_live_in_the_isolated_data_subnets(config: Configuration) -> None:
    root_call = next(body for _, entry in config.sections("module") for name, body in entry.items() if name == "datastores")
    assert root_call["data_subnet_ids"] == "${module.network.data_subnet_ids}"
    for type_ in ("aws_db_subnet_group", "aws_elasticache_subnet_group"):
        assert _one(config, type_).body["subnet_ids"] == "${var.data_subnet_ids}"


def test_https_listener_uses_a_modern_tls_policy_and_http_only_redirects(config: Configuration) -> None:
    listeners = {block.name: block.body for block in config.resources("aws_lb_listener")}
    assert listeners["https"]["protocol"] == "HTTPS"
    assert listeners["https"]["certificate_arn"] == "${var.acm_certificate_arn}"
    assert config.variables()["alb_tls_policy"]["default"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (redirect,) = listeners["http_redirect"]["default_action"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"][0] == {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}


def test_alb_drops_invalid_headers(config: Configuration) -> None:
    assert _one(config, "aws_lb").body["drop_invalid_header_fields"] is True
