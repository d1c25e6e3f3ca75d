"""Worker process hooks: logging set-up and a fresh runtime in every forked child."""

from __future__ import annotations

from celery import signals

from tasks import runtime as runtime_module


@signals.worker_process_init.connect
def _fresh_runtime_in_child(**_: object) -> None:
    # An engine inherited across fork shares sockets with the parent; drop it unclosed.
    runtime_module._runtime = None  # noqa: SLF001 - the module owns this global


@signals.setup_logging.connect
def _keep_our_logging(**_: object) -> None:
    # Connecting this signal stops Celery from replacing the handlers `smartcloudops worker` set up.
    return None
