"""Read the Terraform configuration with python-hcl2 and answer questions about it.

The `terraform` binary is not available here, so the tests reason on the parsed HCL:
blocks keyed by module, literal values where the configuration writes literals, and
`${...}` strings where it writes expressions. Each checker returns the offenders it
finds (an empty list means the rule holds), so a test can assert both that the real
configuration is clean and that a deliberately broken snippet is caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_ROOT = REPO_ROOT / "terraform"

_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_LOCAL_REFERENCE = re.compile(r"^\$\{local\.([A-Za-z_][A-Za-z0-9_]*)\}$")
_WILDCARD_ACTION = re.compile(r"^\*$|^[a-z0-9-]+:\*$")
_POLICY_DOCUMENT_JSON = re.compile(r"^\$\{data\.aws_iam_policy_document\.[A-Za-z0-9_]+(\[[^\]]+\])?\.json\}$")

MANAGED_TAG = "smartcloudops:managed"


@dataclass(frozen=True)
class Block:
    """One `resource` or `data` block: where it lives, its type, name and parsed body."""

    module: str
    kind: str
    type: str
    name: str
    body: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{self.module}:{self.kind}.{self.type}.{self.name}"


@dataclass(frozen=True)
class Statement:
    """One statement of an `aws_iam_policy_document`, with its actions resolved."""

    document: str
    sid: str
    actions: tuple[str, ...]
    body: dict[str, Any]

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return list(self.body.get("condition", []))


def tf_files(root: Path = TERRAFORM_ROOT) -> list[Path]:
    """Every .tf file under `root`, sorted."""
    return sorted(root.rglob("*.tf"))


def parse_file(path: Path) -> dict[str, Any]:
    """Parse one HCL file into plain dicts and lists, with string quotes removed."""
    # The parser takes ~50 ms a file; every test module reads the same tree.
    return _parse_cached(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=256)
def _parse_cached(path: str, _mtime_ns: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


class Configuration:
    """Every module of a Terraform tree, parsed; a module is a directory of .tf files."""

    def __init__(self, root: Path = TERRAFORM_ROOT) -> None:
        self.root = root
        self.files = {path: parse_file(path) for path in tf_files(root)}

    def module_of(self, path: Path) -> str:
        relative = path.parent.relative_to(self.root)
        return "root" if str(relative) == "." else str(relative)

    def sections(self, section: str) -> Iterator[tuple[str, Any]]:
        for path, parsed in self.files.items():
            for entry in parsed.get(section, []):
                yield self.module_of(path), entry

    def blocks(self, kind: str, type_: str | None = None) -> list[Block]:
        """Every `resource` or `data` block, optionally of one type."""
        found = []
        for module, entry in self.sections(kind):
            for block_type, named in entry.items():
                for name, body in named.items():
                    if type_ is None or block_type == type_:
                        found.append(Block(module, kind, block_type, name, body))
        return found

    def resources(self, type_: str | None = None) -> list[Block]:
        return self.blocks("resource", type_)

    def locals_of(self, module: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for entry_module, entry in self.sections("locals"):
            if entry_module == module:
                merged.update(entry)
        return merged

    def variables(self, module: str = "root") -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for entry_module, entry in self.sections("variable"):
            if entry_module == module:
                found.update(entry)
        return found

    def outputs(self, module: str = "root") -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for entry_module, entry in self.sections("output"):
            if entry_module == module:
                found.update(entry)
        return found

    def modules(self) -> set[str]:
        return {self.module_of(path) for path in self.files}

    def terraform_settings(self, module: str) -> list[dict[str, Any]]:
        return [entry for entry_module, entry in self.sections("terraform") if entry_module == module]

    def policy_statements(self) -> list[Statement]:
        """Every statement of every aws_iam_policy_document, dynamic ones included."""
        statements = []
        for document in self.blocks("data", "aws_iam_policy_document"):
            local_values = self.locals_of(document.module)
            for body in _statement_bodies(document.body):
                actions = _resolve_list(body.get("actions", []), local_values)
                statements.append(Statement(document.address, str(body.get("sid", "")), actions, body))
        return statements

    def policy_document(self, module: str, name: str) -> list[Statement]:
        address = f"{module}:data.aws_iam_policy_document.{name}"
        return [statement for statement in self.policy_statements() if statement.document == address]


def _statement_bodies(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from document.get("statement", [])
    for dynamic in document.get("dynamic", []):
        for content in dynamic.get("statement", {}).get("content", []):
            yield content


def _resolve_list(value: Any, local_values: dict[str, Any]) -> tuple[str, ...]:
    """A literal list, or `${local.name}` naming a literal list; anything else is kept as is."""
    if isinstance(value, str):
        match = _LOCAL_REFERENCE.match(value)
        if match and isinstance(local_values.get(match.group(1)), list):
            return tuple(local_values[match.group(1)])
        return (value,)
    return tuple(value)


# ----------------------------------------------------------------------------- checkers


def wildcard_actions(statements: list[Statement]) -> list[str]:
    """Statements granting `*`, `service:*`, using NotAction, or actions that are not literal."""
    offenders = []
    for statement in statements:
        where = f"{statement.document}#{statement.sid or '?'}"
        if "not_actions" in statement.body:
            offenders.append(f"{where}: not_actions")
        for action in statement.actions:
            if _WILDCARD_ACTION.match(action):
                offenders.append(f"{where}: {action}")
            elif "${" in action:
                offenders.append(f"{where}: action is not a literal ({action})")
    return offenders


def untagged_mutations(statements: list[Statement], required_keys: dict[str, tuple[str, ...]]) -> list[str]:
    """Statements granting a mutating action without `StringEquals <key>/smartcloudops:managed = true`.

    `required_keys` maps each mutating action to the condition-key prefixes that may carry
    the tag (for example `autoscaling:ResourceTag/`). A `ssm:SendCommand` statement whose
    resources are exactly the allowlisted documents (`var.ssm_document_arns`) is the
    document half of SendCommand's authorisation and needs no tag.
    """
    offenders = []
    for statement in statements:
        for action in statement.actions:
            if action not in required_keys:
                continue
            if action == "ssm:SendCommand" and statement.body.get("resources") == "${var.ssm_document_arns}":
                continue
            if not _has_managed_tag_condition(statement, required_keys[action]):
                offenders.append(f"{statement.document}#{statement.sid}: {action}")
    return offenders


def _has_managed_tag_condition(statement: Statement, key_prefixes: tuple[str, ...]) -> bool:
    for condition in statement.conditions:
        variable = condition.get("variable", "")
        if (
            condition.get("test") == "StringEquals"
            and variable in {prefix + MANAGED_TAG for prefix in key_prefixes}
            and list(condition.get("values", [])) == ["true"]
        ):
            return True
    return False


def non_literal_policies(config: Configuration) -> list[str]:
    """IAM, KMS and SNS policies that do not come from an aws_iam_policy_document.

    Requiring the document data source is what lets the statement checks see every policy.
    """
    policy_attributes = {
        "aws_iam_role": "assume_role_policy",
        "aws_iam_role_policy": "policy",
        "aws_iam_policy": "policy",
        "aws_iam_user_policy": "policy",
        "aws_iam_group_policy": "policy",
        "aws_kms_key": "policy",
        "aws_sns_topic_policy": "policy",
        "aws_sns_topic": "policy",
        "aws_secretsmanager_secret_policy": "policy",
        "aws_ecr_repository_policy": "policy",
        "aws_cloudwatch_log_resource_policy": "policy_document",
    }
    offenders = []
    for block in config.resources():
        attribute = policy_attributes.get(block.type)
        if attribute and attribute in block.body and not _POLICY_DOCUMENT_JSON.match(str(block.body[attribute])):
            offenders.append(f"{block.address}.{attribute}")
    return offenders


def wildcard_principals(statements: list[Statement]) -> list[str]:
    """Statements whose principals include `*` (anyone)."""
    offenders = []
    for statement in statements:
        for principal in statement.body.get("principals", []):
            if "*" in principal.get("identifiers", []):
                offenders.append(f"{statement.document}#{statement.sid}")
    return offenders


def world_open_ingress(config: Configuration, allowed_group: str = "${aws_security_group.alb.id}") -> list[str]:
    """Ingress that admits the whole internet, or the ALB's client CIDRs, on anything but the ALB."""
    offenders = []
    for block in config.resources("aws_vpc_security_group_ingress_rule"):
        if block.body.get("security_group_id") == allowed_group:
            continue
        if _admits_world(block.body) or "alb_ingress_cidrs" in str(block.body.get("for_each", "")):
            offenders.append(block.address)
    for block in config.resources("aws_security_group_rule"):
        if block.body.get("type") == "ingress" and block.body.get("security_group_id") != allowed_group:
            if _admits_world(block.body):
                offenders.append(block.address)
    for block in config.resources("aws_security_group"):
        if block.name != allowed_group.split(".")[1] and any(_admits_world(rule) for rule in block.body.get("ingress", [])):
            offenders.append(block.address)
    return offenders


def _admits_world(rule: dict[str, Any]) -> bool:
    text = repr(rule)
    return "0.0.0.0/0" in text or "::/0" in text


def managed_tag_setters(config: Configuration) -> list[str]:
    """Resources (or provider default tags) that would tag a stack resource as remediable."""
    offenders = []
    for block in config.resources():
        if MANAGED_TAG in (block.body.get("tags") or {}):
            offenders.append(block.address)
    for module, entry in config.sections("provider"):
        for name, body in entry.items():
            for default_tags in body.get("default_tags", []):
                if MANAGED_TAG in repr(default_tags.get("tags", "")):
                    offenders.append(f"{module}:provider.{name}.default_tags")
    return offenders
