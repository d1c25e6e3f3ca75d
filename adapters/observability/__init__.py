"""Logs, metrics and traces of SmartCloudOps itself."""
