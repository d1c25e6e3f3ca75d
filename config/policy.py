"""Read the operator's remediation policy (config/policies.yaml) into the domain's Policy.

The types live in pipeline/policy.py; this module reads and validates the file, then checks it
against the catalog, so a rule that names an unknown service or a systemd unit the service does
not declare stops start with file:line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from config.catalog import DEFAULT_CATALOG_PATH, load_catalog
from config.yaml_lines import Locator, describe_validation_error, load_yaml_with_lines
from pipeline.catalog import Catalog
from pipeline.errors import ConfigurationError
from pipeline.policy import Policy, Rule, SsmCommandSpec

DEFAULT_POLICY_PATH = Path(__file__).with_name("policies.yaml")


def load_policy(path: str | Path = DEFAULT_POLICY_PATH, catalog: Catalog | None = None) -> Policy:
    """Load and validate the policy (and its references to the catalog); errors name file:line."""
    data, locate = load_yaml_with_lines(path)
    try:
        policy = Policy.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(path, exc, locate)) from exc
    if catalog is not None:
        problems = list(_catalog_problems(policy, catalog, locate))
        if problems:
            lines = "\n".join(f"{path}:{line}: {where}: {what}" for line, where, what in problems)
            raise ConfigurationError(
                f"{path}: {len(problems)} reference(s) not in the catalog\n{lines}"
            )
    return policy


def _catalog_problems(policy: Policy, catalog: Catalog, locate: Locator):
    for r, rule in enumerate(policy.rules):
        for s, name in enumerate(rule.match.services):
            if catalog.service(name) is None or catalog.service(name).name != name:
                loc = ("rules", r, "match", "services", s)
                yield locate(loc), f"rules[{r}].match.services[{s}]", f"unknown service {name!r}"
        for a, spec in enumerate(rule.actions):
            if isinstance(spec, SsmCommandSpec):
                yield from _unit_problems(rule, r, a, spec, catalog, locate)


def _unit_problems(rule: Rule, r: int, a: int, spec: SsmCommandSpec, catalog: Catalog, locate):
    services = [catalog.service(n) for n in rule.match.services] or list(catalog.services)
    if not any(s is not None and spec.unit in s.systemd_units for s in services):
        loc = ("rules", r, "actions", a, "unit")
        yield (
            locate(loc),
            f"rules[{r}].actions[{a}].unit",
            (f"systemd unit {spec.unit!r} is not declared by any service the rule matches"),
        )


def load_remediation_config(
    catalog_path: str | Path | None = None, policy_path: str | Path | None = None
) -> tuple[Catalog, Policy]:
    """Load the catalog, then the policy checked against it; the one call bootstrap makes."""
    catalog = load_catalog(catalog_path or DEFAULT_CATALOG_PATH)
    return catalog, load_policy(policy_path or DEFAULT_POLICY_PATH, catalog)
