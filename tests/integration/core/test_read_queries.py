"""The read models build each query shape once and bind its values per call: a call never sees another's values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.db.alert_store import AlertStore
from adapters.db.chat_queries import ChatQueries
from adapters.db.engine import create_engine
from adapters.db.queries import IncidentQueries
from pipeline.correlation import CorrelationPolicy
from tests.factories import batch, make_alert

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    store = AlertStore(engine, CorrelationPolicy(window=timedelta(minutes=15)))
    alerts = [make_alert(service="billing", instance=f"i-0abc1234567{k}") for k in range(3)]
    store.record_batch(batch(*alerts), trace_id="t", now=NOW)
    store.record_batch(batch(make_alert(alertname="Disk", service="checkout", instance="i-0def12345678")),
                       trace_id="t", now=NOW)
    yield engine
    engine.dispose()


def test_the_same_list_shape_with_other_values_answers_for_those_values(engine) -> None:
    queries = IncidentQueries(engine)
    billing = queries.list(status="open", service="billing")["items"]
    checkout = queries.list(status="open", service="checkout")["items"]
    assert [i["service"] for i in billing] == ["billing"]
    assert [i["service"] for i in checkout] == ["checkout"]
    assert queries.list(status="resolved", service="billing")["items"] == []


def test_limit_and_before_page_through_the_incidents(engine) -> None:
    queries = IncidentQueries(engine)
    first = queries.list(limit=1)
    assert len(first["items"]) == 1 and first["next"] == first["items"][0]["id"]
    second = queries.list(limit=1, before=first["next"])
    assert [i["id"] for i in second["items"]] == [first["next"] - 1] and second["next"] is None


def test_history_of_a_service_binds_that_service(engine) -> None:
    chat = ChatQueries(engine)
    billing = chat.history(service="billing")
    checkout = chat.history(service="checkout")
    assert billing and checkout
    assert {row.get("incident_id") for row in billing}.isdisjoint({row.get("incident_id") for row in checkout})
    assert chat.history(service="nowhere") == []
    assert len(chat.history(limit=1)) == 1
