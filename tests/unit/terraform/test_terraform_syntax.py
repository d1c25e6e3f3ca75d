"""The Terraform tree parses, declares its inputs properly, and pins its tools."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sco_terraform_config import TERRAFORM_ROOT, Configuration, parse_file, tf_files

EXPECTED_MODULES = {
    "root",
    "modules/network",
    "modules/datastores",
    "modules/compute",
    "modules/iam",
    "modules/monitoring",
}


@pytest.fixture(scope="module")
def config() -> Configuration:
    return Configuration()


@pytest.mark.parametrize("path", tf_files(), ids=lambda path: str(path.relative_to(TERRAFORM_ROOT)))
def test_every_tf_file_parses_as_hcl2(path: Path) -> None:
    parsed = parse_file(path)
    assert parsed, f"{path} parsed to nothing"


def test_tree_has_the_root_and_the_five_modules(config: Configuration) -> None:
    assert config.modules() == EXPECTED_MODULES


def test_every_module_is_called_from_the_root(config: Configuration) -> None:
    sources = {body["source"] for _, entry in config.sections("module") for body in entry.values()}
    assert sources == {"./" + module for module in EXPECTED_MODULES - {"root"}}


@pytest.mark.parametrize("module", sorted(EXPECTED_MODULES))
def test_every_variable_has_a_description_and_a_type(config: Configuration, module: str) -> None:
    variables = config.variables(module)
    assert variables, f"{module} declares no variables"
    undocumented = [name for name, body in variables.items() if not body.get("description") or "type" not in body]
    assert undocumented == []


def test_root_variables_with_a_bounded_domain_are_validated(config: Configuration) -> None:
    # Free-form maps and plain switches are the only inputs without a validation block.
    unvalidated = {name for name, body in config.variables().items() if not body.get("validation")}
    assert unvalidated == {"container_insights"}


def test_required_root_inputs_are_only_the_certificate_and_the_image_tag(config: Configuration) -> None:
    required = {name for name, body in config.variables().items() if "default" not in body}
    assert required == {"acm_certificate_arn", "image_tag"}


@pytest.mark.parametrize("module", sorted(EXPECTED_MODULES))
def test_every_output_has_a_description(config: Configuration, module: str) -> None:
    undocumented = [name for name, body in config.outputs(module).items() if not body.get("description")]
    assert undocumented == []


def test_tfvars_example_parses_and_sets_only_declared_variables(config: Configuration) -> None:
    example = parse_file(TERRAFORM_ROOT / "terraform.tfvars.example")
    assert set(example) <= set(config.variables())
    assert {"acm_certificate_arn", "image_tag"} <= set(example)


@pytest.mark.parametrize("module", sorted(EXPECTED_MODULES))
def test_every_module_pins_terraform_and_the_aws_provider(config: Configuration, module: str) -> None:
    (settings,) = config.terraform_settings(module)
    assert re.fullmatch(r">= 1\.6(\.0)?, < 2\.0\.0", settings["required_version"])
    providers = settings["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> 5\.\d+", providers["aws"]["version"])


def test_every_provider_used_is_pinned_with_a_pessimistic_constraint(config: Configuration) -> None:
    for module in EXPECTED_MODULES:
        (settings,) = config.terraform_settings(module)
        for name, requirement in settings["required_providers"][0].items():
            assert requirement["version"].startswith("~> "), f"{module}: provider {name} is not pinned"
        used = {block.type.split("_")[0] for kind in ("resource", "data") for block in config.blocks(kind) if block.module == module}
        assert used <= set(settings["required_providers"][0]), f"{module} uses an undeclared provider"
