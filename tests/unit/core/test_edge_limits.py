"""The edge accepts exactly what the store can hold: inputs that once gave a 500 or a poison 202 get a 4xx."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
import structlog
from starlette.testclient import TestClient

from adapters.db.schema import alerts, incidents
from config.settings import load_settings
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from pipeline import limits
from pipeline.nlu.authz import Role, RoleBook
from pipeline.remediation import InMemoryGuardStore
from smartcloudops.demo_payloads import demo_story

TOKEN = "edge-limits-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def client(tmp_path: Path, publisher: InMemoryPublisher):
    settings = load_settings(data_dir=tmp_path, api_token=TOKEN, api_token_role="admin", webhook_token="webhook-token-only-for-ingest")
    deps = ApiDeps(settings=settings, publisher=publisher, kill_switch=InMemoryGuardStore(),
                   roles=RoleBook(users={"U02ALICE002": Role.APPROVER}, default=Role.VIEWER))
    with TestClient(create_app(deps), headers=AUTH, raise_server_exceptions=False) as test_client:
        yield test_client


def webhook(**alert_changes: object) -> dict:
    body = copy.deepcopy(demo_story()[0][1])
    alert = body["alerts"][0]
    for name, value in alert_changes.items():
        if name.startswith("label_"):
            alert["labels"][name.removeprefix("label_")] = value
        else:
            alert[name] = value
    return body


def post_webhook(client: TestClient, body: dict) -> object:
    return client.post("/v1/alerts/alertmanager", content=json.dumps(body),
                       headers={"Content-Type": "application/json"})


def test_store_columns_are_the_limits_the_edge_applies() -> None:
    assert incidents.c.correlation_key.type.length == limits.CORRELATION_KEY_CHARS
    assert incidents.c.alertname.type.length == alerts.c.alertname.type.length == limits.ALERTNAME_CHARS
    assert incidents.c.service.type.length == alerts.c.service.type.length == limits.SERVICE_CHARS
    assert incidents.c.severity.type.length == alerts.c.severity.type.length == limits.SEVERITY_CHARS
    assert alerts.c.fingerprint.type.length == limits.FINGERPRINT_CHARS


@pytest.mark.parametrize("change", [
    {"label_alertname": "High\x00Latency"},
    {"label_alertname": "a" * 256, "label_service": "s" * 256},  # each fits, the joined key (531) does not
    {"startsAt": "0001-01-01T00:00:00+01:00"},
    {"startsAt": "9999-12-31T23:00:00-05:00"},
    {"startsAt": "9999-12-31T23:59:59Z"},
    {"endsAt": "9999-12-31T23:00:00-05:00"},
    {"annotations": {"summary": "nul \x00 inside"}},
    {"generatorURL": "http://x/\x00"},
], ids=["nul", "joined-key", "year1+offset", "year9999-offset", "year9999", "endsAt9999", "nul-annotation",
        "nul-url"])
def test_alerts_the_store_cannot_hold_get_422_and_publish_nothing(client, publisher, change) -> None:
    answer = post_webhook(client, webhook(**change))
    assert answer.status_code == 422, answer.text
    assert "alerts.0" in answer.json()["error"]
    assert publisher.sent == []


def test_go_zero_time_end_with_an_offset_is_no_end(client, publisher) -> None:
    answer = post_webhook(client, webhook(endsAt="0001-01-01T00:00:00+01:00"))
    assert answer.status_code == 202, answer.text
    assert publisher.sent[0][1].data["alerts"][0]["ends_at"] is None


def test_truncated_alerts_beyond_the_integer_column_is_422(client, publisher) -> None:
    body = webhook()
    body["truncatedAlerts"] = 2**63
    assert post_webhook(client, body).status_code == 422
    assert publisher.sent == []


@pytest.mark.parametrize("timestamp", [1e308, -1.0, 253_402_300_800.0])
def test_metric_timestamps_outside_the_store_range_are_422(client, publisher, timestamp) -> None:
    answer = client.post("/v1/metrics", json=[{"labels": {"__name__": "up"}, "samples": [[timestamp, 1]]}])
    assert answer.status_code == 422, answer.text
    assert publisher.sent == []


DEEP = ("[" * 3000 + "]" * 3000).encode()


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/command", DEEP),
    ("/v1/killswitch", DEEP),
    ("/v1/incidents/1/approve", DEEP),
    ("/v1/incidents/1/deny", DEEP),
    ("/v1/chat/command", b'{"user": "U02ALICE002", "channel": "C0CHAN01", "text": "status \\ud800"}'),
    ("/v1/chat/command", b'{"user": "U02ALICE002", "channel": "C0CHAN01", "text": "status \\u0000"}'),
    ("/v1/killswitch", b'{"engaged": true, "actor": "\\ud800"}'),
    ("/v1/incidents/1/approve", b'{"reason": "\\udfff"}'),
    ("/v1/incidents/1/deny", b'{"reason": "x", "n": 1e999}'),
], ids=["chat-deep", "killswitch-deep", "approve-deep", "deny-deep", "chat-surrogate", "chat-nul",
        "killswitch-surrogate", "approve-surrogate", "deny-infinity"])
def test_json_the_store_cannot_hold_gets_4xx(client, publisher, path, body) -> None:
    answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert publisher.sent == []


@pytest.mark.parametrize("incident_id", [str(2**63), str(2**64), "9" * 5000, "0", "²", "٣"])
def test_incident_ids_outside_bigint_are_400(client, publisher, incident_id) -> None:
    answer = client.post(f"/v1/incidents/{incident_id}/approve", json={"reason": "looks right"})
    assert answer.status_code == 400, answer.text
    assert client.get(f"/v1/incidents/{incident_id}").status_code == 400
    assert publisher.sent == []


def test_largest_bigint_incident_id_is_accepted(client, publisher) -> None:
    answer = client.post(f"/v1/incidents/{2**63 - 1}/approve", json={"reason": "looks right"})
    assert answer.status_code == 202
    assert publisher.sent[0][1].data["incident_id"] == 2**63 - 1


def test_client_that_disconnects_mid_body_is_counted_as_gone_not_as_a_500(tmp_path, publisher) -> None:
    settings = load_settings(data_dir=tmp_path, api_token=TOKEN, api_token_role="admin", webhook_token="webhook-token-only-for-ingest")
    app = create_app(ApiDeps(settings=settings, publisher=publisher))
    sent: list[dict] = []
    incoming = [{"type": "http.request", "body": b'{"version": "4", ', "more_body": True},
                {"type": "http.disconnect"}]

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/alerts/alertmanager", "raw_path": b"/v1/alerts/alertmanager",
             "query_string": b"", "root_path": "", "server": ("test", 80), "client": ("test", 1),
             "headers": [(b"authorization", AUTH["Authorization"].encode()),
                         (b"content-type", b"application/json"), (b"content-length", b"1000")]}
    import asyncio

    with structlog.testing.capture_logs() as logs:
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 499
    assert "http.internal_error" not in [entry["event"] for entry in logs]
    assert publisher.sent == []


TEXTS = st.text(alphabet=st.sampled_from(["a", "é", "\x00", "\ud800", "\udc00", "😀", "="]), max_size=6)


@hypothesis_settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(TEXTS, TEXTS), max_size=4),
       long_name=st.booleans(), long_value=st.booleans())
def test_label_sets_are_refused_exactly_as_one_label_at_a_time_would(pairs, long_name, long_value) -> None:
    # check_texts takes a plain label set in one pass; its verdict and message must be the per-label walk's.
    if long_name:
        pairs = [*pairs, ("n" * (limits.LABEL_NAME_CHARS + 1), "v")]
    if long_value:
        pairs = [*pairs, ("v", "x" * (limits.LABEL_VALUE_CHARS + 1))]
    expected = None
    try:
        for name, value in pairs:
            limits.check_text(name, "label name", limits.LABEL_NAME_CHARS)
            limits.check_text(value, f"label {name[:64]!r}", limits.LABEL_VALUE_CHARS)
    except limits.OutOfLimits as exc:
        expected = str(exc)
    try:
        limits.check_texts(iter(pairs), "label")
    except limits.OutOfLimits as exc:
        assert str(exc) == expected
    else:
        assert expected is None


def _long(limit: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["", "x" * limit, "x" * (limit + 1)])


LABELS = st.dictionaries(st.sampled_from(["alertname", "service", "severity", "instance", "é\x00", "\ud800"]),
                         st.one_of(TEXTS, _long(limits.SERVICE_CHARS), _long(limits.LABEL_VALUE_CHARS)), max_size=5)


@hypothesis_settings(max_examples=400, deadline=None)
@given(labels=LABELS, annotations=st.dictionaries(TEXTS, TEXTS, max_size=3),
       fingerprint=st.one_of(TEXTS, _long(limits.FINGERPRINT_CHARS)), generator_url=TEXTS,
       key_labels=st.sampled_from([("service", "alertname"), ("instance",), ("x" * 300, "y" * 300)]))
def test_an_alert_is_refused_exactly_as_field_by_field_would(labels, annotations, fingerprint, generator_url,
                                                              key_labels) -> None:
    # check_alert_fields takes a plain alert in one pass; its verdict and message must be the field walk's.
    fields = {"key_labels": key_labels, "fingerprint": fingerprint, "generator_url": generator_url}
    expected = None
    try:
        limits.walk_alert_fields(labels, annotations, **fields)
    except limits.OutOfLimits as exc:
        expected = str(exc)
    try:
        limits.check_alert_fields(labels, annotations, **fields)
    except limits.OutOfLimits as exc:
        assert str(exc) == expected
    else:
        assert expected is None


ALERT_FIELDS = st.tuples(LABELS, st.dictionaries(TEXTS, TEXTS, max_size=3),
                         st.one_of(TEXTS, _long(limits.FINGERPRINT_CHARS)), TEXTS)


@hypothesis_settings(max_examples=400, deadline=None)
@given(alerts=st.lists(ALERT_FIELDS, max_size=4),
       key_labels=st.sampled_from([("service", "alertname"), ("instance",), ("x" * 300, "y" * 300)]))
def test_a_webhooks_alerts_pass_at_once_exactly_when_each_passes_alone(alerts, key_labels) -> None:
    # alerts_within_limits checks a whole webhook in one pass; saying True it vouches for every alert.
    def passes(labels, annotations, fingerprint, generator_url) -> bool:
        try:
            limits.check_alert_fields(labels, annotations, key_labels=key_labels, fingerprint=fingerprint,
                                      generator_url=generator_url)
        except limits.OutOfLimits:
            return False
        return True

    assert limits.alerts_within_limits(iter(alerts), key_labels=key_labels) == all(passes(*a) for a in alerts)


def test_the_first_alert_out_of_its_limits_is_named_whatever_the_others_break() -> None:
    from datetime import datetime, timezone

    from consumers.alertmanager import UnprocessablePayload, parse_webhook
    from smartcloudops.demo_payloads import alert, webhook

    items = [alert("A", "checkout", f"i-{n}", status="firing", starts_at=datetime(2026, 12, 3, tzinfo=timezone.utc))
             for n in range(4)]
    items[1]["startsAt"] = "1900-01-01T00:00:00Z"  # a time out of range, before an alert with a NUL label
    items[2]["labels"]["bad"] = "x\x00y"
    with pytest.raises(UnprocessablePayload, match=r"^alerts\.1: startsAt 1900-01-01T00:00:00\+00:00 is outside"):
        parse_webhook(json.dumps(webhook(items)).encode())
    items[1]["startsAt"] = items[0]["startsAt"]
    with pytest.raises(UnprocessablePayload, match=r"^alerts\.2: label 'bad' contains a NUL character$"):
        parse_webhook(json.dumps(webhook(items)).encode())
