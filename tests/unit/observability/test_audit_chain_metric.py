"""The audit-chain gauge exists only where the chain was verified: no process exports a 0 it never computed."""

import os
import subprocess
import sys
import textwrap

from adapters.observability import metrics


def _samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]


def test_a_process_that_never_verified_exports_no_chain_status():
    fresh = metrics.AuditChainStatus()
    assert fresh.collect() == []


def test_a_verified_chain_exports_one_and_its_time():
    status = metrics.AuditChainStatus()
    status.record(True, 1700000000.0)
    families = {f.name: f.samples[0].value for f in status.collect()}
    assert families == {"smartcloudops_audit_chain_ok": 1.0,
                        "smartcloudops_audit_chain_last_verified_timestamp_seconds": 1700000000.0}


def test_api_process_metrics_have_no_audit_chain_zero():
    """The API imports the metrics module but never verifies: its /metrics must not say 0."""
    code = textwrap.dedent("""
        from prometheus_client import REGISTRY, generate_latest
        from adapters.observability import metrics
        print(generate_latest(REGISTRY).decode())
    """)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert _samples(out, "smartcloudops_audit_chain_ok") == []


def test_prefork_children_do_not_export_their_own_zero(tmp_path):
    """A worker parent that verified serves exactly one sample, 1, however many children imported metrics."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    child = "from adapters.observability import metrics; metrics.audit_rows.labels('x').inc()"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", child], env=env, check=True)
    parent = textwrap.dedent("""
        from prometheus_client import generate_latest
        from adapters.observability import metrics
        from adapters.observability.worker_metrics import worker_registry
        metrics.audit_chain.record(True, 1.0)
        print(generate_latest(worker_registry()).decode())
    """)
    out = subprocess.run([sys.executable, "-c", parent], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert _samples(out, "smartcloudops_audit_chain_ok") == ["smartcloudops_audit_chain_ok 1.0"]
