"""`user create|link`: local accounts of the incident console (the embedded default's sign-in)."""

from __future__ import annotations

import argparse
import getpass
import os
from datetime import UTC, datetime, timedelta

from pipeline.errors import InvalidInput, NotFound
from pipeline.nlu.authz import Role
from smartcloudops.bootstrap import database, settings_from_environment

LINK_TTL = timedelta(minutes=30)


def register(subparsers: argparse._SubParsersAction) -> None:
    user = subparsers.add_parser("user", help="local accounts of the incident console")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="add an account (password from SCO_NEW_PASSWORD or a prompt)")
    create.add_argument("name")
    create.add_argument("--role", default="admin", choices=[r.label for r in Role if r is not Role.INGEST])
    create.add_argument("--no-password", action="store_true", help="sign in only with one-time links")
    create.set_defaults(func=create_command)
    link = actions.add_parser("link", help="print a one-time sign-in link (valid 30 minutes)")
    link.add_argument("name")
    link.set_defaults(func=link_command)


def _store():  # type: ignore[no-untyped-def]
    from adapters.db.console_store import ConsoleUserStore

    return ConsoleUserStore(database(settings_from_environment(), pool_size=1))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def create_command(args: argparse.Namespace) -> int:
    password = None
    if not args.no_password:
        password = os.environ.get("SCO_NEW_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
    try:
        _store().create(args.name, args.role, password, actor=_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        print(f"smartcloudops: {exc}")
        return 2
    print(f"console user {args.name!r} ({args.role}) created")
    return 0


def link_command(args: argparse.Namespace) -> int:
    settings = settings_from_environment()
    try:
        token = _store().issue_link(args.name, ttl=LINK_TTL, actor=_actor(), now=datetime.now(UTC))
    except NotFound as exc:
        print(f"smartcloudops: {exc}")
        return 1
    print(console_link(settings.http_host, settings.http_port, token))
    return 0


def console_link(host: str, port: int, token: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/console/link/{token}"
