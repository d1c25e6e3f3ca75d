"""Worker-side periodic jobs: run every interval, survive a failing run, stop when told."""

import threading

from adapters.periodic import PeriodicJob


class RecordingLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))


def test_a_failing_run_is_logged_and_the_next_interval_runs_again():
    log, runs, done = RecordingLog(), [], threading.Event()

    def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ConnectionError("broker down")
        done.set()

    periodic = PeriodicJob(job, interval_s=0.01, name="test-job", log=log, failure_event="job.failed")
    thread = periodic.start()
    assert done.wait(5)
    periodic.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert [event for event, _ in log.events] == ["job.failed"]
    assert "broker down" in log.events[0][1]["error"]


def test_immediately_runs_once_before_the_first_wait():
    ran = threading.Event()
    periodic = PeriodicJob(ran.set, interval_s=3600, name="test-job", log=RecordingLog(),
                           failure_event="job.failed", immediately=True)
    thread = periodic.start()
    assert ran.wait(5)
    periodic.stop()
    thread.join(5)
    assert not thread.is_alive()
