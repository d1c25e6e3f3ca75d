"""Verifying the audit chain continuously, so Prometheus sees a broken or unverified trail."""

from __future__ import annotations

import threading
import time

import structlog
from sqlalchemy.engine import Engine

from adapters.periodic import PeriodicJob
from adapters.db import audit_writer
from pipeline.audit import GENESIS_HASH, VerifyReport

log = structlog.get_logger("audit")


class AuditChainMonitor:
    """Verifies new rows every interval and the whole chain every `full_every` runs; exports the outcome."""

    def __init__(self, engine: Engine, *, interval_s: float, full_every: int = 12) -> None:
        self._engine, self._interval_s, self._full_every = engine, interval_s, full_every
        self._verified: tuple[int, str] = (0, GENESIS_HASH)
        self._runs = 0
        # An unreachable database is not a broken chain: the failure is logged, not exported.
        self._job = PeriodicJob(self.run_once, interval_s=interval_s, name="audit-chain-monitor", log=log,
                                failure_event="audit.verify_failed", immediately=True)

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
        return self._job.start()

    def stop(self) -> None:
        self._job.stop()
