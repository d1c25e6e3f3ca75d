"""The `smartcloudops` command: serve, worker, up, demo, db, audit, and the capability sub-commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from pipeline.errors import ConfigurationError

# Sub-command -> module under smartcloudops.commands exposing register(subparsers). Only the module of
# the command being run is imported, so `audit verify` does not pay for loading scikit-learn.
COMMANDS = {
    "serve": "runtime", "worker": "runtime", "up": "runtime", "flower": "runtime",
    "db": "db", "audit": "audit", "demo": "demo",
    "model": "model", "evaluate": "model", "nlu": "nlu", "remediation": "remediation",
    "apikey": "apikey", "user": "user",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's module is loaded."""
    parser = argparse.ArgumentParser(
        prog="smartcloudops",
        description="Prometheus alerts, metric streams and chat commands into safe, audited actions on AWS.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        try:
            module = importlib.import_module(f"smartcloudops.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"smartcloudops.commands.{name}":
                continue  # a capability that is not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"smartcloudops: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
