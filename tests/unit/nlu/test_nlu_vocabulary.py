"""The vocabulary comes from the service catalog: canonical names, aliases and alert names."""

from __future__ import annotations

import pytest

from config.vocabulary import load_vocabulary
from pipeline.errors import ConfigurationError
from pipeline.nlu.vocabulary import Vocabulary, squash, vocabulary_from_catalog


def test_squash_ignores_case_and_separators():
    assert squash("API_Gateway") == squash("api gateway") == squash("api-gateway") == "apigateway"


def test_aliases_map_to_the_canonical_name():
    vocabulary = vocabulary_from_catalog(
        {"services": [{"name": "api-gateway", "aliases": ["gateway", "apigw"]}], "alerts": []}
    )
    assert vocabulary.services == {"apigateway": "api-gateway", "gateway": "api-gateway",
                                   "apigw": "api-gateway"}
    assert vocabulary.service_names == ("api-gateway",)


def test_plain_names_and_alert_mappings_are_accepted():
    vocabulary = vocabulary_from_catalog(
        {"services": ["web"], "alerts": ["HighCPU", {"name": "DiskFull", "severity": "page"}]}
    )
    assert vocabulary.alerts == {"highcpu": "HighCPU", "diskfull": "DiskFull"}


def test_the_first_service_keeps_a_shared_alias():
    vocabulary = Vocabulary.build({"a": ["x"], "b": ["x"]}, [])
    assert vocabulary.services["x"] == "a"


@pytest.mark.parametrize(
    ("catalog", "message"),
    [({"services": [{"aliases": []}]}, r"services\[0\]: needs a string `name`"),
     ({"services": [{"name": "a", "aliases": "b"}]}, r"services\[0\].aliases: must be a list"),
     ({"alerts": [3]}, r"alerts\[0\]: must be a name")],
)
def test_malformed_catalogs_name_the_entry(catalog, message):
    with pytest.raises(ConfigurationError, match=message):
        vocabulary_from_catalog(catalog)


def test_loading_names_the_file(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("- just a list\n")
    with pytest.raises(ConfigurationError, match=f"{path}: a service catalog must be a mapping"):
        load_vocabulary(path)
