"""Verifying the audit chain continuously, so Prometheus sees a broken or unverified trail."""

from __future__ import annotations

import threading
import time

import structlog
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from pipeline.audit import GENESIS_HASH, VerifyReport

log = structlog.get_logger("audit")


class AuditChainMonitor:
    """Verifies new rows every interval and the whole chain every `full_every` runs; exports the outcome."""

    def __init__(self, engine: Engine, *, interval_s: float, full_every: int = 12) -> None:
        self._engine, self._interval_s, self._full_every = engine, interval_s, full_every
        self._verified: tuple[int, str] = (0, GENESIS_HASH)
        self._runs = 0
        self._stop = threading.Event()

    def run_once(self) -> VerifyReport:
        """Verify (incrementally, or fully every `full_every` runs) and set the gauges."""
        from adapters.observability import metrics

        start = (0, GENESIS_HASH) if self._runs % self._full_every == 0 else self._verified
        self._runs += 1
        with self._engine.connect() as conn:
            report = audit_writer.verify_chain(conn, after=start)
        if report.ok:
            self._verified = (start[0] + report.checked, report.last_hash) if report.checked else start
        else:
            log.error("audit.chain_broken", first_bad_seq=report.first_bad_seq, reason=report.reason)
        metrics.audit_chain.record(report.ok, time.time())
        return report

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="audit-chain-monitor", daemon=True)
        thread.start()
        return thread

    def _loop(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - an unreachable database is not a broken chain
                log.warning("audit.verify_failed", error=repr(exc))
            if self._stop.wait(self._interval_s):
                return
