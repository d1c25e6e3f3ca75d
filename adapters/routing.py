"""The one table of which task serves which message, and on which queue it travels."""

from __future__ import annotations

from kombu import Exchange, Queue

from config.settings import QueueNames

# task name (an imperative command) -> attribute of QueueNames
ROUTES: dict[str, str] = {
    "alerts.record_batch": "events",
    "metrics.score_batch": "metrics",
    "chat.handle_command": "chat",
    "risk.assess_incident": "risk",
    "risk.assess_incidents": "risk",
    "remediation.request": "remediation",
    "remediation.guard_step": "remediation",
    "remediation.execute_step": "remediation",
    "remediation.verify_step": "remediation",
    "remediation.record_step": "remediation",
    "remediation.decide": "remediation",
    "remediation.start_run": "remediation",
    "remediation.tell_run_outcome": "remediation",
    "remediation.post_reply": "remediation",
    "remediation.kill_switch": "remediation",
    "escalation.page_tier": "remediation",
}


def task_queues(names: QueueNames) -> list[Queue]:
    """Declared queues: each stage's queue, plus the parked dead-letter queue."""
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in names.all()]
    queues.append(dead_letter_queue(names))
    return queues


def dead_letter_queue(names: QueueNames) -> Queue:
    return Queue(names.dead_letter, Exchange(names.dead_letter, type="direct"), routing_key=names.dead_letter)
