"""The worker process's runtime, built lazily once per (forked) process by the composition root.

`smartcloudops.bootstrap` calls `configure` with a factory before the worker starts; each
prefork child then builds its own runtime (its own engine and connections) on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the type only: the composition root builds it, tasks never import the root
    from smartcloudops.bootstrap import Runtime

_lock = threading.Lock()
_factory: Callable[[], Runtime] | None = None
_runtime: Runtime | None = None


def configure(factory: Callable[[], Runtime]) -> None:
    """Tell this process how to build its runtime (the worker command does, before it starts)."""
    global _factory
    with _lock:
        _factory = factory


def runtime() -> Runtime:
    """This process's runtime; built on first use, so a prefork child builds its own engine."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                if _factory is None:
                    raise RuntimeError("tasks.runtime is not configured: start workers with `smartcloudops worker`")
                _runtime = _factory()
    return _runtime


def install(value: Runtime | None) -> None:
    """Replace the runtime (tests, or after fork to drop an inherited engine)."""
    global _runtime
    with _lock:
        if _runtime is not None and value is not _runtime:
            _runtime.close()
        _runtime = value
