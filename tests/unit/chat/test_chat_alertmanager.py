"""The Alertmanager silence mirror speaks API v2: equality matchers, RFC 3339 times, expiry by id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.alertmanager_silences import AlertmanagerSilences
from pipeline.errors import PermanentError, TransientError

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def alertmanager(status=200, body=None):
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body if body is not None else {"silenceID": "7f3c-a1"})

    client = httpx.Client(transport=httpx.MockTransport(handle))
    return AlertmanagerSilences(client, "http://alertmanager:9093/"), seen


def test_a_silence_is_posted_with_equality_matchers_for_the_fields_given():
    silences, seen = alertmanager()

    silence_id = silences.create(
        alertname="HighCPU",
        service=None,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        created_by="chat:U1",
        comment="c",
    )

    assert silence_id == "7f3c-a1"
    [request] = seen
    assert (request.method, str(request.url)) == (
        "POST",
        "http://alertmanager:9093/api/v2/silences",
    )
    assert json.loads(request.content) == {
        "matchers": [{"name": "alertname", "value": "HighCPU", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-11-27T12:00:00+00:00",
        "endsAt": "2026-11-27T14:00:00+00:00",
        "createdBy": "chat:U1",
        "comment": "c",
    }


def test_expiry_deletes_by_id_and_a_silence_already_gone_is_fine():
    silences, seen = alertmanager(status=404, body={})

    silences.expire("7f3c-a1")

    assert (seen[0].method, seen[0].url.path) == ("DELETE", "/api/v2/silence/7f3c-a1")


def test_an_id_that_is_not_an_alertmanager_id_is_never_put_in_a_url():
    silences, seen = alertmanager()

    with pytest.raises(PermanentError):
        silences.expire("../status")
    assert seen == []


@pytest.mark.parametrize(("status", "error"), [(503, TransientError), (400, PermanentError)])
def test_5xx_is_transient_and_4xx_permanent(status, error):
    silences, _ = alertmanager(status=status, body={})

    with pytest.raises(error):
        silences.create(
            alertname="A",
            service="s",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            created_by="x",
            comment="",
        )
