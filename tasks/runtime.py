"""The worker process's runtime, built lazily once per (forked) process."""

from __future__ import annotations

import threading

from smartcloudops.bootstrap import Runtime, bootstrap

_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime; built on first use, so a prefork child builds its own engine."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = bootstrap()
    return _runtime


def install(value: Runtime | None) -> None:
    """Replace the runtime (tests, or after fork to drop an inherited engine)."""
    global _runtime
    with _lock:
        if _runtime is not None and value is not _runtime:
            _runtime.close()
        _runtime = value
