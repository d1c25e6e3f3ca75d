"""Fuzz every POST route: no answer is ever >= 500, and nothing accepted is a message the store cannot hold.

Hypothesis drives Starlette's TestClient with mutated valid payloads, hostile values (NUL, lone
surrogates, year 1/9999 with offsets, huge integers and floats, deep nesting) and raw bytes.
SCO_FUZZ_EXAMPLES sets the examples per route (default 700: 8 routes, over 5,000 requests in CI;
raise it to 12,500 for a 100,000-request run outside CI). CI runs a fixed, derandomized sequence;
SCO_FUZZ_RANDOM=1 draws a new one each run. The counts are printed at the end (pytest -s).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from urllib.parse import urlencode

import cramjam
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from config.settings import load_settings
from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from consumers.remote_write_pb import WriteRequest
from consumers.slack_signature import expected_signature
from pipeline import limits
from pipeline.events import ALERTMANAGER_BATCH, decode_alert_batch
from pipeline.metric_events import METRIC_SAMPLES_RECEIVED, SampleBatch
from pipeline.nlu.authz import Role, RoleBook
from pipeline.remediation import InMemoryGuardStore
from services.chat_reads import EdgeChatReads
from services.ports import InMemoryChatAnswers, InMemoryReplayGuard
from smartcloudops.demo_payloads import demo_story
from tests.unit.chat.chat_bench import Bench

EXAMPLES = int(os.environ.get("SCO_FUZZ_EXAMPLES", "700"))
TOKEN = "fuzz-token-for-the-fault-suite"
SECRET = "fuzz-slack-signing-secret-0123456"
KEY_LABELS = ("alertname", "service")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=os.environ.get("SCO_FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

REQUESTS: Counter[str] = Counter()
ACCEPTED: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


class WatchedReads:
    """The server's real chat reads (a handler on a migrated SQLite store); what they raise is a finding.

    The endpoint would only queue a line whose read raised, so the fuzz run looks here for it.
    """

    def __init__(self, reads: EdgeChatReads) -> None:
        self.reads, self.raised = reads, []

    def answer(self, event):
        try:
            return self.reads.answer(event)
        except Exception as exc:
            self.raised.append(f"{exc!r} for {event.data['text'][:200]!r}")
            raise


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    publisher = InMemoryPublisher()
    data_dir = tmp_path_factory.mktemp("fuzz")
    settings_ = load_settings(data_dir=data_dir, api_token=TOKEN, api_token_role="admin", webhook_token="webhook-token-only-for-ingest",
                              slack_signing_secret=SECRET, chat_response_url_hosts="hooks.slack.com",
                              max_body_bytes=256 * 1024)
    engine = create_engine(f"sqlite:///{data_dir / 'store.sqlite'}")
    upgrade(engine)
    reads = WatchedReads(EdgeChatReads(lambda: Bench(engine, None).handler))
    deps = ApiDeps(settings=settings_, publisher=publisher, kill_switch=InMemoryGuardStore(),
                   roles=RoleBook(users={"U02ALICE002": Role.APPROVER}, default=Role.APPROVER),
                   chat_replay_guard=InMemoryReplayGuard(time.time), chat_reads=reads,
                   chat_answers=InMemoryChatAnswers())
    with TestClient(create_app(deps), raise_server_exceptions=False) as client:
        yield client, publisher, reads
    engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    total = sum(REQUESTS.values())
    print(f"\nfuzz: {total} requests, {sum(ACCEPTED.values())} accepted, by route {dict(REQUESTS)}, "
          f"statuses {dict(sorted(STATUSES.items()))}")


# ----------------------------------------------------------------------------- values

HOSTILE_TEXT = st.sampled_from([
    "", "\x00", "a\x00b", "\ud800", "x\udfff", "\u2028", "é" * 300, "a" * 257, "s" * 4097, "\\", '"', "{",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "²", "٣", "9" * 30, "NaN",
])
TEXT = st.one_of(st.text(max_size=40), HOSTILE_TEXT, st.text(min_size=200, max_size=600))
TIMES = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "0001-01-01T00:30:00-01:00",
                     "9999-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999999+14:00",
                     "1969-12-31T23:59:59Z", "2026-11-27T10:00:00.123456789Z", "2026-11-27", "not a time", ""]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
NUMBERS = st.one_of(st.integers(), st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 5e-324]))
JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_ANY = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode() if depth % 2 else ('{"a":' * depth + "1" + "}" * depth).encode()


RAW_BODIES = st.one_of(st.binary(max_size=300), st.integers(min_value=2, max_value=5000).map(deep),
                       st.sampled_from([b"", b"null", b"[]", b"{}", b"\xff\xfe", b'{"a": 1e999}', b'"\\ud800"']))


def encode(value) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \\udxxx escapes


# ----------------------------------------------------------------------------- oracle

def check_accepted(task: str, event) -> None:
    """Nothing a route accepted may be a message a worker would fail to store."""
    envelope = event.to_dict()
    limits.check_json_value(envelope, "published event")  # NUL, surrogates, depth, BIGINT, finite floats
    json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    if event.type == ALERTMANAGER_BATCH:
        _, rejected = decode_alert_batch(event.data, KEY_LABELS)
        assert rejected == [], f"poison alert accepted: {rejected[0][1]}"
    elif event.type == METRIC_SAMPLES_RECEIVED:
        batch = SampleBatch.from_data(event.data)
        for series in batch.series:
            assert all(0 <= t <= 253_402_300_799_999 for t in series.timestamps_ms)
    if isinstance(event.data.get("incident_id"), int):
        assert 1 <= event.data["incident_id"] <= limits.BIGINT_MAX


def send(world, route: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    client, publisher, reads = world
    publisher.sent.clear()
    answer = client.post(path, content=body, headers=headers)
    assert reads.raised == [], reads.raised
    REQUESTS[route] += 1
    STATUSES[answer.status_code] += 1
    assert answer.status_code < 500, f"{path} answered {answer.status_code}: {answer.text[:300]} for {body[:300]!r}"
    if answer.status_code < 300:
        ACCEPTED[route] += 1
    for task, event in publisher.sent:
        check_accepted(task, event)


JSON_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


# ----------------------------------------------------------------------------- alertmanager

ALERT_FIELDS = st.sampled_from(["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
                                "fingerprint"])
PAYLOAD_FIELDS = st.sampled_from(["version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
                                  "externalURL", "alerts"])


@st.composite
def webhook_bodies(draw) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(RAW_BODIES)
    body = copy.deepcopy(draw(st.sampled_from([payload for _, payload in demo_story()])))
    for _ in range(draw(st.integers(1, 4))):
        alerts = body.get("alerts")
        if not (isinstance(alerts, list) and alerts and all(isinstance(a, dict) for a in alerts)):
            break  # a mutation replaced the alert list itself
        alert = draw(st.sampled_from(alerts))
        target = draw(st.sampled_from(["alert", "label", "payload", "times"]))
        if target == "alert":
            alert[draw(ALERT_FIELDS)] = draw(JSON_ANY)
        elif target == "label":
            labels = alert.setdefault("labels", {})
            if not isinstance(labels, dict):
                continue
            name = draw(st.one_of(st.sampled_from(["alertname", "service", "severity", "instance"]), TEXT))
            labels[name] = draw(st.one_of(TEXT, st.text(min_size=250, max_size=260)))
        elif target == "times":
            alert[draw(st.sampled_from(["startsAt", "endsAt"]))] = draw(TIMES)
        else:
            body[draw(PAYLOAD_FIELDS)] = draw(st.one_of(JSON_ANY, NUMBERS))
    return encode(body)


@FUZZ
@given(body=webhook_bodies())
def test_fuzz_alertmanager_webhook(world, body):
    send(world, "alertmanager", "/v1/alerts/alertmanager", body, JSON_HEADERS)


# ----------------------------------------------------------------------------- metrics

@st.composite
def json_samples(draw) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(RAW_BODIES)
    series = draw(st.lists(st.fixed_dictionaries({
        "labels": st.one_of(st.dictionaries(st.one_of(st.just("__name__"), TEXT), TEXT, max_size=4),
                            st.just({"__name__": "up"}), JSON_ANY),
        "samples": st.one_of(st.lists(st.tuples(NUMBERS, NUMBERS), max_size=5), JSON_ANY),
    }), max_size=3))
    return encode(series)


@FUZZ
@given(body=json_samples())
def test_fuzz_json_metrics(world, body):
    send(world, "metrics-json", "/v1/metrics", body, JSON_HEADERS)


@st.composite
def remote_write_bodies(draw) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return bytes(cramjam.snappy.compress_raw(draw(st.binary(max_size=200)))) if draw(st.booleans()) \
            else draw(st.binary(max_size=200))
    request = WriteRequest()
    for _ in range(draw(st.integers(0, 3))):
        series = request.timeseries.add()
        for name, value in draw(st.lists(st.tuples(st.one_of(st.just("__name__"), st.text(max_size=20)),
                                                   st.text(max_size=40)), max_size=4)):
            series.labels.add(name=name, value=value)
        for _ in range(draw(st.integers(0, 4))):
            series.samples.add(value=draw(st.floats()),
                               timestamp=draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)))
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


@FUZZ
@given(body=remote_write_bodies())
def test_fuzz_remote_write(world, body):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-protobuf",
               "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
    send(world, "remote-write", "/api/v1/write", body, headers)


# ----------------------------------------------------------------------------- chat

@st.composite
def chat_bodies(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(RAW_BODIES)
    body = {"user": draw(st.one_of(st.just("U02ALICE002"), TEXT)), "channel": draw(st.one_of(st.just("C0CHAN01"), TEXT)),
            "text": draw(st.one_of(st.just("status of incident 3"), TEXT, JSON_ANY))}
    if draw(st.booleans()):
        body[draw(TEXT)] = draw(JSON_ANY)
    if draw(st.booleans()):
        body["response_url"] = draw(st.one_of(st.just("https://hooks.slack.com/commands/T1/2/x"), TEXT))
    if draw(st.booleans()):  # a waiting caller: a read is answered by the server itself
        body["wait"] = draw(st.one_of(st.just(0.01), JSON_ANY))
    return encode(body)


@FUZZ
@given(body=chat_bodies())
def test_fuzz_chat_command(world, body):
    send(world, "chat-command", "/v1/chat/command", body, JSON_HEADERS)


@st.composite
def slack_forms(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300))
    fields = {"team_id": "T0001", "channel_id": "C0CHAN01", "user_id": "U02ALICE002", "user_name": "alice",
              "command": "/ops", "text": "status", "response_url": "https://hooks.slack.com/commands/T1/2/x",
              "trigger_id": draw(st.text(alphabet="0123456789abcdef", min_size=8, max_size=16))}
    for _ in range(draw(st.integers(1, 3))):
        fields[draw(st.sampled_from(list(fields) + ["extra"]))] = draw(TEXT)
    encoded = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()})
    if draw(st.booleans()):
        encoded += draw(st.sampled_from(["&text=%00", "&x=%ED%A0%80", "&&", "&=1", "&text=%FF%FE"]))
    return encoded.encode()


@FUZZ
@given(body=slack_forms(), signed=st.booleans())
def test_fuzz_slack_command(world, body, signed):
    now = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": now}
    headers["X-Slack-Signature"] = expected_signature(SECRET.encode(), now, body) if signed else "v0=00"
    send(world, "chat-slack", "/v1/chat/slack", body, headers)


# ----------------------------------------------------------------------------- remediation

INCIDENT_IDS = st.one_of(st.integers(min_value=-5, max_value=2**70).map(str), TEXT.filter(lambda t: "/" not in t
                         and "?" not in t and "#" not in t and t not in (".", "..")),
                         st.sampled_from(["1", str(2**63 - 1), str(2**63), str(2**64), "²", "٣", "0", "9" * 5000]))


@st.composite
def decision_bodies(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(RAW_BODIES)
    body = {"approver": draw(st.one_of(st.just("U02ALICE002"), TEXT, JSON_ANY)),
            "reason": draw(st.one_of(st.just("safe"), TEXT, JSON_ANY))}
    if draw(st.booleans()):
        body[draw(TEXT)] = draw(JSON_ANY)
    return encode(body)


@FUZZ
@given(incident=INCIDENT_IDS, body=decision_bodies())
def test_fuzz_approve(world, incident, body):
    path = "/v1/incidents/" + "".join(c if c.isalnum() else f"%{ord(c) % 256:02X}" for c in incident) + "/approve"
    send(world, "approve", path, body, JSON_HEADERS)


@FUZZ
@given(incident=INCIDENT_IDS, body=decision_bodies())
def test_fuzz_deny(world, incident, body):
    path = "/v1/incidents/" + "".join(c if c.isalnum() else f"%{ord(c) % 256:02X}" for c in incident) + "/deny"
    send(world, "deny", path, body, JSON_HEADERS)


@st.composite
def kill_switch_bodies(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(RAW_BODIES)
    body = {"engaged": draw(st.one_of(st.booleans(), JSON_ANY)),
            "actor": draw(st.one_of(st.just("U01ADMIN001"), TEXT, JSON_ANY)),
            "reason": draw(st.one_of(st.just("drill"), TEXT))}
    return encode(body)


@FUZZ
@given(body=kill_switch_bodies())
def test_fuzz_kill_switch(world, body):
    send(world, "killswitch", "/v1/killswitch", body, JSON_HEADERS)


def test_the_fuzz_run_reached_its_budget():
    """Runs last in this module: every route was exercised its full number of examples."""
    routes = {"alertmanager", "metrics-json", "remote-write", "chat-command", "chat-slack", "approve", "deny",
              "killswitch"}
    assert set(REQUESTS) == routes
    assert all(REQUESTS[route] >= EXAMPLES for route in routes), dict(REQUESTS)
    assert sum(REQUESTS.values()) >= 8 * EXAMPLES
