"""Anomaly detection: streaming features, the learned model and scoring."""
