"""A job run every interval on a daemon thread of the worker parent, until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class PeriodicJob:
    """Runs `job` every `interval_s`; a failing run is logged as `failure_event` and tried again next time.

    Sweepers and publishers whose dependency may be down (broker, database, CloudWatch) keep
    the worker running and catch up once it answers again.
    """

    def __init__(self, job: Callable[[], object], *, interval_s: float, name: str, log: Any,
                 failure_event: str, immediately: bool = False) -> None:
        self._job, self._interval_s, self._name = job, interval_s, name
        self._log, self._failure_event, self._immediately = log, failure_event, immediately
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        if self._immediately:
            self._run()
        while not self._stop.wait(self._interval_s):
            self._run()

    def _run(self) -> None:
        try:
            self._job()
        except Exception as exc:  # noqa: BLE001 - logged; the next interval tries again
            self._log.warning(self._failure_event, error=repr(exc))
