"""SmartCloudOps: Prometheus alerts, metric streams and chat commands into safe, audited actions."""
