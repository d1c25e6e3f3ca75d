"""The Celery application. Importing it opens no connection and imports no task module.

The worker imports the modules named in `include` when it starts, so no task module imports
this one back. `smartcloudops.bootstrap` applies the settings (`celeryconfig.celery_settings`)
and tells `tasks.runtime` how to build a process's runtime.
"""

from celery import Celery

TASK_MODULES = (
    "tasks.alerts",
    "tasks.metrics",
    "tasks.remediation",
    "tasks.chat",
    "tasks.escalation",
    "tasks.signals",  # process hooks: runtime per child, logging, metrics
)

app = Celery("smartcloudops", include=list(TASK_MODULES), set_as_current=True)
