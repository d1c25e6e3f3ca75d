"""Metric sample intake: Prometheus remote write 1.0 and a JSON form, onto the `metrics` queue.

Rules, beyond those of `pipeline.metric_events` (which both share):
- Auth is the webhook's (bearer token or the basic pair Prometheus `remote_write` can send).
- Remote write needs `Content-Encoding: snappy` and `Content-Type: application/x-protobuf`
  (a `proto=` parameter, as remote write 2.0 sends, must name `prometheus.WriteRequest`), else
  415. `X-Prometheus-Remote-Write-Version` may be absent (older agents omit it); when present
  it must be a 0.1.x version, else 415, so a 2.0 sender learns it must fall back to 1.0.
- Bad snappy, bad protobuf, a series without `__name__`, a bad label, an out-of-range
  timestamp: 400 for remote write (Prometheus does not retry a 4xx, and it should not);
  the JSON form answers 400 for malformed JSON and 422 for JSON of the wrong shape.
- 2xx (204 for remote write, as Prometheus expects; 202 for JSON) only once every message
  of the request is on the broker; 503 with Retry-After when the broker is down.
- One broker message per request (cut at `metrics_max_samples_per_message` samples).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import UTC, datetime
from typing import Annotated

import cramjam
import structlog
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumers.alertmanager import describe_errors
from consumers.publisher import publish as publish_event
from consumers.http import HttpError, endpoint, read_body, require_json, trace_id_of
from pipeline.errors import InvalidInput, TransientError
from pipeline.events import EVENT_NAMESPACE, CloudEvent, envelope
from pipeline.metric_events import (
    MAX_TIMESTAMP_MS,
    METRIC_SAMPLES_RECEIVED,
    SampleBatch,
    check_labels,
    check_timestamp_ms,
    merge_series,
    seconds_to_ms,
    split,
)
from adapters.observability import metrics

log = structlog.get_logger("consumers.metrics")

SCORE_METRICS_BATCH = "metrics.score_batch"
REMOTE_WRITE_SOURCE = "urn:smartcloudops:prometheus-remote-write"
JSON_SOURCE = "urn:smartcloudops:metrics-json"
SUPPORTED_RW_VERSION_PREFIX = "0.1."
PROTOBUF = "application/x-protobuf"


class JsonSeries(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], str]
    samples: list[tuple[float, float]] = Field(max_length=1_000_000)


_JSON_LIST = TypeAdapter(list[JsonSeries])


def decode_remote_write(body: bytes, max_decoded_bytes: int) -> SampleBatch:
    """A snappy-compressed WriteRequest as a normalised batch; InvalidInput says what is wrong."""
    # protobuf on the first remote-write request (~2.5 MB): a server fed JSON samples never loads it
    from google.protobuf.message import DecodeError

    from consumers.remote_write_pb import WriteRequest

    payload = _decompress(body, max_decoded_bytes)
    try:
        request = WriteRequest.FromString(payload)
    except DecodeError as exc:
        raise InvalidInput(f"body is not a protobuf WriteRequest: {exc}") from exc
    parts = []
    for series in request.timeseries:
        labels = check_labels([(label.name, label.value) for label in series.labels])
        timestamps = [check_timestamp_ms(sample.timestamp, labels) for sample in series.samples]
        parts.append((labels, timestamps, [sample.value for sample in series.samples]))
    return merge_series(parts)


def decode_json_samples(body: bytes) -> SampleBatch:
    """`[{"labels": {...}, "samples": [[ts_seconds, value], ...]}]` as a normalised batch."""
    try:
        items = _JSON_LIST.validate_json(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedSamples(f"body is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise InvalidInput(describe_errors(exc)) from exc
    parts = []
    for item in items:
        labels = check_labels(list(item.labels.items()))
        parts.append(
            (
                labels,
                [_json_timestamp_ms(ts, labels) for ts, _ in item.samples],
                [value for _, value in item.samples],
            )
        )
    return merge_series(parts)


def _json_timestamp_ms(seconds: float, labels: dict[str, str]) -> int:
    # Range first: a finite 1e308 s would overflow on its way to milliseconds.
    if math.isfinite(seconds) and not 0 <= seconds <= MAX_TIMESTAMP_MS / 1000:
        raise InvalidInput(f"series {labels.get('__name__', '')[:64]!r}: timestamp {seconds!r} s is outside 1970..9999")
    return seconds_to_ms(seconds, labels)


class MalformedSamples(InvalidInput):
    """The JSON body does not parse at all (400, not 422)."""


def _decompress(body: bytes, max_decoded_bytes: int) -> bytes:
    try:
        declared = cramjam.snappy.decompress_raw_len(body)
        if declared > max_decoded_bytes:
            raise BodyTooLarge(
                f"snappy body decodes to {declared} bytes, above the limit of {max_decoded_bytes}"
            )
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise InvalidInput(f"body is not snappy block-compressed data: {exc}") from exc


class BodyTooLarge(InvalidInput):
    """The decoded body would exceed its limit (413)."""


def routes(deps) -> list[Route]:  # type: ignore[no-untyped-def]  # consumers.app.ApiDeps (import cycle)
    """The intake endpoints, wired to the deps' publisher and settings."""
    settings = deps.settings
    queue = settings.queues.metrics

    async def publish(batch: SampleBatch, source: str, body: bytes, trace_id: str) -> list[str]:
        events = _events(batch, source, body, trace_id, settings.metrics_max_samples_per_message)
        try:
            for event in events:
                await publish_event(deps.publisher, SCORE_METRICS_BATCH, event)
        except TransientError as exc:
            metrics.publish_failures.labels(queue).inc()
            log.warning("metrics.broker_unavailable", trace_id=trace_id, error=str(exc))
            raise HttpError(503, "broker unavailable, retry later", {"Retry-After": "5"}) from exc
        metrics.events_published.labels(METRIC_SAMPLES_RECEIVED, queue).inc(len(events))
        log.info(
            "metrics.accepted",
            trace_id=trace_id,
            source=source,
            series=len(batch.series),
            samples=batch.sample_count,
            messages=len(events),
            dropped_non_finite=batch.dropped.non_finite,
            dropped_duplicate=batch.dropped.duplicate,
        )
        return [event.id for event in events]

    @endpoint
    async def remote_write(request: Request) -> Response:
        _require_remote_write_headers(request)
        body = await read_body(request, settings.metrics_max_body_bytes)
        batch = _decoded(
            lambda: decode_remote_write(body, settings.metrics_max_decoded_bytes), malformed=400
        )
        await publish(batch, REMOTE_WRITE_SOURCE, body, trace_id_of(request))
        return Response(status_code=204)

    @endpoint
    async def json_samples(request: Request) -> Response:
        require_json(request)
        body = await read_body(request, settings.metrics_max_body_bytes)
        batch = _decoded(lambda: decode_json_samples(body), malformed=422)
        trace_id = trace_id_of(request)
        event_ids = await publish(batch, JSON_SOURCE, body, trace_id)
        return JSONResponse(
            {
                "accepted": batch.sample_count,
                "series": len(batch.series),
                "dropped": {
                    "non_finite": batch.dropped.non_finite,
                    "duplicate": batch.dropped.duplicate,
                },
                "event_ids": event_ids,
                "trace_id": trace_id,
            },
            status_code=202,
        )

    return [
        Route("/api/v1/write", remote_write, methods=["POST"]),
        Route("/v1/metrics", json_samples, methods=["POST"]),
    ]


def _decoded(decode, *, malformed: int) -> SampleBatch:  # type: ignore[no-untyped-def]
    try:
        return decode()
    except BodyTooLarge as exc:
        raise HttpError(413, str(exc)) from exc
    except MalformedSamples as exc:
        raise HttpError(400, str(exc)) from exc
    except InvalidInput as exc:
        raise HttpError(malformed, str(exc)) from exc


def _require_remote_write_headers(request: Request) -> None:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding != "snappy":
        raise HttpError(415, f"Content-Encoding must be snappy, got {encoding or 'none'!r}")
    media, _, params = request.headers.get("content-type", "").partition(";")
    if media.strip().lower() != PROTOBUF:
        raise HttpError(415, f"Content-Type must be {PROTOBUF}, got {media.strip() or 'none'!r}")
    proto = dict(_param(p) for p in params.split(";") if "=" in p).get("proto")
    if proto not in (None, "prometheus.WriteRequest"):
        raise HttpError(
            415, f"only remote write 1.0 (prometheus.WriteRequest) is accepted, got proto={proto}"
        )
    version = request.headers.get("x-prometheus-remote-write-version")
    if version is not None and not version.strip().startswith(SUPPORTED_RW_VERSION_PREFIX):
        raise HttpError(
            415, f"remote write version {version!r} is not supported; send 0.1.0 (remote write 1.0)"
        )


def _param(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip().lower(), value.strip().strip('"')


def _events(
    batch: SampleBatch, source: str, body: bytes, trace_id: str, max_samples: int
) -> list[CloudEvent]:
    # The same body gives the same ids, so a retried request is recognisable in logs and traces.
    digest = hashlib.sha256(body).hexdigest()
    now = datetime.now(UTC)
    return [
        envelope(
            METRIC_SAMPLES_RECEIVED,
            source,
            chunk.to_data(),
            event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"metrics|{digest}|{index}")),
            trace_id=trace_id,
            now=now,
        )
        for index, chunk in enumerate(split(batch, max_samples))
    ]
