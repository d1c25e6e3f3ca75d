"""Celery settings derived from the product's settings; nothing here reads the environment.

`smartcloudops.bootstrap` calls `celery_settings(settings)` and applies the result to the app.
"""

from __future__ import annotations

from typing import Any

from adapters.routing import ROUTES, task_queues
from config.settings import Settings


def celery_settings(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings."""
    queues = settings.queues
    conf: dict[str, Any] = {
        "broker_url": settings.broker,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": settings.broker_publish_timeout_s,
        "broker_transport_options": _transport_options(settings),
        "broker_pool_limit": 16,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        # Ack after the handler ran, and requeue a message whose worker process died under it:
        # handlers are idempotent, so redelivery is safe and nothing is lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": settings.worker_prefetch,
        "worker_concurrency": settings.worker_concurrency,
        # A guard, not a budget: a child that grew past it (a leak, a huge batch) is replaced after its task.
        "worker_max_memory_per_child": settings.worker_max_memory_mb * 1024 or None,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        # Flower and the task monitor see every task from the moment a worker receives it. (The
        # "sent" event is off: it doubles the broker writes of every webhook request.)
        "worker_send_task_events": True,
        "task_send_sent_event": False,
        "task_track_started": True,
        "task_default_queue": queues.events,
        "task_queues": task_queues(queues),
        "task_routes": {name: {"queue": getattr(queues, route)} for name, route in ROUTES.items()},
        "task_create_missing_queues": False,
    }
    return conf


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.is_embedded:
        # kombu's SQLAlchemy transport hands these to create_engine: wait for SQLite's write lock.
        return {"connect_args": {"timeout": 30}}
    return {
        # A message a worker took but never acked (its worker was SIGKILLed) is visible again after this.
        "visibility_timeout": settings.broker_visibility_timeout_s,
        # Sweep for such messages often enough that recovery follows the timeout, not kombu's 100 s default.
        "unacked_restore_interval": max(1, min(10, settings.broker_visibility_timeout_s // 2)),
        "unacked_restore_throttle": 1,
        # The restore sweep's lock: kombu keeps it 300 s, so a worker SIGKILLed during a sweep (as one
        # starting up often is) stopped every restore for five minutes. A sweep takes milliseconds.
        "unacked_mutex_expire": 10,
        "socket_connect_timeout": settings.broker_publish_timeout_s,
        "socket_timeout": max(settings.broker_publish_timeout_s, 5.0),
    }
