"""A steady load of unique alerts for the fault suite, and what the store made of it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import sqlalchemy as sa

from adapters.db.schema import alerts
from smartcloudops.demo_payloads import alert, webhook
from tests.processes import Pipeline


class SteadyAlerts:
    """Posts one unique firing alert (its own incident) every `interval_s`; records every answer."""

    def __init__(self, pipeline: Pipeline, prefix: str, *, interval_s: float = 0.1) -> None:
        self.pipeline, self.prefix, self.interval_s = pipeline, prefix, interval_s
        self.accepted: list[str] = []
        self.answers: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = datetime.now(timezone.utc) - timedelta(minutes=5)

    def __enter__(self) -> SteadyAlerts:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with self.pipeline.client() as client:
            n = 0
            while not self._stop.is_set():
                name = f"{self.prefix}{n:05d}"
                body = webhook([alert(name, f"svc-{n:05d}", f"i-{n:012x}", status="firing",
                                      starts_at=self._start + timedelta(milliseconds=n))])
                try:
                    status: int | str = client.post("/v1/alerts/alertmanager", json=body).status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                self.answers[status] += 1
                if status == 202:
                    self.accepted.append(name)
                n += 1
                time.sleep(self.interval_s)


def stored_alertnames(engine: sa.Engine, prefix: str) -> Counter[str]:
    """How many alert rows each alertname of this load has (1 each: nothing lost, nothing duplicated)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts.c.alertname).where(alerts.c.alertname.like(f"{prefix}%"))).scalars()
        return Counter(rows)
