"""Publishing commands onto the Celery broker (Redis, or the embedded SQLAlchemy transport)."""

from __future__ import annotations

from celery import Celery

from config.settings import QueueNames
from pipeline.errors import TransientError
from pipeline.events import CloudEvent
from tasks.errors import is_transient
from tasks.routing import ROUTES


class CeleryPublisher:
    """Sends one Celery message per event; raises TransientError when the broker cannot take it."""

    def __init__(self, app: Celery, queues: QueueNames, timeout_s: float = 2.0) -> None:
        self._app = app
        self._queues = queues
        self._timeout_s = timeout_s

    def publish(self, task: str, event: CloudEvent) -> None:
        """Publish and return only once the broker has the message."""
        queue = getattr(self._queues, ROUTES[task])
        try:
            self._app.send_task(
                task, args=[event.to_dict()],
                # The default exchange delivers straight to the queue: no binding lookup per message.
                exchange="", routing_key=queue, queue=queue,
                # Celery would otherwise saferepr the whole batch into a header on every publish.
                argsrepr=f"[<{event.type} {event.id}>]", kwargsrepr="{}",
                # Answer fast (503) and let the sender retry, rather than hang the request.
                retry=False,
            )
        except Exception as exc:  # noqa: BLE001 - classified just below
            if is_transient(exc) or isinstance(exc, OSError):
                raise TransientError(f"broker unreachable: {exc}") from exc
            raise

    def ping(self) -> None:
        """Raise TransientError unless the broker answers within the timeout."""
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2,
                                             timeout=self._timeout_s)
                connection.default_channel  # noqa: B018 - opening a channel proves the transport works
        except Exception as exc:  # noqa: BLE001
            raise TransientError(f"broker unreachable: {exc}") from exc
