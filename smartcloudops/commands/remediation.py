"""`remediation expire` and `remediation killswitch`: operator commands that need no HTTP server."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from smartcloudops.bootstrap import settings_from_environment


def register(subparsers: argparse._SubParsersAction) -> None:
    remediation = subparsers.add_parser("remediation", help="remediation runs and the kill switch")
    actions = remediation.add_subparsers(
        dest="remediation_command", required=True, metavar="ACTION"
    )
    expire = actions.add_parser(
        "expire", help="end every run whose approval deadline has passed (run it from cron)"
    )
    expire.set_defaults(func=expire_command)
    switch = actions.add_parser("killswitch", help="engage or release the global kill switch")
    switch.add_argument("state", choices=("engage", "release"))
    switch.add_argument(
        "--actor", required=True, help="who is doing this (recorded in the audit row)"
    )
    switch.add_argument("--reason", default="", help="why (recorded in the audit row)")
    switch.set_defaults(func=killswitch_command)


def expire_command(_: argparse.Namespace) -> int:
    from smartcloudops.bootstrap import bootstrap
    from services.remediation import expire_due

    runtime = bootstrap(settings_from_environment())
    try:
        expired = expire_due(runtime.remediation, now=datetime.now(UTC))
    finally:
        runtime.close()
    print(json.dumps({"expired_runs": expired}))
    return 0


def killswitch_command(args: argparse.Namespace) -> int:
    from pipeline.events import new_trace_id
    from smartcloudops.bootstrap import bootstrap
    from services.remediation import set_kill_switch

    runtime = bootstrap(settings_from_environment())
    engaged = args.state == "engage"
    try:
        set_kill_switch(
            runtime.remediation,
            engaged=engaged,
            actor=args.actor[:128],
            reason=args.reason[:1000],
            trace_id=new_trace_id(),
            now=datetime.now(UTC),
        )
    finally:
        runtime.close()
    print(json.dumps({"kill_switch": "engaged" if engaged else "released"}))
    return 0
