"""The `smartcloudops` command: serve, worker, up, demo, db, audit, and the capability sub-commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from pipeline.errors import ConfigurationError

# Modules under smartcloudops.commands, each exposing register(subparsers).
COMMAND_MODULES = ("runtime", "db", "audit", "demo", "model", "nlu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartcloudops",
        description="Prometheus alerts, metric streams and chat commands into safe, audited actions on AWS.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"smartcloudops.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"smartcloudops.commands.{name}":
                continue  # a capability that is not installed in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"smartcloudops: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
