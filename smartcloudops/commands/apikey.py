"""`apikey create|list|revoke`: per-client API keys, each bound to one role (the key is printed once)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime

from pipeline.errors import InvalidInput, NotFound
from pipeline.nlu.authz import Role
from smartcloudops.bootstrap import database, settings_from_environment


def register(subparsers: argparse._SubParsersAction) -> None:
    apikey = subparsers.add_parser("apikey", help="per-client API keys (Alertmanager, Prometheus, scripts)")
    actions = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key bound to a role; it is printed once")
    create.add_argument("--name", required=True, help="who the key is for, e.g. alertmanager")
    create.add_argument("--role", required=True, choices=[role.label for role in Role])
    create.set_defaults(func=create_command)
    listing = actions.add_parser("list", help="the keys (names, roles, prefixes; never the keys)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(func=list_command)
    revoke = actions.add_parser("revoke", help="end a key at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=revoke_command)


def _store():  # type: ignore[no-untyped-def]
    from adapters.db.api_key_store import ApiKeyStore

    return ApiKeyStore(database(settings_from_environment(), pool_size=1))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def create_command(args: argparse.Namespace) -> int:
    try:
        key = _store().create(args.name, args.role, actor=_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        print(f"smartcloudops: {exc}")
        return 2
    print(key)
    print(f"# API key {args.name!r} ({args.role}); shown once, store it in your client's secret store",
          flush=True)
    return 0


def list_command(args: argparse.Namespace) -> int:
    for info in _store().list(include_revoked=args.all):
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "live"
        print(f"{info.name}\t{info.role}\t{info.prefix}…\t{info.created_at:%Y-%m-%d %H:%M}\t"
              f"{info.created_by}\t{state}")
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    try:
        _store().revoke(args.name, actor=_actor(), now=datetime.now(UTC))
    except NotFound as exc:
        print(f"smartcloudops: {exc}")
        return 1
    print(f"revoked API key {args.name!r}")
    return 0
