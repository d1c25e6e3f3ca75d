"""Metric intake over HTTP: remote write 1.0 and JSON, auth, each 4xx, 2xx once on the broker."""

import json
import math

import cramjam
import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.metrics_intake import SCORE_METRICS_BATCH
from consumers.publisher import InMemoryPublisher
from consumers.remote_write_pb import WriteRequest
from pipeline.metric_events import SampleBatch, series_key

TOKEN = "metrics-token-for-tests"
RW_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
UP = {"__name__": "up", "job": "node", "instance": "web-1:9100"}


@pytest.fixture
def publisher():
    return InMemoryPublisher()


@pytest.fixture
def client(publisher, tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        webhook_token=TOKEN,
        webhook_username="prom",
        webhook_password="pw-long-enough-for-tests",
        metrics_max_body_bytes=64 * 1024,
        metrics_max_decoded_bytes=256 * 1024,
        metrics_max_samples_per_message=1000,
    )
    with TestClient(create_app(ApiDeps(settings=settings, publisher=publisher))) as test_client:
        yield test_client


def write_request(*series: tuple[dict, list[tuple[int, float]]]) -> bytes:
    """Real WriteRequest bytes, snappy block-compressed, as Prometheus sends them."""
    request = WriteRequest()
    for labels, samples in series:
        entry = request.timeseries.add()
        for name, value in labels.items():
            entry.labels.add(name=name, value=value)
        for timestamp, value in samples:
            entry.samples.add(value=value, timestamp=timestamp)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def remote_write(client, body, **headers):
    return client.post("/api/v1/write", content=body, headers={**RW_HEADERS, **headers})


def sent_batches(publisher):
    assert all(task == SCORE_METRICS_BATCH for task, _ in publisher.sent)
    return [SampleBatch.from_data(event.data) for _, event in publisher.sent]


def test_remote_write_is_one_message_with_every_series_and_answers_204(client, publisher):
    other = {"__name__": "cpu", "service": "checkout"}
    answer = remote_write(
        client, write_request((UP, [(1000, 1.0), (2000, 0.0)]), (other, [(1500, 0.25)]))
    )
    assert answer.status_code == 204 and answer.content == b""
    [batch] = sent_batches(publisher)
    by_key = {s.key: s for s in batch.series}
    assert by_key[series_key(UP)].timestamps_ms.tolist() == [1000, 2000]
    assert by_key[series_key(UP)].values.tolist() == [1.0, 0.0]
    assert dict(by_key[series_key(other)].labels) == other
    assert publisher.sent[0][1].type == "dev.smartcloudops.metrics.samples.received"


def test_remote_write_accepts_basic_auth_and_a_missing_version_header(client, publisher):
    headers = {k: v for k, v in RW_HEADERS.items() if k != "X-Prometheus-Remote-Write-Version"}
    headers["Authorization"] = "Basic cHJvbTpwdy1sb25nLWVub3VnaC1mb3ItdGVzdHM="  # prom:pw-long-enough-for-tests
    answer = client.post(
        "/api/v1/write", content=write_request((UP, [(1000, 1.0)])), headers=headers
    )
    assert answer.status_code == 204 and len(publisher.sent) == 1


def test_same_body_gets_the_same_event_id(client, publisher):
    body = write_request((UP, [(1000, 1.0)]))
    remote_write(client, body)
    remote_write(client, body)
    assert publisher.sent[0][1].id == publisher.sent[1][1].id


def test_staleness_markers_are_dropped_samples_sorted_and_duplicates_keep_the_first(
    client, publisher
):
    samples = [(3000, 3.0), (1000, 1.0), (2000, math.nan), (3000, 99.0), (4000, math.inf)]
    assert remote_write(client, write_request((UP, samples))).status_code == 204
    [batch] = sent_batches(publisher)
    [series] = batch.series
    assert series.timestamps_ms.tolist() == [1000, 3000] and series.values.tolist() == [1.0, 3.0]
    assert (batch.dropped.non_finite, batch.dropped.duplicate) == (2, 1)


def test_entries_with_the_same_labels_are_merged_into_one_series(client, publisher):
    remote_write(
        client, write_request((UP, [(2000, 2.0)]), (dict(reversed(UP.items())), [(1000, 1.0)]))
    )
    [batch] = sent_batches(publisher)
    assert [s.timestamps_ms.tolist() for s in batch.series] == [[1000, 2000]]


def test_a_large_request_is_cut_into_messages_and_answered_once_all_are_on_the_broker(
    client, publisher
):
    series = [
        ({"__name__": "m", "i": str(i)}, [(t * 1000, float(t)) for t in range(300)])
        for i in range(5)
    ]
    assert remote_write(client, write_request(*series)).status_code == 204
    batches = sent_batches(publisher)
    assert [b.sample_count for b in batches] == [900, 600]
    assert len({e.id for _, e in publisher.sent}) == 2


def test_broker_down_answers_503_with_retry_after(client, publisher):
    publisher.down = True
    answer = remote_write(client, write_request((UP, [(1000, 1.0)])))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert publisher.sent == []


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        ({"Authorization": "Bearer wrong"}, 401, "credentials"),
        ({"Content-Encoding": "gzip"}, 415, "snappy"),
        ({"Content-Type": "application/json"}, 415, "application/x-protobuf"),
        (
            {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
            415,
            "1.0",
        ),
        ({"X-Prometheus-Remote-Write-Version": "2.0.0"}, 415, "0.1.0"),
    ],
)
def test_remote_write_header_problems_are_refused(client, publisher, headers, status, fragment):
    answer = remote_write(client, write_request((UP, [(1000, 1.0)])), **headers)
    assert answer.status_code == status and fragment in answer.json()["error"]
    assert publisher.sent == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\x10\xff\xfenot snappy at all", "snappy"),
        (bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0f")), "protobuf"),
        (write_request(({"job": "node"}, [(1000, 1.0)])), "no __name__"),
        (write_request(({"__name__": "up", "bad-name": "x"}, [(1000, 1.0)])), "bad-name"),
        (write_request((UP, [(-5, 1.0)])), "outside 1970..9999"),
    (write_request(({"__name__": "up", "path": "a\x00b"}, [(1000, 1.0)])), "NUL"),
    ],
)
def test_bad_remote_write_bodies_get_400_naming_the_problem(client, publisher, body, fragment):
    answer = remote_write(client, body)
    assert answer.status_code == 400 and fragment in answer.json()["error"]
    assert publisher.sent == []


def test_repeated_label_name_in_one_series_is_refused(client, publisher):
    request = WriteRequest()
    entry = request.timeseries.add()
    for name, value in [("__name__", "up"), ("job", "a"), ("job", "b")]:
        entry.labels.add(name=name, value=value)
    entry.samples.add(value=1.0, timestamp=1000)
    answer = remote_write(client, bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    assert answer.status_code == 400 and "appears twice" in answer.json()["error"]


def test_snappy_bomb_is_refused_by_its_declared_length_before_decompressing(client, publisher):
    bomb = bytes(cramjam.snappy.compress_raw(b"\0" * (1024 * 1024)))
    assert len(bomb) < 64 * 1024
    answer = remote_write(client, bomb)
    assert answer.status_code == 413 and "decodes to 1048576 bytes" in answer.json()["error"]


def test_oversized_body_is_413(client, publisher):
    assert remote_write(client, b"x" * (65 * 1024)).status_code == 413


def post_json(client, body, **headers):
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        "/v1/metrics",
        content=content,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", **headers},
    )


def test_json_samples_become_one_message_in_milliseconds(client, publisher):
    answer = post_json(client, [{"labels": UP, "samples": [[2.5, 7.0], [1.0, 6.0]]}])
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2 and answer.json()["series"] == 1
    assert answer.json()["event_ids"] == [publisher.sent[0][1].id]
    [batch] = sent_batches(publisher)
    assert batch.series[0].timestamps_ms.tolist() == [1000, 2500] and batch.series[
        0
    ].values.tolist() == [6.0, 7.0]


def test_json_nan_value_is_dropped_and_counted(client, publisher):
    answer = post_json(client, '[{"labels": {"__name__": "up"}, "samples": [[1, NaN], [2, 1.0]]}]')
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1 and answer.json()["dropped"] == {
        "non_finite": 1,
        "duplicate": 0,
    }


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ("[{not json", 400, "not valid JSON"),
        ('[{"labels": {"__name__": "up"}, "samples": [[NaN, 1.0]]}]', 422, "not a finite number"),
        (
            '[{"labels": {"__name__": "up"}, "samples": [[Infinity, 1.0]]}]',
            422,
            "not a finite number",
        ),
        ('[{"labels": {"job": "x"}, "samples": [[1, 1.0]]}]', 422, "no __name__"),
        ('[{"labels": {"__name__": "up"}, "samples": [[1]]}]', 422, "samples"),
        ('{"labels": {}}', 422, "valid array"),
    ],
)
def test_bad_json_samples_are_refused_with_a_clear_message(
    client, publisher, body, status, fragment
):
    answer = post_json(client, body)
    assert answer.status_code == status and fragment in answer.json()["error"]
    assert publisher.sent == []


def test_json_intake_needs_the_json_content_type_and_credentials(client, publisher):
    assert post_json(client, [], **{"Content-Type": "text/plain"}).status_code == 415
    assert post_json(client, [], Authorization="Bearer nope").status_code == 401


@pytest.mark.parametrize(
    "data",
    [
        {"series": [{"key": "k", "labels": {}, "t": [1, 2], "v": [1.0]}]},
        {"series": [{"key": "k", "labels": {}, "t": ["x"], "v": [1.0]}]},
        {"series": [{"key": "k", "labels": {}, "t": [[1]], "v": [[1.0]]}]},
        {"series": [{"key": "k", "t": [1], "v": [1.0]}]},
        {"nothing": []},
    ],
)
def test_a_malformed_broker_message_is_invalid_input_not_a_crash(data):
    from pipeline.errors import InvalidInput

    with pytest.raises(InvalidInput):
        SampleBatch.from_data(data)
