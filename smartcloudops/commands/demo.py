"""`demo`: run the pipeline, post a realistic alert story through the real webhook, show what it recorded."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from smartcloudops.bootstrap import settings_from_environment
from smartcloudops.commands.runtime import stop_process

READY_TIMEOUT_S = 90.0
SETTLE_TIMEOUT_S = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="start server and worker, post a realistic alert story, print "
                                              "the incidents and audit trail it produced")
    demo.set_defaults(func=demo_command)


def demo_command(_: argparse.Namespace) -> int:
    from smartcloudops.commands.audit import verify_command
    from smartcloudops.commands.db import migrate_to_head
    from smartcloudops.demo_payloads import demo_story

    settings = settings_from_environment()
    migrate_to_head(settings)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SCO_HTTP_HOST": "127.0.0.1", "SCO_HTTP_PORT": str(port), "SCO_LOG_LEVEL": "WARNING"}
    print(f"== starting server and worker (broker {_shown(settings.broker)}, store {_shown(settings.database)})")
    run = uuid.uuid4().hex[:8]
    # The webhook token may only ingest: the demo reads with an API key of its own, revoked after.
    keys, key_name = _key_store(settings), f"demo-{run}"
    reader = keys.create(key_name, "viewer", actor="cli:demo", now=datetime.now(UTC))
    pipeline = subprocess.Popen([sys.executable, "-m", "smartcloudops", "up"], env=env)
    try:
        with httpx.Client(base_url=base, timeout=10.0, headers={"Authorization": f"Bearer {reader}"}) as client:
            _wait_ready(client, pipeline)
            ingest = {"Authorization": f"Bearer {settings.webhook_secret()}"}
            for title, payload in demo_story(run=run):
                answer = client.post("/v1/alerts/alertmanager", json=payload, headers=ingest)
                print(f"-> {title}: HTTP {answer.status_code} {answer.json()}")
                answer.raise_for_status()
            incidents = _settled_incidents(client, run)
            _print_incidents(client, incidents)
    finally:
        stop_process(pipeline)
        keys.revoke(key_name, actor="cli:demo", now=datetime.now(UTC))
    print("== audit verify")
    verified = verify_command(argparse.Namespace(json=False))
    _print_console_link(settings)
    return verified


def _print_console_link(settings) -> None:  # type: ignore[no-untyped-def]
    """The console's address and a one-time sign-in link for the demo admin (made on first use)."""
    from adapters.db.console_store import ConsoleUserStore
    from smartcloudops.bootstrap import database
    from smartcloudops.commands.user import LINK_TTL, console_link

    users = ConsoleUserStore(database(settings, pool_size=1))
    if not users.exists("demo-admin"):
        users.create("demo-admin", "admin", None, actor="cli:demo", now=datetime.now(UTC))
    token = users.issue_link("demo-admin", ttl=LINK_TTL, actor="cli:demo", now=datetime.now(UTC))
    print(f"\n== incident console (start it with `make up`): "
          f"http://{settings.http_host}:{settings.http_port}/console")
    print(f"   one-time sign-in for demo-admin (30 min): {console_link(settings.http_host, settings.http_port, token)}")


def _key_store(settings):  # type: ignore[no-untyped-def]
    from adapters.db.api_key_store import ApiKeyStore
    from smartcloudops.bootstrap import database

    return ApiKeyStore(database(settings, pool_size=1))


def _wait_ready(client: httpx.Client, pipeline: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if pipeline.poll() is not None:
            raise SystemExit(f"the pipeline exited with code {pipeline.returncode} before it was ready")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the pipeline was not ready within {READY_TIMEOUT_S:.0f}s")


def _settled_incidents(client: httpx.Client, run: str) -> list[dict[str, Any]]:
    """Wait until the worker has recorded the story: checkout resolved, payments open."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        ours = [i for i in client.get("/v1/incidents", params={"limit": 50}).json()["items"]
                if _from_run(client, i, run)]
        states = {(i["service"], i["status"]) for i in ours}
        if {("checkout", "resolved"), ("payments", "open")} <= states:
            return sorted(ours, key=lambda i: i["id"])
        time.sleep(0.5)
    raise SystemExit("the worker did not record the demo's alerts in time; is the worker running?")


def _from_run(client: httpx.Client, incident: dict[str, Any], run: str) -> bool:
    detail = client.get(f"/v1/incidents/{incident['id']}").json()
    return any(a["labels"].get("demo_run") == run for a in detail["alerts"])


def _print_incidents(client: httpx.Client, incidents: list[dict[str, Any]]) -> None:
    print("\n== incidents")
    print(f"{'id':>5}  {'status':9} {'service':10} {'alertname':14} {'alerts':>6} {'firing':>6}  opened_at")
    for incident in incidents:
        print(f"{incident['id']:>5}  {incident['status']:9} {incident['service']:10} {incident['alertname']:14} "
              f"{incident['alert_count']:>6} {incident['firing']:>6}  {incident['opened_at']}")
    print("\n== audit trail")
    for incident in incidents:
        for row in client.get(f"/v1/incidents/{incident['id']}").json()["timeline"]:
            what = row["data"].get("labels", {}).get("instance") or row["data"].get("status", "")
            print(f"  #{row['seq']:<5} incident {row['incident_id']:<4} {row['kind']:18} {what:22} "
                  f"trace={row['trace_id'][:12]} hash={row['hash'][:16]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shown(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
