"""The ``eligo`` command line: one entry point, one sub-command per job.

Each sub-command lives in ``eligo.commands.<name>`` and exposes
``register(subparsers)``; heavy imports happen inside the handlers so that
``eligo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from eligo import __version__

COMMAND_MODULES = (
    "eligo.commands.version",
    "eligo.commands.doctor",
    "eligo.commands.demo",
    "eligo.commands.data",
    "eligo.commands.train",
    "eligo.commands.registers",
    "eligo.commands.nir",
    "eligo.commands.build",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eligo",
        description="On-chip online training of spiking neural networks from event-camera streams.",
    )
    parser.add_argument("--version", action="version", version=f"eligo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
