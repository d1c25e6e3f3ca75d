"""A worker starts Celery's worker with the options its command line passed, without loading that command line.

Celery's command line (`app.worker_main`) loads click-repl, prompt_toolkit and every
`celery.commands` plugin (Flower and Tornado): ~15 MB of each worker process of `up`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from config.settings import Settings
from smartcloudops.bootstrap import celery_app
from smartcloudops.commands.runtime import run_celery_worker

pytestmark = pytest.mark.timeout(120)


class Started(Exception):
    """Raised by the recording Worker instead of starting a worker."""


def options_passed(app, run) -> dict:
    """The keyword arguments `run` gives `app.Worker` (recorded, no worker is started)."""
    seen = {}
    original = type(app).Worker

    def record(**options):
        seen.update(options)
        raise Started

    type(app).Worker = property(lambda _: record)
    try:
        with pytest.raises(Started):
            run()
    finally:
        type(app).Worker = original
    return seen


@pytest.mark.parametrize(("pool", "level"), [("prefork", "WARNING"), ("threads", "INFO"), ("solo", "ERROR")])
def test_the_worker_gets_the_options_celerys_command_line_gave_it(tmp_path, pool, level) -> None:
    app = celery_app(Settings(data_dir=tmp_path))
    quiet = ["--quiet"] if level in ("WARNING", "ERROR") else []
    argv = [*quiet, "worker", "--queues", "alerts,risk", "--concurrency", "3", "--pool", pool, "--loglevel", level,
            "--task-events", "--hostname", f"smartcloudops-{os.getpid()}@%h", "--without-mingle", "--without-gossip"]
    by_command_line = options_passed(app, lambda: app.worker_main(argv))
    direct = options_passed(app, lambda: run_celery_worker(app, queues="alerts,risk", concurrency=3, pool=pool,
                                                           loglevel=level))
    # Options left out take the app's configuration, as the command line's defaults did.
    assert {name: value for name, value in by_command_line.items() if name in direct} == direct
    defaults = {name: value for name, value in by_command_line.items() if name not in direct}
    assert set(defaults) <= {"detach", "prefetch_multiplier", "time_limit", "soft_time_limit", "max_tasks_per_child",
                             "pool_start_method", "max_memory_per_child", "exclude_queues", "include", "umask",
                             "heartbeat_interval", "autoscale", "beat", "schedule_filename", "scheduler", "executable",
                             "pool_cls"}
    assert defaults.get("detach") is False and defaults.get("beat") is None and defaults.get("autoscale") is None


WORKER = textwrap.dedent("""
    import json, sys
    import celery.apps.worker

    def report(self):
        loaded = sorted({n.split(".")[0] for n in sys.modules} & {"click_repl", "prompt_toolkit", "flower", "tornado"})
        print(json.dumps({"loaded": loaded, "queues": sorted(self.app.amqp.queues)}))

    celery.apps.worker.Worker.start = report
    from smartcloudops.cli import main
    sys.exit(main(["worker", "--queues", "metrics", "--pool", "solo", "--concurrency", "1"]))
""")


def test_a_worker_process_never_loads_celerys_command_line(tmp_path) -> None:
    env = {**os.environ, "SCO_DATA_DIR": str(tmp_path), "SCO_LOG_LEVEL": "WARNING", "SCO_WORKER_METRICS_PORT": "0"}
    for name in ("SCO_BROKER_URL", "SCO_DATABASE_URL", "SCO_REDIS_URL"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert "metrics" in report["queues"]
