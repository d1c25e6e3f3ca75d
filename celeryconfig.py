"""Celery settings, read from `config.settings` (the environment): nothing here opens a connection."""

from config.settings import load_settings
from tasks.routing import ROUTES, task_queues

_settings = load_settings()
_queues = _settings.queues

broker_url = _settings.broker
broker_connection_retry_on_startup = True
broker_connection_timeout = _settings.broker_publish_timeout_s
if _settings.is_embedded:
    # kombu's SQLAlchemy transport hands these to create_engine: wait for SQLite's write lock.
    broker_transport_options = {"connect_args": {"timeout": 30}}
else:
    broker_transport_options = {
        # A message a worker took but never acked (its worker was SIGKILLed) is visible again after this.
        "visibility_timeout": _settings.broker_visibility_timeout_s,
        # Sweep for such messages often enough that recovery follows the timeout, not kombu's 100 s default.
        "unacked_restore_interval": max(1, min(10, _settings.broker_visibility_timeout_s // 2)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": _settings.broker_publish_timeout_s,
        "socket_timeout": max(_settings.broker_publish_timeout_s, 5.0),
    }
broker_pool_limit = 16

task_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

# Ack after the handler ran, and requeue a message whose worker process died under it:
# handlers are idempotent, so redelivery is safe and nothing is lost.
task_acks_late = True
task_reject_on_worker_lost = True
task_acks_on_failure_or_timeout = True
worker_prefetch_multiplier = _settings.worker_prefetch
worker_concurrency = _settings.worker_concurrency
worker_hijack_root_logger = False
worker_redirect_stdouts = False

# Flower and the task monitor see every task from the moment a worker receives it. (The
# "sent" event is off: it doubles the broker writes of every webhook request.)
worker_send_task_events = True
task_send_sent_event = False
task_track_started = True

task_default_queue = _queues.events
task_queues = task_queues(_queues)
task_routes = {name: {"queue": getattr(_queues, route)} for name, route in ROUTES.items()}
task_create_missing_queues = False
