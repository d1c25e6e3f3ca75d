"""`db upgrade` / `db current`: Alembic migrations of the store."""

from __future__ import annotations

import argparse

from config.settings import Settings
from smartcloudops.bootstrap import database, settings_from_environment


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database migrations")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=upgrade_command)
    current = actions.add_parser("current", help="print the database's schema revision")
    current.set_defaults(func=current_command)


def migrate_to_head(settings: Settings, revision: str = "head") -> str | None:
    from adapters.db.migrate import current_revision, upgrade

    engine = database(settings)
    try:
        upgrade(engine, revision)
        return current_revision(engine)
    finally:
        engine.dispose()


def upgrade_command(args: argparse.Namespace) -> int:
    settings = settings_from_environment()
    revision = migrate_to_head(settings, args.revision)
    print(f"database at revision {revision}")
    return 0


def current_command(_: argparse.Namespace) -> int:
    from adapters.db.migrate import current_revision

    engine = database(settings_from_environment())
    print(current_revision(engine) or "empty (run `smartcloudops db upgrade`)")
    engine.dispose()
    return 0
