"""`serve`, `worker` and `up`: the long-running processes."""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from config.settings import Settings
from pipeline.errors import ConfigurationError
from smartcloudops.bootstrap import settings_from_environment
from adapters.observability.logging import configure_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the HTTP server (webhooks, intake, API)")
    serve.set_defaults(func=serve_command)
    worker = subparsers.add_parser("worker", help="run a Celery worker on the pipeline's queues")
    worker.add_argument("--queues", help="comma-separated queues (default: all pipeline queues)")
    worker.add_argument("--concurrency", type=int, help="worker processes (default: SCO_WORKER_CONCURRENCY)")
    worker.add_argument("--pool", default="prefork", choices=("prefork", "solo", "threads"))
    worker.set_defaults(func=worker_command)
    up = subparsers.add_parser("up", help="migrate, then run the server and a worker together (one machine)")
    up.set_defaults(func=up_command)
    flower = subparsers.add_parser("flower", help="run Flower (basic auth) against the same broker")
    flower.set_defaults(func=flower_command)


def serve_command(_: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from_environment()
    configure_logging(settings.log_level, settings.log_format)
    settings.webhook_secret()  # create the generated secret before serving, not on the first request
    from smartcloudops.bootstrap import build_http_app

    app = build_http_app(settings)
    # Everything built so far lives as long as the server. Frozen, it is out of the collector's reach:
    # a full collection then walks only what requests allocate (~1 ms) instead of every imported
    # module's objects (40-70 ms measured, a pause every request in flight waits out: the p99).
    gc.freeze()
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False, server_header=False, timeout_graceful_shutdown=10,
                timeout_keep_alive=settings.http_keep_alive_s)
    return 0


def worker_command(args: argparse.Namespace) -> int:
    from adapters.observability.worker_metrics import prepare_multiprocess_dir

    settings = settings_from_environment()
    configure_logging(settings.log_level, settings.log_format)
    prepare_multiprocess_dir(settings.resolved_data_dir)  # before prometheus_client is first imported
    from smartcloudops.bootstrap import configure_worker, start_worker_services

    app = configure_worker(settings)
    queues, batching = alert_queue_split(args.queues or ",".join(settings.queues.all()), settings)
    if settings.queues.chat in queues.split(","):
        # Trained (once per data dir and code) before anything is forked or consumed: a worker that
        # consumes is not seconds from ready, and the training child dies with this process.
        from adapters.nlu_model import ensure_intent_model

        ensure_intent_model(settings.resolved_data_dir, preexec_fn=_die_with_parent)
    alert_consumer = AlertConsumerProcess(app, settings) if batching else None
    if alert_consumer is not None and queues:
        alert_consumer.start()  # forked before Celery or any side job starts a thread
    start_worker_services(settings, app)
    if alert_consumer is not None and not queues:  # `--queues events`: this process is the consumer
        return alert_consumer.run_here()

    if settings.queues.chat in queues.split(","):
        from smartcloudops.bootstrap import use_trained_intent_classifier

        use_trained_intent_classifier(settings)  # numpy only: this worker never imports scikit-learn or SciPy
    if settings.queues.metrics in queues.split(","):
        # A worker that scores metrics loads its model now, not on the first message: a bad model path
        # fails at start, the first message is not seconds late, and a prefork child shares the modules.
        # The runtime scores with this same object (`shared_detector` loads once per process).
        from adapters.detector_files import shared_detector

        shared_detector(settings.anomaly_model_path)
    concurrency = args.concurrency or settings.worker_concurrency
    from adapters.observability import metrics

    for queue in [*queues.split(","), *([settings.queues.events] if alert_consumer else [])]:
        metrics.queue_consumers.labels(queue).set(1)
    # Everything imported so far stays out of the collector's reach: a prefork child forked from here
    # then shares those pages with its parent instead of copying them on the first collection.
    gc.freeze()
    return run_celery_worker(app, queues=queues, concurrency=concurrency, pool=args.pool,
                             loglevel=settings.log_level)


def run_celery_worker(app: object, *, queues: str, concurrency: int, pool: str, loglevel: str) -> int:
    """What `celery worker -Q QUEUES -c N -P POOL -l LEVEL -E --without-mingle --without-gossip` runs.

    The worker itself, not Celery's command line (`app.worker_main`): that loads click-repl,
    prompt_toolkit and every `celery.commands` plugin (Flower, Tornado), ~15 MB a worker process
    that no worker uses. The options are the ones the command line passed.
    """
    from celery.concurrency import get_implementation
    from celery.utils.log import mlevel
    from celery.utils.nodenames import default_nodename, host_format

    worker = app.Worker(  # type: ignore[attr-defined]
        hostname=host_format(default_nodename(f"smartcloudops-{os.getpid()}@%h")), pool=get_implementation(pool),
        loglevel=mlevel(loglevel), logfile=None, pidfile=None, statedb=None, no_color=False,
        quiet=loglevel in ("WARNING", "ERROR"), queues=queues.split(","), concurrency=concurrency,
        task_events=True, without_mingle=True, without_gossip=True, without_heartbeat=False, purge=False,
        optimization="default",
    )
    worker.start()
    return worker.exitcode or 0


def alert_queue_split(queues: str, settings: Settings) -> tuple[str, bool]:
    """(the queues left for Celery, whether the alert consumer takes the events queue instead).

    On Redis + PostgreSQL (`Settings.batches_alerts`) alert messages are committed many at a time
    by `tasks.alert_consumer`, in a child the worker forks; the embedded default keeps the task.
    """
    names = [name for name in queues.split(",") if name]
    if not settings.batches_alerts or settings.queues.events not in names:
        return queues, False
    return ",".join(name for name in names if name != settings.queues.events), True


class AlertConsumerProcess:
    """The alert consumer (tasks.alert_consumer) in a child of the worker: forked again if it dies.

    The worker's warm shutdown (SIGTERM) stops it too: it commits the batch in hand, and closing its
    channel puts back every message it took and did not acknowledge.
    """

    def __init__(self, app: object, settings: Settings) -> None:
        self._app, self._settings = app, settings
        self._pid = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        from celery import signals

        # Loaded and frozen before the fork, these pages stay shared with the worker, which loads them too.
        importlib.import_module("tasks.alert_consumer")
        gc.freeze()
        self._pid = self._fork()
        self._watcher = threading.Thread(target=self._watch, name="alert-consumer-watch", daemon=True)
        self._watcher.start()
        signals.worker_shutdown.connect(self._on_worker_shutdown, weak=False)

    def run_here(self) -> int:
        """Run the consumer in this process until SIGTERM or SIGINT."""
        from smartcloudops.bootstrap import alert_runtime
        from tasks import runtime
        from tasks.alert_consumer import AlertBatchConsumer

        runtime.configure(functools.partial(alert_runtime, self._settings))
        runtime._runtime = None  # noqa: SLF001 - an inherited engine shares the parent's sockets: drop it unclosed
        consumer = AlertBatchConsumer(self._app, self._settings)  # type: ignore[arg-type]
        signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
        signal.signal(signal.SIGINT, lambda *_: consumer.stop())
        consumer.run()
        return 0

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        if self._watcher is None:
            return
        try:
            os.kill(self._pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self._watcher.join(timeout_s)
        if self._watcher.is_alive():  # its batch is not acknowledged: the broker hands it out again
            os.kill(self._pid, signal.SIGKILL)
            self._watcher.join(5)

    def _on_worker_shutdown(self, **_: object) -> None:
        self.stop(self._settings.shutdown_timeout_s)

    def _fork(self) -> int:
        pid = os.fork()
        if pid:
            return pid
        _exit_child_after(self.run_here)  # the consumer, and nothing of the parent's Celery worker

    def _watch(self) -> None:
        import structlog

        log = structlog.get_logger("worker")
        while True:
            _, status = os.waitpid(self._pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if self._stopping.is_set() or code == 0:  # told to stop (SIGTERM to the worker's group)
                return
            log.error("alert_consumer.exited", pid=self._pid, code=code)
            if self._stopping.wait(1.0):
                return
            self._pid = self._fork()


def flower_command(_: argparse.Namespace) -> int:
    settings = settings_from_environment()
    configure_logging(settings.log_level, settings.log_format)
    from smartcloudops.bootstrap import celery_app

    app = celery_app(settings)
    app.start(["flower", f"--address={settings.flower_host}", f"--port={settings.flower_port}",
               f"--basic-auth={settings.flower_username}:{settings.flower_secret()}", "--persistent=False",
               "--purge_offline_workers=60"])
    return 0


def up_command(_: argparse.Namespace) -> int:
    settings = settings_from_environment()
    configure_logging(settings.log_level, settings.log_format)
    _migrate_in_child()
    if settings.is_embedded:
        _declare_queues_in_child(settings)
    from adapters.nlu_model import ensure_intent_model

    # The chat classifier's weights, trained in a child if this data dir has none for this code: before
    # the fork, so no worker starts consuming while another is still seconds from ready.
    ensure_intent_model(settings.resolved_data_dir, preexec_fn=_die_with_parent)
    _preload_shared_libraries()
    # Fork the workers from here rather than exec fresh interpreters: the libraries imported so far are
    # then shared pages (frozen, so no collection copies them) instead of one private copy per process.
    gc.freeze()
    workers = [_fork_worker(args, env) for args, env in up_workers(settings)]
    gc.unfreeze()
    supervisor = Supervisor(workers, settings.shutdown_timeout_s)
    # uvicorn catches SIGTERM, shuts down, then raises the signal again; with the default action that
    # kills this process before `finally` runs. This handler forwards it to the workers instead.
    signal.signal(signal.SIGTERM, supervisor.forward)
    try:
        serve_command(argparse.Namespace())
    finally:
        supervisor.stop()
    return 0


def up_workers(settings: Settings) -> list[tuple[list[str], dict[str, str]]]:
    """The workers `up` runs beside the server: (worker arguments, extra environment) each.

    People's chat commands have a worker of their own (threads: a command mostly waits on the database
    and the answer's POST), so a burst of alert batches never queues ahead of them. The pipeline's
    worker stays prefork: a thread pool there saved two processes (~90 MB PSS) but let `make demo`
    stop with a remediation step taken and not finished (tests/stories/test_story_demo_twice.py).
    Metric windows are scored in order only if one process consumes the metrics queue (a later
    message scored first would make the earlier one's points stale), so that worker is a single solo
    process. SCO_CHAT_WORKERS runs more than one chat worker (a process of threads is held to one core).
    """
    queues = settings.queues
    own_queue = {queues.metrics, queues.chat}
    pipeline_queues = ",".join(q for q in queues.all() if q not in own_queue)
    port = settings.worker_metrics_port

    def metrics_port(offset: int) -> dict[str, str]:
        return {"SCO_WORKER_METRICS_PORT": str(port + offset if port else 0)}

    threads = str(max(4, settings.worker_concurrency))
    chat = [  # SCO_WORKER_CONCURRENCY sizes the chat worker's database pool to its threads
        (["--queues", queues.chat, "--pool", "threads", "--concurrency", threads],
         {**metrics_port(2 + k), "SCO_WORKER_CONCURRENCY": threads})
        for k in range(settings.chat_workers)
    ]
    return [
        (["--queues", pipeline_queues], {}),
        *chat,
        (["--queues", queues.metrics, "--pool", "solo", "--concurrency", "1"], metrics_port(1)),
    ]


def _migrate_in_child() -> None:
    """Migrate in a short-lived child, so Alembic and every table's model never weigh on the server."""
    done = subprocess.run([sys.executable, "-m", "smartcloudops", "db", "upgrade"], stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ConfigurationError(f"migrating the database failed (exit {done.returncode}); see above")


def _declare_queues_in_child(settings: Settings) -> None:
    """The embedded broker's tables and queues, made by one short-lived child before anything else starts.

    kombu's SQLAlchemy transport creates its tables, then a queue's row (a SELECT, then an INSERT),
    serialised only within one process. The server (its queue-depth metric declares every queue when
    registered) and the workers (each its own queues) did it at the same moment on a fresh data dir,
    and one of them could fail (IntegrityError: UNIQUE constraint failed: kombu_queue.name); a worker
    stops on that at start ("Unrecoverable error"), and its queue is never served. Made here first,
    every later declaration finds its row. A child, so this process forks no open broker connection.
    """
    pid = os.fork()
    if pid == 0:
        _exit_child_after(functools.partial(_declare_queues, settings))
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ConfigurationError(f"declaring the queues on {settings.broker} failed; see above")


def _declare_queues(settings: Settings) -> int:
    from adapters.broker import declare_queues
    from smartcloudops.bootstrap import celery_app

    declare_queues(celery_app(settings), settings.queues)
    return 0


# What the processes of `up` import anyway, loaded once before the fork: each page is then shared by
# the server and every worker (and frozen, so no collection copies it) instead of copied into each
# worker that imports it after the fork. That includes what only the workers use (numpy, boto3, the
# worker half of Celery, the domain): PSS divides a shared page among its sharers, so the server's
# share of them costs less than a private copy in each worker (measured: `benchmarks/bench_up.py`).
# Nothing here may import prometheus_client, which a worker must load only after choosing its
# multiprocess directory, nor scikit-learn or onnxruntime (one worker's, if any, and large).
SHARED_LIBRARIES = ("celery", "celery.app.base", "kombu", "kombu.transport.redis", "sqlalchemy", "sqlalchemy.orm",
                    "redis", "structlog", "httpx", "yaml", "pydantic", "psycopg", "encodings.idna")
WORKER_MODULES = (
    # libraries
    "numpy", "rapidfuzz", "boto3", "botocore.client", "httpcore", "wsgiref.simple_server",
    # Celery's worker (its command line is never loaded: run_celery_worker)
    "celery.apps.worker", "celery.worker.consumer", "celery.worker.control", "celery.worker.components",
    "celery.worker.strategy", "celery.worker.autoscale", "celery.app.trace", "celery.app.amqp", "celery.app.control",
    "celery.app.events", "celery.app.log", "celery.app.routes", "celery.backends.base", "celery.events",
    "celery.concurrency.prefork", "celery.concurrency.thread", "kombu.asynchronous", "kombu.pidbox", "kombu.mixins",
    "billiard.popen_fork", "billiard.synchronize", "billiard.sharedctypes", "celeryconfig",
    # the domain, the use cases and the adapters the workers build
    "pipeline.nlu.understanding", "pipeline.anomaly.detector", "pipeline.anomaly.features", "pipeline.learning.advice",
    "pipeline.learning.rates", "pipeline.remediation.audit", "services.chat", "services.remediation",
    "services.alerts", "services.metrics", "services.escalation", "config.catalog", "config.policy", "config.roles",
    "config.vocabulary", "config.escalation", "adapters.aws", "adapters.db.alert_store", "adapters.db.chat_store",
    "adapters.db.outbox_relay", "adapters.db.queries", "adapters.db.approval_store", "adapters.db.assessment_store",
    "adapters.db.anomaly_store", "adapters.db.anomaly_evidence", "adapters.db.anomaly_queries",
    "adapters.db.audit_monitor", "adapters.db.chat_queries", "adapters.db.incident_facts",
    "adapters.db.kill_switch_store", "adapters.db.outcome_store", "adapters.db.remediation_queries",
    "adapters.db.run_store", "adapters.guard_store", "adapters.chat_context", "adapters.chat_answers",
    "adapters.slack_responder", "adapters.alertmanager_silences", "adapters.pager", "adapters.dead_letters",
    "adapters.series_state", "adapters.kombu_redis", "tasks.runtime",
)


def _preload_shared_libraries() -> None:
    for name in (*SHARED_LIBRARIES, *WORKER_MODULES):
        try:
            importlib.import_module(name)
        except ImportError:
            continue


class ForkedWorker:
    """A worker forked from `up` (the subset of Popen's interface the supervisor uses)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]


def _fork_worker(args: list[str], env: dict[str, str]) -> ForkedWorker:
    pid = os.fork()
    if pid:
        return ForkedWorker(pid)

    def run() -> int:  # a worker, as `smartcloudops worker ARGS` would run it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.update(env)
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers(dest="command"))
        return int(worker_command(parser.parse_args(["worker", *args])) or 0)

    _exit_child_after(run)


def _exit_child_after(body: Callable[[], int]) -> NoReturn:
    """In a forked child: run `body` and exit with its code. A child never returns into the parent's code."""
    code = 1
    try:
        _die_with_parent()
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever it was, the child ends here
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Supervisor:
    """The workers of `up`: told to stop when `up` is, and waited for (bounded) before `up` exits."""

    def __init__(self, workers: list[ForkedWorker], timeout_s: float) -> None:
        self.workers = workers
        self.timeout_s = timeout_s

    def forward(self, signum: int, _frame: object) -> None:
        """SIGTERM: each worker starts its warm shutdown (running tasks finish) while the server drains."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    def stop(self) -> None:
        self.forward(signal.SIGTERM, None)
        deadline = time.monotonic() + self.timeout_s
        for worker in self.workers:
            try:
                worker.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Its unfinished messages are not acknowledged: the broker hands them out again.
                worker.kill()
                worker.wait()


def _die_with_parent() -> None:
    """Linux: the worker `up` starts gets SIGTERM when `up` dies, even by SIGKILL (no orphaned workers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_process(process: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """Ask a child to stop (SIGTERM: Celery's warm shutdown), then kill it if it does not."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
