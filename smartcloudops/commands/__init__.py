"""Sub-commands of the `smartcloudops` CLI.

Each module here exposes `register(subparsers)`, which adds its argparse sub-parser(s)
and sets `func` on them: `func(args) -> int` is called with the parsed arguments and
returns the process exit code.
"""
