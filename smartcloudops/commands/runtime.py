"""`serve`, `worker` and `up`: the long-running processes."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from config.settings import load_settings
from smartcloudops.observability.logging import configure_logging


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


def build_api():  # type: ignore[no-untyped-def]
    """The ASGI app wired to the real broker and store."""
    import sqlalchemy as sa

    from prometheus_client import REGISTRY

    from adapters.broker import QueueDepthCollector, publisher_for
    from consumers.app import ApiDeps, create_app
    from smartcloudops.bootstrap import bootstrap
    from tasks.app import app as celery_app

    runtime = bootstrap()

    def database_ping() -> None:
        with runtime.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    publisher = publisher_for(celery_app, runtime.settings.queues, runtime.settings.broker,
                              runtime.settings.broker_publish_timeout_s)
    REGISTRY.register(QueueDepthCollector(celery_app, runtime.settings.queues))
    return create_app(ApiDeps(settings=runtime.settings, publisher=publisher, incidents=runtime.incidents,
                              database_ping=database_ping, extras=_api_extras(runtime)))


def _api_extras(runtime) -> dict:  # type: ignore[no-untyped-def]
    """Read ports and role books of the capabilities, for their routes."""
    extras: dict = {}
    if runtime.remediation is not None:
        extras["remediation"] = runtime.remediation.queries
        extras["roles"] = runtime.remediation.roles
        if runtime.settings.redis_url:  # shared guard state; an in-process store would be the API's alone
            extras["remediation_guards"] = runtime.remediation.guards
    return extras


def serve_command(_: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.webhook_secret()  # create the generated secret before serving, not on the first request
    uvicorn.run(build_api(), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False, server_header=False, timeout_graceful_shutdown=10)
    return 0


def worker_command(args: argparse.Namespace) -> int:
    from smartcloudops.observability.worker_metrics import prepare_multiprocess_dir

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    prepare_multiprocess_dir(settings.resolved_data_dir)  # before prometheus_client is first imported
    from tasks.app import app

    _serve_worker_metrics(settings)
    _publish_queue_depth(settings, app)
    _monitor_audit_chain(settings)

    queues = args.queues or ",".join(settings.queues.all())
    concurrency = args.concurrency or settings.worker_concurrency
    quiet = ["--quiet"] if settings.log_level in ("WARNING", "ERROR") else []
    argv = [*quiet, "worker", "--queues", queues, "--concurrency", str(concurrency), "--pool", args.pool,
            "--loglevel", settings.log_level, "--task-events", "--hostname", f"smartcloudops-{os.getpid()}@%h",
            "--without-mingle", "--without-gossip"]
    from smartcloudops.observability import metrics

    for queue in queues.split(","):
        metrics.queue_consumers.labels(queue).set(1)
    app.worker_main(argv)
    return 0


def _serve_worker_metrics(settings) -> None:  # type: ignore[no-untyped-def]
    import structlog

    from smartcloudops.observability.worker_metrics import serve_worker_metrics

    if not settings.worker_metrics_port:
        return
    try:
        serve_worker_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    except OSError as exc:  # another worker on this machine has the port: run without, say so
        structlog.get_logger("worker").warning("worker.metrics_unavailable", port=settings.worker_metrics_port,
                                                error=str(exc))


def _monitor_audit_chain(settings) -> None:  # type: ignore[no-untyped-def]
    if not settings.audit_verify_interval_s:
        return
    from adapters.db.audit_monitor import AuditChainMonitor
    from adapters.db.engine import create_engine

    AuditChainMonitor(create_engine(settings.database, pool_size=1), interval_s=settings.audit_verify_interval_s).start()


def _publish_queue_depth(settings, app) -> None:  # type: ignore[no-untyped-def]
    if not settings.cloudwatch_deployment:
        return
    import boto3

    from adapters.broker import QueueDepthCollector
    from adapters.cloudwatch import QueueDepthPublisher

    client = boto3.client("cloudwatch", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    QueueDepthPublisher(QueueDepthCollector(app, settings.queues).depths, client,
                        namespace=settings.cloudwatch_namespace, deployment=settings.cloudwatch_deployment,
                        queues=settings.queues.all(), interval_s=settings.cloudwatch_interval_s).start()


def flower_command(_: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    from tasks.app import app

    app.start(["flower", f"--address={settings.flower_host}", f"--port={settings.flower_port}",
               f"--basic-auth={settings.flower_username}:{settings.flower_secret()}", "--persistent=False",
               "--purge_offline_workers=60"])
    return 0


def up_command(_: argparse.Namespace) -> int:
    from smartcloudops.commands.db import migrate_to_head

    settings = load_settings()
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
