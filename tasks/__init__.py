"""Celery tasks: thin adapters that decode a message, call the domain, persist and publish the next step."""
