"""The metrics the code exposes are exactly the contract the rules and dashboard are checked
against: renaming a metric or a label in code without updating them fails here."""

from prometheus_client.metrics import MetricWrapperBase

from adapters.broker import QueueDepthCollector
from config.settings import QueueNames
from sco_metric_contract import CONTRACT
from adapters.observability import metrics


def instrumented() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed family name -> (type, label names) of every metric the module defines."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            (family,) = value.describe()
            exposed = family.name + ("_total" if family.type == "counter" else "")
            # prometheus-client has no public accessor for a parent's label names.
            found[exposed] = (family.type, frozenset(value._labelnames))
    return found


def collected_at_scrape_time() -> dict[str, tuple[str, frozenset[str]]]:
    """Families built by collectors when scraped (queue depth asks the broker then)."""
    collector = QueueDepthCollector(app=None, queues=QueueNames())
    collector.depths = lambda: {"events": 3}  # the broker round trip is not under test here
    chain = metrics.AuditChainStatus()
    chain.record(True, 0.0)  # exported only once the chain was verified in the process
    return {
        family.name: (family.type, frozenset(family.samples[0].labels))
        for family in [*collector.collect(), *chain.collect()]
    }


def test_code_exposes_exactly_the_contract_metrics_with_their_types_and_labels():
    expected = {name: (spec.metric_type, spec.labels) for name, spec in CONTRACT.items()}

    assert instrumented() | collected_at_scrape_time() == expected
