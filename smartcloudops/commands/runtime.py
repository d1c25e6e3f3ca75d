"""`serve`, `worker` and `up`: the long-running processes."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

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

    uvicorn.run(build_http_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
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
    start_worker_services(settings, app)

    queues = args.queues or ",".join(settings.queues.all())
    concurrency = args.concurrency or settings.worker_concurrency
    quiet = ["--quiet"] if settings.log_level in ("WARNING", "ERROR") else []
    argv = [*quiet, "worker", "--queues", queues, "--concurrency", str(concurrency), "--pool", args.pool,
            "--loglevel", settings.log_level, "--task-events", "--hostname", f"smartcloudops-{os.getpid()}@%h",
            "--without-mingle", "--without-gossip"]
    from adapters.observability import metrics

    for queue in queues.split(","):
        metrics.queue_consumers.labels(queue).set(1)
    app.worker_main(argv)
    return 0


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
    from smartcloudops.commands.db import migrate_to_head

    settings = settings_from_environment()
    configure_logging(settings.log_level, settings.log_format)
    migrate_to_head(settings)
    queues = settings.queues
    pipeline_queues = ",".join(q for q in queues.all() if q != queues.metrics)
    # Metric windows are scored in order only if one process consumes the metrics queue: a later
    # message scored first would make the earlier one's points stale (they are dropped and counted).
    metrics_port = settings.worker_metrics_port + 1 if settings.worker_metrics_port else 0
    workers = [
        _start_worker(["--queues", pipeline_queues]),
        _start_worker(["--queues", queues.metrics, "--concurrency", "1"],
                      {"SCO_WORKER_METRICS_PORT": str(metrics_port)}),
    ]
    try:
        return serve_command(argparse.Namespace())
    finally:
        for worker in workers:
            stop_process(worker)


def _start_worker(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smartcloudops", "worker", *args],
                            env={**os.environ, **(env or {})}, preexec_fn=_die_with_parent)


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
