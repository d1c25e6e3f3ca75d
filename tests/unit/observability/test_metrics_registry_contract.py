"""The metrics the code registers are exactly the contract the rules and dashboard are checked
against: renaming a metric or a label in code without updating them fails here."""

from prometheus_client.metrics import MetricWrapperBase

from sco_metric_contract import CONTRACT
from smartcloudops.observability import metrics


def registered() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed family name -> (type, label names) of every metric the module defines."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            (family,) = value.describe()
            exposed = family.name + ("_total" if family.type == "counter" else "")
            # prometheus-client has no public accessor for a parent's label names.
            found[exposed] = (family.type, frozenset(value._labelnames))
    return found


def test_code_registers_exactly_the_contract_metrics_with_their_types_and_labels():
    expected = {name: (spec.metric_type, spec.labels) for name, spec in CONTRACT.items()}

    assert registered() == expected
