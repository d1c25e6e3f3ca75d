"""`audit verify`: walk the hash chain and name the first bad row."""

from __future__ import annotations

import argparse
import json

from smartcloudops.bootstrap import database, settings_from_environment


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="the audit trail")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="verify the hash chain; exit 1 naming the first bad row")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from adapters.db import audit_writer

    engine = database(settings_from_environment())
    with engine.connect() as conn:
        report = audit_writer.verify_chain(conn)
    engine.dispose()
    if args.json:
        print(json.dumps({"ok": report.ok, "checked": report.checked, "first_bad_seq": report.first_bad_seq,
                          "reason": report.reason}))
    elif report.ok:
        print(f"audit chain intact: {report.checked} rows verified")
    else:
        print(f"audit chain BROKEN at row seq={report.first_bad_seq}: {report.reason} "
              f"({report.checked} rows before it verified)")
    return 0 if report.ok else 1
