"""The Alertmanager webhook: auth, validation, limits, and 2xx only once the batch is on the broker."""

import base64
import json

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.app import RECORD_ALERT_BATCH, ApiDeps, create_app
from consumers.publisher import InMemoryPublisher
from pipeline.events import AlertBatch
from smartcloudops.demo_payloads import demo_story

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def publisher():
    return InMemoryPublisher()


@pytest.fixture
def client(publisher, tmp_path):
    settings = load_settings(data_dir=tmp_path, webhook_token=TOKEN, webhook_username="am",
                             webhook_password="pw-long-enough-for-tests", max_body_bytes=64 * 1024)
    with TestClient(create_app(ApiDeps(settings=settings, publisher=publisher))) as test_client:
        yield test_client


def payload():
    return demo_story()[0][1]


def post(client, body, headers=None, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", **(headers or {})}
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/v1/alerts/alertmanager", content=content, headers=headers, **kwargs)


def test_accepted_batch_is_one_message_carrying_every_alert(client, publisher):
    body = payload()
    answer = post(client, body)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2
    assert len(publisher.sent) == 1
    task, event = publisher.sent[0]
    assert task == RECORD_ALERT_BATCH
    batch = AlertBatch.from_data(event.data)
    assert [a.labels["instance"] for a in batch.alerts] == [a["labels"]["instance"] for a in body["alerts"]]
    assert event.id == answer.json()["event_id"] and event.traceid == answer.json()["trace_id"]


def test_redelivery_carries_the_same_event_ids(client, publisher):
    body = payload()
    post(client, body)
    post(client, body)
    first, second = (AlertBatch.from_data(e.data) for _, e in publisher.sent)
    assert [a.event_id for a in first.alerts] == [a.event_id for a in second.alerts]


def test_traceparent_trace_id_is_kept(client, publisher):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    post(client, payload(), headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert publisher.sent[0][1].traceid == trace


def test_http_basic_auth_is_accepted(client, publisher):
    basic = base64.b64encode(b"am:pw-long-enough-for-tests").decode()
    assert post(client, payload(), headers={"Authorization": f"Basic {basic}"}).status_code == 202


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic " + base64.b64encode(b"am:no").decode(),
                                           "Basic !!notbase64", "Token " + TOKEN])
def test_missing_or_wrong_credentials_get_401(client, publisher, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    answer = client.post("/v1/alerts/alertmanager", content=json.dumps(payload()), headers=headers)
    assert answer.status_code == 401
    assert "Bearer" in answer.headers["www-authenticate"]
    assert publisher.sent == []


def test_wrong_content_type_gets_415(client):
    answer = post(client, json.dumps(payload()), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and "application/json" in answer.json()["error"]


def test_malformed_json_gets_400(client):
    answer = post(client, b'{"version": "4", "alerts": [')
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]


def test_missing_field_gets_422_naming_it(client):
    body = payload()
    del body["alerts"][0]["startsAt"]
    answer = post(client, body)
    assert answer.status_code == 422
    assert "alerts.0.startsAt" in answer.json()["error"]


def test_bad_field_value_gets_422_naming_it(client):
    body = payload()
    body["alerts"][1]["status"] = "exploded"
    answer = post(client, body)
    assert answer.status_code == 422 and "alerts.1.status" in answer.json()["error"]


def test_indexed_label_too_long_gets_422_naming_it(client, publisher):
    body = payload()
    body["alerts"][0]["labels"]["service"] = "s" * 300
    answer = post(client, body)
    assert answer.status_code == 422
    assert "alerts.0" in answer.json()["error"] and "'service'" in answer.json()["error"]
    assert publisher.sent == []


def test_wrong_version_gets_422(client):
    body = payload() | {"version": "3"}
    answer = post(client, body)
    assert answer.status_code == 422 and "version" in answer.json()["error"]


def test_empty_alert_list_gets_422(client):
    answer = post(client, payload() | {"alerts": []})
    assert answer.status_code == 422 and "alerts" in answer.json()["error"]


def test_body_over_the_limit_gets_413(client, publisher):
    body = payload()
    body["commonAnnotations"] = {"padding": "x" * 70_000}
    answer = post(client, body)
    assert answer.status_code == 413 and "limit" in answer.json()["error"]
    assert publisher.sent == []


def test_broker_down_gets_503_so_alertmanager_retries(client, publisher):
    publisher.down = True
    answer = post(client, payload())
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    publisher.down = False
    assert post(client, payload()).status_code == 202


def test_health_and_readiness(client, publisher):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    publisher.down = True
    ready = client.get("/readyz")
    # Only ready or not: the exception text (hosts, versions, errors) goes to the log, not to callers.
    assert ready.status_code == 503 and ready.json() == {"ready": False}


def test_metrics_count_requests_by_route_template(client):
    post(client, payload())
    text = client.get("/metrics").text
    assert 'smartcloudops_http_requests_total{method="POST",route="/v1/alerts/alertmanager",status="202"}' in text


def test_read_api_requires_the_api_token(client):
    assert client.get("/v1/incidents").status_code == 401
