"""The Celery application. Importing it opens no connection."""

from celery import Celery

app = Celery("smartcloudops")
app.config_from_object("celeryconfig")

import tasks.alerts  # noqa: E402,F401  (registers the tasks on the app)
import tasks.metrics  # noqa: E402,F401
import tasks.remediation  # noqa: E402,F401
import tasks.chat  # noqa: E402,F401
import tasks.signals  # noqa: E402,F401  (process hooks: runtime per child, logging, metrics)
